// PostgreSQL failover under issuing load: a primary and a synchronous streaming standby of the test's own
// (test/helpers/pg-standby.ts), Debian's HAProxy running deploy/haproxy/postgres.cfg in front of them, routing to
// whichever answers `pg_is_in_recovery() = f` (deploy/haproxy/pg-primary-check), and a real Fapiao node whose
// FAPIAO_DATABASE_URL names HAProxy. The primary is killed with SIGKILL (postmaster and backends) mid-load and the
// test promotes the standby: issuing succeeds again within 30 s without restarting the node, and every invoice
// acknowledged (before the kill and after) is on the new primary, once, with no gap in its series. The figures are
// printed as `failover:` lines.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { freeLoopbackPort } from '../helpers/redis-server.ts';
import { checkHaproxyConfig, haproxySkipReason, startHaproxy, type RunningHaproxy } from '../helpers/haproxy.ts';
import { pgPrimaryAndStandby, pgStandbySkipReason, type PgPair } from '../helpers/pg-standby.ts';
import { assertNothingLost, formatAnswers, issuingLoad } from '../helpers/issuing-load.ts';
import { waitUntil } from '../helpers/fapiao-nodes.ts';
import { DEPLOY } from '../deploy/deploy-helpers.ts';

/** Milliseconds as seconds with two decimals, for the report. */
const seconds = (ms: number) => String(Math.round(ms / 10) / 100);

const HAPROXY_CFG = join(DEPLOY, 'haproxy/postgres.cfg');
const skip = haproxySkipReason('PostgreSQL failover suite') || pgStandbySkipReason('PostgreSQL failover suite');
if (skip) console.warn(skip);

describe('PostgreSQL primary killed under load, standby promoted', { skip }, () => {
  let pair: PgPair;
  let haproxy: RunningHaproxy;
  let node: Spawned;
  let haproxyEnv: Record<string, string>;
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-failover-'));

  before(async () => {
    pair = await pgPrimaryAndStandby();
    await pair.primary.query('create database fapiao');
    const port = await freeLoopbackPort();
    haproxyEnv = {
      FAPIAO_HAPROXY_PG: `127.0.0.1:${port}`,
      FAPIAO_PG1: `127.0.0.1:${pair.primary.port}`,
      FAPIAO_PG2: `127.0.0.1:${pair.standby.port}`,
      FAPIAO_PG_CHECK: join(DEPLOY, 'haproxy/pg-primary-check'),
    };
    haproxy = await startHaproxy(HAPROXY_CFG, haproxyEnv, port);
    // The primary up in HAProxy's eyes before the node connects.
    await sleep(1000);
    node = await spawnServer(dataDir, { FAPIAO_DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/fapiao` }, 90_000);
  });

  after(async () => {
    await node?.stop('SIGKILL');
    await haproxy?.stop();
    await pair?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('haproxy -c accepts deploy/haproxy/postgres.cfg', () => {
    const r = checkHaproxyConfig(HAPROXY_CFG, haproxyEnv);
    assert.equal(r.status, 0, r.output);
  });

  it('issuing resumes on the promoted standby within 30 s; every acknowledged invoice is there', async () => {
    const load = issuingLoad({ url: node.url, apiKey: node.demoKey!, dispatcher: node.agent, workers: 4, count: 100_000, deadlineMs: 80_000, retryDelayMs: 100 });
    await waitUntil('40 acknowledged invoices', () => load.acks.length >= 40 || load.refused.length > 0, 30_000);
    load.phase = 'failover';
    const killedAt = performance.now();
    await pair.primary.kill();
    const ackedBeforeKill = load.acks.filter((a) => a.at <= killedAt);
    const requestsBefore = load.requests;
    pair.standby.promote();
    const promotedAt = performance.now();
    // Issuing again: a request sent after the kill is acknowledged.
    await waitUntil('an invoice issued after the kill', () => load.acks.some((a) => a.sentAt > killedAt) || load.refused.length > 0, 30_000, 20);
    const first = load.acks.filter((a) => a.sentAt > killedAt).sort((a, b) => a.at - b.at)[0]!;
    const failoverSec = (first.at - killedAt) / 1000;
    const requestsDuring = load.requests - requestsBefore;
    load.phase = 'after';
    const resumedAcks = load.acks.length;
    await waitUntil('40 more invoices', () => load.acks.length >= resumedAcks + 40 || load.refused.length > 0, 30_000);
    load.stop();
    await load.done;
    assert.deepEqual(load.refused, []);
    assert.deepEqual(load.pending, []);

    const onNew = await pair.standby.query<{ recovering: boolean }>('select pg_is_in_recovery() as recovering');
    assert.equal(onNew[0]!.recovering, false, 'the standby is the primary now');
    const r = await assertNothingLost(pair.standby.url('fapiao'), load.acks);
    const ready = await fetch(`${node.urls.get('metrics')}/readyz`);
    assert.equal(ready.status, 200, 'the node is ready again without a restart');
    assert.equal(node.proc.exitCode, null, 'the same process');
    console.log(`failover: primary killed after ${ackedBeforeKill.length} acknowledged invoices; standby promoted ${seconds(promotedAt - killedAt)} s after the kill; ` +
      `first invoice acknowledged ${seconds(first.at - killedAt)} s after the kill`);
    console.log(`failover: requests=${load.requests} acknowledged=${load.acks.length} requests during the failover=${requestsDuring} lost=${r.lost} duplicates=${r.duplicates} gaps=${r.gaps}`);
    console.log(`failover: answers before: ${formatAnswers(load.answers.get('start'))}; during: ${formatAnswers(load.answers.get('failover'))}; after: ${formatAnswers(load.answers.get('after'))}`);
    for (const s of load.samples) console.log(`failover: answered ${s}`);
    assert.ok(failoverSec < 30, `issuing resumed after ${failoverSec} s`);
  });
});
