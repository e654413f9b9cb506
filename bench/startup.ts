// Start-up time of `fapiao serve` on an initialised data directory: from spawning the process to its `ready` log line
// (every listener listening), run from the TypeScript sources through tsx and from the compiled build (dist/).
// `npx tsx bench/startup.ts [runs]` prints both; bench/run.ts calls measureStartup() for its table.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer } from '../test/helpers/spawn-server.ts';

export interface StartupRow {
  run: 'src' | 'dist';
  /** Median of `runs` starts, in ms. */
  medianMs: number;
  minMs: number;
  runs: number;
}

const root = new URL('../', import.meta.url).pathname;

export function distBuilt(): boolean {
  return existsSync(join(root, 'dist', 'build.json'));
}

/** The first start initialises the directory (not timed); each later start is timed. dist is skipped without a build. */
export async function measureStartup(runs = 3): Promise<StartupRow[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-startup-'));
  const env = { NODE_OPTIONS: '' };
  try {
    const first = await spawnServer(dataDir, { ...env, FAPIAO_RUN: 'src' }, 120_000);
    await first.stop('SIGTERM');
    await first.agent.close();
    const rows: StartupRow[] = [];
    for (const run of distBuilt() ? (['src', 'dist'] as const) : (['src'] as const)) {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const s = await spawnServer(dataDir, { ...env, FAPIAO_RUN: run }, 120_000);
        times.push(performance.now() - t0);
        await s.stop('SIGTERM');
        await s.agent.close();
      }
      times.sort((a, b) => a - b);
      rows.push({ run, medianMs: Math.round(times[Math.floor(times.length / 2)]!), minMs: Math.round(times[0]!), runs });
    }
    return rows;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await measureStartup(Number(process.argv[2] ?? 3))) console.log(JSON.stringify(r));
}
