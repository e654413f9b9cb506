// Overload shedding: with an admission limit of 2 waiting issue requests (or of 1 ms waited by the oldest), a flood of
// concurrent issues is answered partly 201 and partly 503 problem+json with Retry-After, at once rather than queued;
// every 201 is stored, and a shed request retried with its Idempotency-Key is issued.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { spawnServer } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';

void describe('overload', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-overload-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  void it('sheds issue requests beyond the queue limit with 503 and Retry-After, and loses no acknowledged invoice', async () => {
    await flood({ FAPIAO_ISSUE_QUEUE_MAX: '2' }, /the issuing queue is full/);
  });

  void it('sheds issue requests while the oldest waiting one has waited longer than issuing.maxQueueWaitMs', async () => {
    await flood({ FAPIAO_ISSUE_QUEUE_WAIT_MS: '1', FAPIAO_DATA_DIR_SUFFIX: 'wait' }, /the issuing queue is behind \(its oldest request has waited \d+ ms\)/);
  });

  async function flood(extra: Record<string, string>, detail: RegExp): Promise<void> {
    const { FAPIAO_DATA_DIR_SUFFIX: suffix, ...settings } = extra;
    const dir = suffix ? mkdtempSync(join(tmpdir(), `fapiao-overload-${suffix}-`)) : dataDir;
    // Event-loop shedding off: this test is about the issuing queue's own limits (test/http/event-loop-shedding.test.ts).
    const server = await spawnServer(dir, { ...settings, FAPIAO_MAX_EVENT_LOOP_DELAY_MS: '0', FAPIAO_TENANT_RATE_PER_MINUTE: '100000000' });
    try {
      const headers = { authorization: `Bearer ${server.demoKey}`, 'content-type': 'application/json' };
      const results = await Promise.all(Array.from({ length: 120 }, async (_, i) => {
        const res = await request(`${server.url}/v1/invoices`, {
          method: 'POST', headers: { ...headers, 'idempotency-key': `flood-${i}` }, body: JSON.stringify(sampleInvoice()), dispatcher: server.agent,
        });
        const body = (await res.body.json()) as { number?: string; code?: string; detail?: string };
        return { status: res.statusCode, type: res.headers['content-type'], retry: res.headers['retry-after'], body };
      }));
      const created = results.filter((r) => r.status === 201);
      const shed = results.filter((r) => r.status === 503);
      assert.equal(created.length + shed.length, results.length, JSON.stringify(results.filter((r) => r.status !== 201 && r.status !== 503)));
      assert.ok(created.length > 0, 'some requests are admitted');
      assert.ok(shed.length > 0, 'a flood beyond the limit is shed');
      for (const r of shed) {
        assert.match(String(r.type), /^application\/problem\+json/);
        assert.equal(r.body.code, 'SERVICE_UNAVAILABLE');
        assert.match(String(r.body.detail), detail);
        assert.equal(r.retry, '1');
      }
      for (const r of created) {
        const got = await request(`${server.url}/v1/invoices/${r.body.number}`, { headers, dispatcher: server.agent });
        assert.equal(got.statusCode, 200);
        await got.body.dump();
      }
      // A shed request retried with its Idempotency-Key is issued then.
      const retried = await request(`${server.url}/v1/invoices`, {
        method: 'POST', headers: { ...headers, 'idempotency-key': `flood-${results.indexOf(shed[0]!)}` }, body: JSON.stringify(sampleInvoice()), dispatcher: server.agent,
      });
      assert.equal(retried.statusCode, 201);
      await retried.body.dump();
    } finally {
      await server.stop('SIGTERM');
      await server.agent.close();
      if (dir !== dataDir) rmSync(dir, { recursive: true, force: true });
    }
  }
});
