// Several `fapiao serve` processes (test/helpers/spawn-server.ts) forming one installation: one data directory made by
// `fapiao init` and copied to every node (the development CA and server certificate, the admin token), one database,
// one Redis and one master key. Each node keeps its listener ports across restarts, so a proxy configured with them
// finds a restarted node where it was.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { runCli, spawnServer, type Spawned } from './spawn-server.ts';
import { freeLoopbackPort } from './redis-server.ts';

/** A start on a busy two-core machine (three nodes, the load, other suites) can take well over the usual 30 s. */
const START_TIMEOUT_MS = 90_000;

export interface FapiaoNode {
  name: string;
  dataDir: string;
  ports: { api: number; push: number; admin: number; metrics: number };
  server: Spawned | undefined;
  /** Starts the node (again); resolves once it logged `ready`. */
  start(): Promise<Spawned>;
  /** SIGKILL: a crash, a lost host. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit: the graceful shutdown. */
  stop(): Promise<number | null>;
  readyz(): Promise<number>;
}

export interface FapiaoInstallation {
  dir: string;
  nodes: FapiaoNode[];
  ca: Buffer;
  adminToken: string;
  /** Every node stopped, the directories removed. */
  close(): Promise<void>;
}

export async function fapiaoNodes(count: number, env: Record<string, string>): Promise<FapiaoInstallation> {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-nodes-'));
  const shared = { FAPIAO_MASTER_KEY: randomBytes(32).toString('base64'), ...env };
  const first = join(dir, 'node1');
  const init = await runCli(['init'], { ...shared, FAPIAO_DATA_DIR: first });
  if (init.code !== 0) throw new Error(`fapiao init failed:\n${init.stdout}${init.stderr}`);
  const nodes: FapiaoNode[] = [];
  for (let i = 1; i <= count; i++) {
    const dataDir = join(dir, `node${i}`);
    if (i > 1) cpSync(first, dataDir, { recursive: true });
    const ports = { api: await freeLoopbackPort(), push: await freeLoopbackPort(), admin: await freeLoopbackPort(), metrics: await freeLoopbackPort() };
    const node: FapiaoNode = {
      name: `node${i}`, dataDir, ports, server: undefined,
      async start() {
        node.server = await spawnServer(dataDir, {
          ...shared,
          FAPIAO_LISTEN_API: `127.0.0.1:${ports.api}`, FAPIAO_LISTEN_PUSH: `127.0.0.1:${ports.push}`,
          FAPIAO_LISTEN_ADMIN: `127.0.0.1:${ports.admin}`, FAPIAO_LISTEN_METRICS: `127.0.0.1:${ports.metrics}`,
        }, START_TIMEOUT_MS);
        return node.server;
      },
      async kill() {
        await node.server?.stop('SIGKILL');
        node.server = undefined;
      },
      async stop() {
        const code = (await node.server?.stop('SIGTERM')) ?? null;
        node.server = undefined;
        return code;
      },
      async readyz() {
        try {
          const res = await request(`http://127.0.0.1:${ports.metrics}/readyz`, { headersTimeout: 2000 });
          await res.body.dump();
          return res.statusCode;
        } catch {
          return 0;
        }
      },
    };
    nodes.push(node);
  }
  return {
    dir, nodes,
    ca: readFileSync(join(first, 'tls', 'ca.pem')),
    adminToken: readFileSync(join(first, 'admin-token'), 'utf8').trim(),
    async close() {
      await Promise.allSettled(nodes.map((n) => n.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` holds; returns the milliseconds it took, throws after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000, everyMs = 50): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
  return Date.now() - t0;
}
