// deploy/Dockerfile built with podman and run: the server starts as uid 10001 on a read-only root filesystem with
// nothing writable but the /data volume (not even /tmp), the image's HEALTHCHECK passes on /readyz, the api answers
// through a published port, development dependencies are gone while the compiled better-sqlite3 loads, and SIGTERM
// ends it with status 0.
//
// No image registry is reachable here, so the base image is made locally: Debian bookworm by debootstrap (with the
// compilers better-sqlite3 needs), plus this machine's own Node.js, npm and Node headers, laid out as the official
// node images have them (/usr/local), and imported with `podman import`. It is kept under a tag naming the Node
// version, so later runs reuse it, and podman's layer cache keeps `npm ci` until the lockfile changes: the first run
// on a machine takes several minutes, later ones about one. Where podman, debootstrap or containers cannot run, the
// test says exactly why and skips.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Agent, request } from 'undici';
import { DEPLOY, REPO } from './deploy-helpers.ts';

// The fonts the PDF falls back to are in the base, as the Dockerfile would install them (no registry is reachable);
// the tag names the font set, so a base made before a font was added is not reused.
const BASE = `localhost/fapiao-test-base:bookworm-fonts2-node${process.versions.node}`;
const IMAGE = 'localhost/fapiao-test:latest';
const NAME = `fapiao-image-test-${process.pid}`;
const VOLUME = `${NAME}-data`;
// podman's default RLIMIT_NOFILE (1048576) is above the hard limit of a sandbox without CAP_SYS_RESOURCE, where
// setting it fails the container's start; the server needs far fewer.
const LIMITS = ['--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'];

let runtime: string[] = [];
const podman = (args: string[], timeout = 120_000) => spawnSync('podman', [...runtime, ...args], { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
const firstLine = (s: string) => s.trim().split('\n').find((l) => l.trim() !== '') ?? '(no output)';
const lastLines = (s: string) => s.trim().split('\n').slice(-15).join('\n');

/** Runs a long command, keeping the end of its output. */
function runLong(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; tail: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-8000));
    p.stdout.on('data', keep);
    p.stderr.on('data', keep);
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, tail });
    });
  });
}

/** Makes the base image if it is missing; the reason to skip when it cannot. */
async function ensureBase(): Promise<string | undefined> {
  if (podman(['image', 'exists', BASE]).status === 0) return undefined;
  if (spawnSync('debootstrap', ['--version'], { encoding: 'utf8' }).error) {
    return 'debootstrap not installed: apt-get install debootstrap (the base image is made locally: no image registry is reachable)';
  }
  const npmDir = dirname(dirname(realpathSync(spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim())));
  const headers = join(dirname(dirname(process.execPath)), 'include', 'node');
  if (!existsSync(join(headers, 'node_api.h'))) return `Node headers not found in ${headers}: needed to compile better-sqlite3 in the image`;
  const root = mkdtempSync(join(tmpdir(), 'fapiao-rootfs-'));
  try {
    const boot = await runLong('debootstrap', ['--variant=minbase', '--include=ca-certificates,python3,make,g++,fonts-hanazono,fonts-dejavu-core,fonts-symbola,fonts-babelstone-han', 'bookworm', root, 'http://deb.debian.org/debian'], 15 * 60_000);
    if (boot.code !== 0) return `debootstrap could not make a Debian root: ${firstLine(boot.tail.split('\n').slice(-3).join('\n'))}`;
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    mkdirSync(join(root, 'usr/local/lib/node_modules'), { recursive: true });
    mkdirSync(join(root, 'usr/local/include'), { recursive: true });
    cpSync(process.execPath, join(root, 'usr/local/bin/node'));
    cpSync(npmDir, join(root, 'usr/local/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
    cpSync(headers, join(root, 'usr/local/include/node'), { recursive: true });
    // The host's trust store, as a base image made on this host would carry: the npm registry may be reached through
    // a TLS-inspecting proxy whose CA the host trusts. Only the test's base image has it, not deploy/Dockerfile.
    cpSync('/etc/ssl/certs/ca-certificates.crt', join(root, 'etc/ssl/certs/ca-certificates.crt'));
    const imported = await runLong('sh', ['-c', [
      `tar -C '${root}' -c . | podman ${runtime.join(' ')} import`,
      `--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'`,
      `--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' - '${BASE}'`,
    ].join(' ')], 10 * 60_000);
    if (imported.code !== 0) return `podman import failed: ${firstLine(imported.tail)}`;
    return undefined;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The reason to skip, or undefined once the image is built. */
async function prepare(): Promise<string | undefined> {
  if (spawnSync('podman', ['--version'], { encoding: 'utf8' }).error) return 'podman not installed: apt-get install podman buildah debootstrap runc';
  const info = podman(['info']);
  if (info.status !== 0) return `podman cannot run here: ${firstLine(info.stderr)}`;
  const noBase = await ensureBase();
  if (noBase) return noBase;
  // crun refuses a host with cgroups v1 and v2 mounted together ("hybrid mode"); runc accepts it.
  const errors: string[] = [];
  for (const candidate of [[], ['--runtime', 'runc']]) {
    runtime = candidate;
    const r = podman(['run', '--rm', ...LIMITS, BASE, 'true']);
    if (r.status === 0) {
      errors.length = 0;
      break;
    }
    errors.push(`${candidate.join(' ') || 'default runtime'}: ${firstLine(r.stderr)}`);
  }
  if (errors.length > 0) return `podman cannot start containers here (${errors.join('; ')})`;
  const previous = podman(['image', 'inspect', IMAGE, '--format', '{{.Id}}']).stdout.trim();
  const built = await runLong('podman', [
    ...runtime, 'build', '--format', 'docker', ...LIMITS, '-f', join(DEPLOY, 'Dockerfile'),
    '--build-arg', `BUILD_IMAGE=${BASE}`, '--build-arg', `BASE_IMAGE=${BASE}`, '-t', IMAGE, REPO,
  ], 25 * 60_000);
  assert.equal(built.code, 0, `podman build failed:\n${built.tail}`);
  const now = podman(['image', 'inspect', IMAGE, '--format', '{{.Id}}']).stdout.trim();
  if (previous && previous !== now) podman(['rmi', previous]);
  return undefined;
}

describe('container image (deploy/Dockerfile, podman)', { timeout: 40 * 60_000 }, () => {
  let skip: string | undefined;
  let ports: Record<string, number> = {};
  const skipped = (t: TestContext) => {
    if (skip) t.skip(skip);
    return skip !== undefined;
  };

  before(async () => {
    skip = await prepare();
    if (skip) return;
    podman(['rm', '-f', NAME]);
    podman(['volume', 'rm', '-f', VOLUME]);
    const r = podman([
      'run', '-d', '--name', NAME, ...LIMITS, '--read-only', '--read-only-tmpfs=false', '-v', `${VOLUME}:/data`,
      '-p', '127.0.0.1::9090', '-p', '127.0.0.1::8443', IMAGE,
    ]);
    assert.equal(r.status, 0, r.stderr);
    for (const [listener, port] of [['metrics', 9090], ['api', 8443]] as const) {
      const out = podman(['port', NAME, `${port}/tcp`]).stdout.trim();
      ports[listener] = Number(/:(\d+)$/.exec(out)![1]);
    }
  });

  after(() => {
    if (skip) return;
    podman(['rm', '-f', NAME]);
    podman(['volume', 'rm', '-f', VOLUME]);
    ports = {};
  });

  it('runs as uid 10001 with the data directory on a volume, and checks /readyz of the metrics listener', (t) => {
    if (skipped(t)) return;
    const [image] = JSON.parse(podman(['image', 'inspect', IMAGE]).stdout) as {
      Config: { User: string; Env: string[]; Volumes?: Record<string, object>; Entrypoint: string[]; Cmd: string[] };
      Healthcheck?: { Test: string[] };
    }[];
    assert.equal(image!.Config.User, '10001:10001');
    assert.ok(image!.Config.Env.includes('FAPIAO_DATA_DIR=/data'));
    assert.ok(image!.Config.Env.includes('FAPIAO_HEALTHCHECK_URL=http://127.0.0.1:9090/readyz'));
    assert.ok(image!.Config.Volumes && '/data' in image!.Config.Volumes);
    assert.deepEqual([...image!.Config.Entrypoint, ...image!.Config.Cmd], ['node', 'bin/fapiao.js', 'serve', '--no-demo']);
    // The check itself reads FAPIAO_HEALTHCHECK_URL; that it passes is the test below.
    assert.equal(image!.Healthcheck?.Test[0], 'CMD');
    assert.match(image!.Healthcheck.Test.join(' '), /FAPIAO_HEALTHCHECK_URL/);
  });

  it('keeps production dependencies only, with the compiled better-sqlite3 and the PDF\'s fallback fonts', (t) => {
    if (skipped(t)) return;
    const probe = (code: string) => podman(['run', '--rm', ...LIMITS, '--read-only', '--entrypoint', 'node', IMAGE, '-e', code]);
    const sqlite = probe("new (require('better-sqlite3'))(':memory:').prepare('select 1 as one').get()");
    assert.equal(sqlite.status, 0, sqlite.stderr);
    // The PDF's fallback fonts (CJK Extension B names) are where font-metrics.ts looks for them.
    const fonts = probe("for (const f of ['/usr/share/fonts/truetype/hanazono/HanaMinB.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf']) require('fs').accessSync(f)");
    assert.equal(fonts.status, 0, fonts.stderr);
    for (const dev of ['typescript', 'eslint', 'kubernetes-models']) {
      assert.notEqual(probe(`require.resolve('${dev}')`).status, 0, `${dev} is in the image`);
    }
  });

  it('becomes healthy on a read-only root with only /data writable, and serves the api', async (t) => {
    if (skipped(t)) return;
    let healthy = false;
    for (let i = 0; i < 60 && !healthy; i++) {
      healthy = podman(['healthcheck', 'run', NAME]).status === 0;
      if (!healthy) await new Promise((r) => setTimeout(r, 1500));
    }
    assert.ok(healthy, `never healthy:\n${lastLines(podman(['logs', NAME]).stdout + podman(['logs', NAME]).stderr)}`);
    const ready = await request(`http://127.0.0.1:${ports.metrics}/readyz`);
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(await ready.body.json(), { status: 'ready' });
    const ca = podman(['exec', NAME, 'cat', '/data/tls/ca.pem']).stdout;
    const dispatcher = new Agent({ connect: { ca, servername: 'localhost' } });
    const keys = await request(`https://127.0.0.1:${ports.api}/v1/keys`, { dispatcher });
    assert.equal(keys.statusCode, 200);
    await keys.body.dump();
    await dispatcher.close();
    assert.equal(podman(['exec', NAME, 'id', '-u']).stdout.trim(), '10001');
    const write = podman(['exec', NAME, 'sh', '-c', 'touch /app/x || touch /tmp/x']);
    assert.notEqual(write.status, 0, 'the root filesystem is writable');
    assert.match(write.stderr, /Read-only file system/);
  });

  it('stops on SIGTERM with status 0', (t) => {
    if (skipped(t)) return;
    const stop = podman(['stop', '-t', '30', NAME]);
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(podman(['inspect', NAME, '--format', '{{.State.ExitCode}}']).stdout.trim(), '0');
  });
});
