// What an integrator meets first, through the real CLI and server processes: the first key of a tenant downloads
// documents, `apikey list` and `keys status` say the same thing for every key and every tenant, a command that
// opens the database says so on a terminal (and only there), and the CLI loads only what a command needs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { runCli, spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';

const BIN = new URL('../../bin/fapiao.js', import.meta.url).pathname;

/**
 * Runs the CLI with a module loader hook (node:module register, run before tsx's) that appends the URL of every
 * module the process loads to a file, and answers those URLs.
 */
function loadedModules(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string; urls: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-loads-'));
  const file = join(dir, 'loads.txt');
  const hooks = [
    "import { appendFileSync } from 'node:fs';",
    'let file;',
    'export function initialize(data) { file = data.file; }',
    "export async function load(url, context, next) { appendFileSync(file, url + '\\n'); return next(url, context); }",
  ].join('\n');
  const registration = [
    "import { register } from 'node:module';",
    `register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)}, { data: { file: ${JSON.stringify(file)} } });`,
  ].join('\n');
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(registration)}`, BIN, ...args], {
      env: { FAPIAO_RUN: 'src', ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => {
      const urls = readFileSync(file, 'utf8').trim().split('\n');
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stderr, urls });
    });
  });
}

const SRC = new URL('../../src/', import.meta.url).href;
const NODE_MODULES = new URL('../../node_modules/', import.meta.url).href;
const sources = (urls: string[], folder: string) => urls.filter((u) => u.startsWith(`${SRC}${folder}`));
const packages = (urls: string[], name: string) => urls.filter((u) => u.startsWith(`${NODE_MODULES}${name}/`));

describe('first steps with the CLI', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-first-steps-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  let server: Spawned;
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  before(async () => {
    server = await spawnServer(dataDir);
  });

  const issue = async (key: string) => {
    const res = await request(`${server.url}/v1/invoices`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(sampleInvoice()), dispatcher: server.agent,
    });
    assert.equal(res.statusCode, 201);
    return ((await res.body.json()) as { number: string }).number;
  };
  const pdfStatus = async (key: string, number: string) => {
    const res = await request(`${server.url}/v1/invoices/${number}?format=pdf`, { headers: { authorization: `Bearer ${key}` }, dispatcher: server.agent });
    const body = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode === 200) assert.equal(body.subarray(0, 5).toString('latin1'), '%PDF-');
    return res.statusCode;
  };

  it('gives the first key of a tenant every scope, so it downloads the PDF of what it issued', async () => {
    const created = await runCli(['tenant', 'create', '--name', '测试公司', '--tax-id', '91110000600037341L', '--region', '11'], env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /every scope: invoices:issue, invoices:read, pii:read/);
    const key = /^api key (\S+)$/m.exec(created.stdout)![1]!;
    const tenantId = /^tenant\s+(\S+)/m.exec(created.stdout)![1]!;
    assert.equal(await pdfStatus(key, await issue(key)), 200);

    // A further key made without scopes is the restricted kind: it issues and reads, and gets no documents.
    const further = await runCli(['apikey', 'create', '--tenant', tenantId], env);
    assert.equal(further.code, 0, further.stderr);
    assert.match(further.stdout, /^scopes\s+invoices:issue,invoices:read$/m);
    const restricted = /^api key (\S+)$/m.exec(further.stdout)![1]!;
    assert.equal(await pdfStatus(restricted, await issue(restricted)), 403);
  });

  it('gives the first key of a tenant made through the admin API every scope too', async () => {
    const admin = server.urls.get('admin')!;
    const res = await request(`${admin}/admin/v1/tenants`, {
      method: 'POST', dispatcher: server.agent,
      headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: '广东测试有限公司', taxId: '9153000077859986X2', regionCode: '44' }),
    });
    assert.equal(res.statusCode, 201);
    const { apiKey } = (await res.body.json()) as { apiKey: string };
    assert.equal(await pdfStatus(apiKey, await issue(apiKey)), 200);
    // The demo key of `serve` is such a first key.
    assert.equal(await pdfStatus(server.demoKey!, await issue(server.demoKey!)), 200);
  });

  it('lists every key with the same columns: status, then expiry in a column of its own', async () => {
    const created = await runCli(['tenant', 'create', '--name', '列表测试有限公司', '--tax-id', '91350100M000100Y43', '--region', '35', '--json'], env);
    const { tenant } = JSON.parse(created.stdout) as { tenant: { id: string } };
    const make = async (...extra: string[]) => {
      const r = await runCli(['apikey', 'create', '--tenant', tenant.id, '--scopes', 'invoices:read', ...extra], env);
      assert.equal(r.code, 0, r.stderr);
      return /^key id\s+(\S+)$/m.exec(r.stdout)![1]!;
    };
    // A tenant may have two active keys (the first is one): revoke, then an expired one, which does not count.
    const expiring = await make('--expires-at', '2099-01-01T00:00:00Z');
    assert.equal((await runCli(['apikey', 'revoke', '--tenant', tenant.id, expiring], env)).code, 0);
    const expired = await make('--expires-at', '2001-01-01T00:00:00Z');
    const dated = await make('--expires-at', '2098-06-30T00:00:00Z');

    const list = await runCli(['apikey', 'list', '--tenant', tenant.id], env);
    assert.equal(list.code, 0, list.stderr);
    const [header, ...rows] = list.stdout.trimEnd().split('\n').map((l) => l.split(/\s{2,}/));
    assert.deepEqual(header, ['KEY ID', 'STATUS', 'EXPIRES', 'REVOKED', 'SCOPES']);
    assert.equal(rows.length, 4);
    for (const r of rows) assert.equal(r.length, 5, r.join(' | '));
    const row = (id: string) => rows.find((r) => r[0] === id)!;
    const first = rows.find((r) => ![expiring, expired, dated].includes(r[0]!))!;
    assert.deepEqual(first.slice(1), ['active', 'never', '-', 'invoices:issue,invoices:read,pii:read']);
    assert.deepEqual(row(dated).slice(1), ['active', '2098-06-30T00:00:00.000Z', '-', 'invoices:read']);
    assert.deepEqual(row(expired).slice(1, 3), ['expired', '2001-01-01T00:00:00.000Z']);
    assert.equal(row(expiring)[1], 'revoked');
    assert.match(row(expiring)[3]!, /^\d{4}-\d{2}-\d{2}T/);

    const json = JSON.parse((await runCli(['apikey', 'list', '--tenant', tenant.id, '--json'], env)).stdout) as { id: string; status: string }[];
    assert.deepEqual(Object.fromEntries(json.map((k) => [k.id, k.status])), Object.fromEntries(rows.map((r) => [r[0], r[1]])));

    const bad = await runCli(['apikey', 'create', '--tenant', tenant.id, '--expires-at', 'next week'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--expires-at must be an ISO 8601 time/);
  });

  it('shows every tenant in keys status, one that has issued nothing included', async () => {
    const created = await runCli(['tenant', 'create', '--name', '未开票有限公司', '--tax-id', '91110000600037341L', '--region', '11', '--json'], env);
    const idle = (JSON.parse(created.stdout) as { tenant: { id: string } }).tenant.id;
    const list = JSON.parse((await runCli(['tenant', 'list', '--json'], env)).stdout) as { id: string }[];
    const status = await runCli(['keys', 'status'], env);
    assert.equal(status.code, 0, status.stderr);
    const named = status.stdout.split('\n').filter((l) => l.startsWith('t_')).map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(named, list.map((t) => t.id));
    assert.match(status.stdout, new RegExp(`^${idle}\\s+no data key yet`, 'm'));
    const json = JSON.parse((await runCli(['keys', 'status', '--json'], env)).stdout) as { tenantId: string; keys: unknown[] }[];
    assert.deepEqual(json.find((s) => s.tenantId === idle)?.keys, []);
  });

  it('says "opening database…" on a terminal while the database opens, and nothing on a pipe', async (t) => {
    const plain = await runCli(['tenant', 'list'], env);
    assert.equal(plain.code, 0);
    assert.equal(plain.stderr, '', 'no progress where stderr is not a terminal');
    // util-linux script(1) runs the command on a pseudo-terminal.
    if (spawnSync('script', ['--version']).status !== 0) return t.skip('script (util-linux) is not installed');
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} tenant list`;
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { env: { FAPIAO_RUN: 'src', ...process.env, ...env }, encoding: 'utf8' });
    assert.equal(tty.status, 0, tty.stdout);
    const shown = tty.stdout.indexOf('opening database…');
    assert.ok(shown >= 0, tty.stdout);
    // Erased (ECMA-48 EL, CSI 2 K) before the answer, which follows on a clean line.
    const erase = '\r\u001b[2K';
    const erased = tty.stdout.lastIndexOf(erase);
    assert.ok(erased > shown, 'the progress line is erased');
    assert.match(tty.stdout.slice(erased + erase.length), /^t_[0-9a-f]{16}\s+\d/);
  });

  it('loads neither storage nor the server for --help, and no HTTP stack for an administrative command', async () => {
    const help = await loadedModules(['--help'], env);
    assert.equal(help.code, 0, help.stderr);
    assert.deepEqual(sources(help.urls, 'platform/storage/'), []);
    assert.deepEqual(packages(help.urls, 'kysely'), []);
    assert.deepEqual(packages(help.urls, 'fastify'), []);
    assert.ok(!help.urls.includes(`${SRC}app.ts`));

    const list = await loadedModules(['tenant', 'list'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.ok(sources(list.urls, 'platform/storage/').length > 0, 'the storage is loaded when the command runs');
    assert.deepEqual(packages(list.urls, 'fastify'), []);
    assert.deepEqual(list.urls.filter((u) => u.startsWith(SRC) && /\/http\/[^/]*-routes\.ts$/.test(u)), [], 'no HTTP routes');
    assert.ok(!list.urls.includes(`${SRC}app.ts`));

    const doctor = await loadedModules(['doctor'], env);
    assert.deepEqual(packages(doctor.urls, 'fastify'), [], 'doctor reads the cipher list without the HTTP stack');
    assert.deepEqual(packages(doctor.urls, '@peculiar'), [], 'nor the X.509 library');
  });
});
