// Issuing with and without the ledger's integrator, alternated (issue 11: "issuing throughput with the ledger within
// 10 % of without it"). Two `fapiao serve` processes are started the same way as `npm run bench` starts its server
// (embedded SQLite, synchronous=FULL, 2 signer threads, from dist/ when built), one with `ledger.integrator=false`;
// then wrk issues on one, then the other, `--rounds` times each, so that the load of a shared machine falls on both
// alike. Each run's rate and the server's CPU time per invoice are printed, then the medians and their ratio. Not a
// test; needs wrk (Debian package `wrk`).
//
//   npx tsx bench/issue-ledger.ts [--rounds 3] [--seconds 10] [--connections 64]
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { issueLua } from './wrk-scripts.ts';
import { spawnServer, type Spawned } from '../test/helpers/spawn-server.ts';
import { sampleInvoice } from '../test/helpers/test-app.ts';
import { processCpuMs } from './ceilings.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = Number(i > 0 ? process.argv[i + 1] : fallback);
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name} is a positive integer`);
  return v;
}

const rounds = arg('rounds', 3);
const seconds = arg('seconds', 10);
const connections = arg('connections', 64);
if (spawnSync('wrk', ['-v']).error !== undefined) throw new Error('wrk is missing (Debian package `wrk`)');

const env: Record<string, string> = {
  FAPIAO_LOG_LEVEL: 'info', FAPIAO_RUN: 'auto', FAPIAO_SIGNER_THREADS: '2',
  FAPIAO_PUBLIC_RATE_PER_MINUTE: '100000000', FAPIAO_TENANT_RATE_PER_MINUTE: '100000000',
};
const dirs: string[] = [];
const lua = mkdtempSync(join(tmpdir(), 'fapiao-issue-ledger-lua-'));
dirs.push(lua);
const body = JSON.stringify(sampleInvoice());

async function start(integrator: boolean): Promise<Spawned> {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-issue-ledger-'));
  dirs.push(dir);
  return spawnServer(dir, { ...env, FAPIAO_LEDGER_INTEGRATOR: String(integrator) }, 120_000);
}

async function issue(s: Spawned, name: string): Promise<{ rate: number; cpuMs: number | undefined }> {
  const file = join(lua, `${name}.lua`);
  writeFileSync(file, `${issueLua(body, { Authorization: `Bearer ${s.demoKey}`, 'Content-Type': 'application/json' }, name)}
done = function(summary, latency, requests)
  io.write(string.format('\\nRESULT %d %d %d\\n', summary.requests, summary.duration, summary.errors.status))
end
`);
  const before = processCpuMs(s.proc.pid!);
  const { stdout } = await promisify(execFile)('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', file, `${s.url}/v1/invoices`], { encoding: 'utf8' });
  const after = processCpuMs(s.proc.pid!);
  const m = /RESULT (\d+) (\d+) (\d+)/.exec(stdout);
  if (!m) throw new Error(`wrk printed no result:\n${stdout}`);
  const [requests, us, non2xx] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (non2xx > 0) throw new Error(`${non2xx} answers were not 2xx`);
  return { rate: requests / (us / 1e6), cpuMs: before !== undefined && after !== undefined && requests > 0 ? (after - before) / requests : undefined };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const servers = { with: await start(true), without: await start(false) };
try {
  const got: Record<'with' | 'without', { rate: number; cpuMs: number | undefined }[]> = { with: [], without: [] };
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so that neither always follows the other's leftovers (a checkpoint, WAL pages).
    for (const k of r % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const)) {
      const x = await issue(servers[k], `${k}-${r}`);
      got[k].push(x);
      console.log(`round ${r + 1} ${k} the integrator: ${f(x.rate)} invoices/s, server CPU ${x.cpuMs === undefined ? '?' : f(x.cpuMs, 3)} ms per invoice, load average ${f(loadavg()[0]!, 1)}`);
    }
  }
  const m = { with: median(got.with.map((x) => x.rate)), without: median(got.without.map((x) => x.rate)) };
  const cpu = (k: 'with' | 'without') => median(got[k].map((x) => x.cpuMs ?? NaN));
  console.log(`\n| integrator | runs | median invoices/s | median server CPU ms/invoice |\n|---|---:|---:|---:|`);
  for (const k of ['without', 'with'] as const) console.log(`| ${k} | ${rounds} × ${seconds} s | ${f(m[k])} | ${f(cpu(k), 3)} |`);
  console.log(`\nwith / without: ${f((m.with / m.without) * 100)} % (rate), ${f((cpu('with') / cpu('without')) * 100)} % (CPU per invoice)`);
} finally {
  for (const s of Object.values(servers)) {
    await s.stop('SIGTERM');
    await s.agent.close();
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
