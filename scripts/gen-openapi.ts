// Writes docs/openapi.json from the route schemas (the same TypeBox schemas that validate requests).
// test/http/openapi.test.ts fails when the committed file drifts from the code.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../src/config/config.ts';
import { buildContainer } from '../src/container.ts';
import { initDataDir } from '../src/ops/setup.ts';

export async function renderOpenApi(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-openapi-'));
  try {
    const config = loadConfig({ FAPIAO_DATA_DIR: dataDir, FAPIAO_LISTEN_API: '127.0.0.1:0', FAPIAO_SIGNER_THREADS: '0' }, dataDir);
    await initDataDir(config);
    const app = await buildContainer(config, 'server', { logger: pino({ level: 'silent' }) });
    try {
      return `${JSON.stringify(await app.openApiDocument(), null, 2)}\n`;
    } finally {
      await app.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../docs/openapi.json', import.meta.url), await renderOpenApi());
  console.log('wrote docs/openapi.json');
}
