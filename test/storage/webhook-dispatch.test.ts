// Two webhook dispatchers ("nodes") on one database, on every engine: fan-out and claims take rows with locks
// (FOR UPDATE SKIP LOCKED on PostgreSQL, the single writer on SQLite) and leases, so with no crash every event gets
// exactly one delivery row per endpoint and exactly one attempt, whichever node makes it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import { commitIssueBatch } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { masterKeySealer } from '../../src/modules/delivery/app/secret-sealer.ts';
import { WebhookDispatcher } from '../../src/modules/delivery/app/webhook-dispatcher.ts';
import { newEndpointId } from '../../src/modules/delivery/app/webhook-service.ts';
import type { SendRequest, SendResult } from '../../src/modules/delivery/app/webhook-sender.ts';
import { storageEngines } from '../helpers/storage-engines.ts';
import { makeBatch } from '../helpers/invoice-factory.ts';
import { insertTenant, TestClock, uowNode, type UowNode } from '../helpers/uow-b.ts';
import { until } from '../helpers/webhook-receiver.ts';

const T0 = '2026-11-24T06:03:05.123Z';

for (const fixture of await storageEngines()) {
  void describe(`webhook dispatch on two nodes: ${fixture.engine}`, { skip: fixture.skip }, () => {
    const clock = new TestClock(T0);
    const masterKey = randomBytes(32);
    const sealer = masterKeySealer({ key: masterKey, version: 1 }, new Map([[1, masterKey]]));
    let engines: StorageEngine[] = [];
    let nodes: UowNode[] = [];
    before(async () => {
      engines = [fixture.open({ masterKey }), fixture.open({ masterKey })];
      await engines[0]!.migrate();
      await engines[1]!.migrate();
      nodes = engines.map(uowNode);
      await insertTenant(nodes[0]!.uow, clock.now(), { id: 't-a', taxId: '91310000MA1FL0000X', regionCode: '31' });
    });
    after(async () => {
      for (const e of engines) await e.close();
      await fixture.cleanup();
    });

    void it('makes one delivery row and one attempt per event and endpoint', async () => {
      const endpoints = [newEndpointId(), newEndpointId()];
      await nodes[0]!.uow.run(clock.now(), async (tx) => {
        for (const id of endpoints) {
          await tx.webhookEndpoints.insert({
            tenantId: 't-a', id, url: `https://example.com/${id}`, eventTypes: ['invoice.issued'], description: '', enabled: true,
            secretSealed: sealer.seal('whsec_' + randomBytes(24).toString('base64'), 't-a', id),
          });
        }
      });
      let seq = 1;
      for (let b = 0; b < 10; b++) {
        const batch = makeBatch('t-a', '26310', seq, Array.from({ length: 20 }, () => ({})));
        seq += 20;
        assert.equal((await commitIssueBatch(nodes[0]!.uow, clock.advance(1000), batch)).ok, true);
      }
      const sent: string[] = [];
      const send = async (r: SendRequest): Promise<SendResult> => {
        sent.push(`${r.url} ${r.headers['webhook-id']!}`);
        await new Promise((res) => setTimeout(res, Math.random() * 3));
        return { statusCode: 200, error: null, latencyMs: 1, response: null };
      };
      const dispatchers = nodes.map((n) => new WebhookDispatcher({
        uow: n.uow, clock, sealer, send, perEndpointConcurrency: 8, maxInFlight: 16, leaseMs: 60_000, idlePollMs: 10, batchSize: 25,
      }));
      for (const d of dispatchers) d.start();
      const db = engines[0]!.db;
      try {
        await until(async () => {
          const open = await db.selectFrom('webhook_deliveries').select((eb) => eb.fn.countAll().as('n')).where('status', '!=', 'delivered').executeTakeFirst();
          const all = await db.selectFrom('webhook_deliveries').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
          return Number(open?.n) === 0 && Number(all?.n) === 400;
        });
      } finally {
        for (const d of dispatchers) await d.stop();
      }
      assert.equal(sent.length, 400, 'one attempt per delivery');
      assert.equal(new Set(sent).size, 400, 'none twice');
      const undispatched = await db.selectFrom('outbox_events').select('id').where('dispatched_at', 'is', null).execute();
      assert.deepEqual(undispatched, []);
      const rows = await db.selectFrom('webhook_deliveries').select(['attempts', 'status']).execute();
      assert.ok(rows.every((r) => Number(r.attempts) === 1 && r.status === 'delivered'));
    });
  });
}
