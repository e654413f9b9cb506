import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import type { Config } from '../config/config.ts';
import { createApp } from '../app.ts';
import { handleSignals, listen } from '../main.ts';
import { initDataDir } from '../setup.ts';
import { ALL_SCOPES } from '../services/tenant-service.ts';
import { writeClientCert } from './client-cert-command.ts';

/** The demo seller of a fresh install: a real-format USCC (checksum valid), Shanghai. */
const DEMO_TENANT = { name: '上海演示科技有限公司', taxId: '91310000775785552L', regionCode: '31', address: '上海市浦东新区演示路1号', phone: '021-12345678' };

export function serveCommand(loadConfig: () => Readonly<Config>): Command {
  return new Command('serve')
    .description('start the server (runs init on first start and creates a demo tenant)')
    .option('--no-demo', 'do not create the demo tenant')
    .action(async (o: { demo: boolean }) => {
      const config = loadConfig();
      await initDataDir(config);
      const app = await createApp(config);
      if (o.demo) {
        const tenants = await app.services.tenants.list();
        if (tenants.length === 0) {
          // The demo key may see the buyer's personal data (and download invoice documents): the demo tries every call.
          const { tenant, apiKey } = await app.services.tenants.create(DEMO_TENANT, undefined, ALL_SCOPES);
          const keyFile = join(config.dataDir, 'demo-api-key');
          if (!existsSync(keyFile)) writeFileSync(keyFile, `${apiKey}\n`, { mode: 0o600 });
          process.stdout.write(`demo tenant ${tenant.id} (${tenant.name})\ndemo API key ${apiKey}\n(also saved in ${keyFile})\n`);
          const cert = await writeClientCert(config, tenant.id);
          process.stdout.write(`demo client certificate for the partner listener: ${cert.certPath}\n`);
        }
      }
      const running = await listen(app);
      handleSignals(running, app);
    });
}
