// CPU profile of the issue path: `node --import tsx bench/profile-issue.ts [seconds]` starts `fapiao serve` from dist/
// (run `npm run build` first) under `node --cpu-prof`, drives POST /v1/invoices with wrk (64 connections) and stops
// the server; the profiles (main thread and each signer worker) are left in the printed directory, for Chrome
// DevTools or `node bench/profile-summary.mjs <file>`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer } from '../test/helpers/spawn-server.ts';
import { sampleInvoice } from '../test/helpers/test-app.ts';

const seconds = Number(process.argv[2] ?? 10);
const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-prof-'));
const profDir = mkdtempSync(join(tmpdir(), 'fapiao-cpuprof-'));
const server = await spawnServer(dataDir, {
  FAPIAO_RUN: 'dist', NODE_OPTIONS: '', FAPIAO_SIGNER_THREADS: '2', FAPIAO_TENANT_RATE_PER_MINUTE: '100000000',
}, 120_000, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
try {
  const lua = join(profDir, 'issue.lua');
  const q = (s: string) => JSON.stringify(s);
  writeFileSync(lua, `wrk.method = "POST"\nwrk.body = ${q(JSON.stringify(sampleInvoice()))}\nwrk.headers["Authorization"] = ${q(`Bearer ${server.demoKey}`)}\nwrk.headers["Content-Type"] = "application/json"\nlocal n = 0\nrequest = function()\n  n = n + 1\n  wrk.headers["Idempotency-Key"] = "p-" .. os.time() .. "-" .. n\n  return wrk.format()\nend\n`);
  console.log(execFileSync('wrk', ['-t1', '-c64', `-d${seconds}s`, '-s', lua, `${server.url}/v1/invoices`], { encoding: 'utf8' }));
} finally {
  await server.stop('SIGTERM');
  await server.agent.close();
  rmSync(dataDir, { recursive: true, force: true });
}
console.log(`profiles in ${profDir}:\n${readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).join('\n')}`);
