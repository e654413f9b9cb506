// OutboxRepository, the read side of the live event stream, on every engine: ordering, bounds, tenant scoping, and
// no buyer data in what it returns (documents encrypted at rest, as in production). The events are written by the
// issuing use case (commitIssueBatch: one `invoice.issued` event per invoice, in the issuing unit of work).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import { commitIssueBatch, type IssueBatch } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { outboxEvent } from '../../src/modules/events/app/event-envelope.ts';
import { OUTBOX_TABLE } from '../../src/modules/events/storage/outbox-repository.ts';
import { storageEngines } from '../helpers/storage-engines.ts';
import { invoiceNumber, makeBatch } from '../helpers/invoice-factory.ts';
import { insertTenant, setBuyer, TestClock, uowNode, type UowNode } from '../helpers/uow-b.ts';

const SERIES_A = '26310';
const SERIES_B = '26110';
const T0 = '2026-11-24T06:03:05.123Z';

for (const fixture of await storageEngines()) {
  void describe(`outbox repository: ${fixture.engine}`, { skip: fixture.skip }, () => {
    const clock = new TestClock(T0);
    let s: StorageEngine;
    let node: UowNode;
    before(async () => {
      s = fixture.open({ masterKey: randomBytes(32) });
      await s.migrate();
      node = uowNode(s);
      await insertTenant(node.uow, clock.now(), { id: 't-a', name: '甲公司', taxId: '91310000MA1FL0000X', regionCode: '31', channel: '0' });
      await insertTenant(node.uow, clock.now(), { id: 't-b', name: '乙公司', taxId: '91110000MA1FL0000Y', regionCode: '11', channel: '0' });
    });
    const outbox = () => node.uow.read.outbox;
    /** Issues a batch at the clock's time, one second after the previous one. */
    const issue = (batch: IssueBatch) => commitIssueBatch(node.uow, clock.advance(1000), batch);
    after(async () => {
      await s?.close();
      await fixture.cleanup();
    });

    void it('is empty at first', async () => {
      assert.equal(await outbox().lastId(), 0);
      assert.deepEqual(await outbox().listAfter(0, 10), []);
    });

    void it('lists every tenant\'s events in id order with the invoice summary, and no buyer data', async () => {
      const a = makeBatch('t-a', SERIES_A, 1, [{ totalCents: 11300 }, { totalCents: 22600, buyerTaxId: '11010519491231002X' }]);
      setBuyer(a.items[1]!, { phone: '13812345678', email: 'wang@example.com', address: '北京市朝阳区' });
      assert.equal((await issue(a)).ok, true);
      const firstAt = clock.now().toISOString();
      assert.equal((await issue(makeBatch('t-b', SERIES_B, 1, [{}]))).ok, true);
      assert.equal((await issue(makeBatch('t-a', SERIES_A, 3, [{}]))).ok, true);

      const all = await outbox().listAfter(0, 100);
      assert.deepEqual(all.map((e) => [e.tenantId, e.invoice?.number]), [
        ['t-a', invoiceNumber(SERIES_A, 1)], ['t-a', invoiceNumber(SERIES_A, 2)], ['t-b', invoiceNumber(SERIES_B, 1)], ['t-a', invoiceNumber(SERIES_A, 3)],
      ]);
      assert.ok(all.every((e, i) => i === 0 || e.id > all[i - 1]!.id), 'ids increase');
      assert.equal(await outbox().lastId(), all.at(-1)!.id);
      const second = all[1]!;
      assert.equal(second.type, 'invoice.issued');
      assert.ok(all.every((e) => e.type === 'invoice.issued'));
      // Each event is stamped with its issuing unit of work's time.
      assert.equal(second.createdAt, firstAt);
      assert.equal(all.at(-1)!.createdAt, clock.now().toISOString());
      assert.deepEqual(second.invoice, {
        number: invoiceNumber(SERIES_A, 2), type: 'normal', kind: 'blue', issuedAt: '2026-11-24T14:03:05.123+08:00', status: 'normal',
        totals: { amount: '200.00', tax: '26.00', total: '226.00' },
      });
      const text = JSON.stringify(all);
      for (const secret of ['13812345678', 'wang@example.com', '11010519491231002X', '朝阳区', '北京买方']) assert.ok(!text.includes(secret), secret);
      // Nor in the event rows the issuing use case wrote: their payload is the envelope of the summary, fixed at commit.
      const payloads = await s.db.selectFrom('outbox_events').select(['payload', 'event_id']).orderBy('id').execute();
      assert.deepEqual(JSON.parse(payloads[1]!.payload), {
        id: second.eventId, type: 'invoice.issued', version: 1, timestamp: firstAt, data: second.invoice,
      });
      assert.match(second.eventId, /^evt_[0-9a-f]{32}$/);
      assert.equal(payloads[1]!.event_id, second.eventId);
      assert.equal(new Set(all.map((e) => e.eventId)).size, all.length, 'event ids are unique');
      const stored = JSON.stringify(payloads);
      for (const secret of ['13812345678', 'wang@example.com', '11010519491231002X', '朝阳区', '北京买方']) assert.ok(!stored.includes(secret), secret);

      assert.deepEqual((await outbox().listAfter(all[0]!.id, 2)).map((e) => e.id), [all[1]!.id, all[2]!.id], 'after and limit');
    });

    void it('lists one tenant\'s events in (after, through], never another tenant\'s', async () => {
      const all = await outbox().listAfter(0, 100);
      const ids = (t: string) => all.filter((e) => e.tenantId === t).map((e) => e.id);
      const last = all.at(-1)!.id;
      assert.deepEqual((await outbox().listForTenant('t-a', 0, last, 100)).map((e) => e.id), ids('t-a'));
      assert.deepEqual((await outbox().listForTenant('t-b', 0, last, 100)).map((e) => e.id), ids('t-b'));
      assert.deepEqual((await outbox().listForTenant('t-a', all[0]!.id, all[2]!.id, 100)).map((e) => e.id), [all[1]!.id]);
      assert.deepEqual((await outbox().listForTenant('t-a', 0, last, 1)).map((e) => e.id), [all[0]!.id]);
      assert.deepEqual(await outbox().listForTenant('t-c', 0, last, 100), []);
    });

    void it('keeps the event as written: a later change of the invoice does not alter its bytes', async () => {
      const number = invoiceNumber(SERIES_B, 1);
      const [before] = await outbox().listForTenant('t-b', 0, await outbox().lastId(), 10);
      const bytes = (await s.db.selectFrom('outbox_events').select('payload').where('event_id', '=', before!.eventId).executeTakeFirstOrThrow()).payload;
      await s.db.updateTable('invoices').set({ status: 'red-flushed' }).where('number', '=', number).execute();
      const [event] = await outbox().listForTenant('t-b', 0, await outbox().lastId(), 10);
      assert.equal(event?.invoice?.status, 'normal');
      assert.deepEqual(event, before);
      const again = (await s.db.selectFrom('outbox_events').select('payload').where('event_id', '=', before!.eventId).executeTakeFirstOrThrow()).payload;
      assert.equal(again, bytes);
    });

    void it('still reads a row from before envelopes through its invoice, with the current status', async () => {
      const number = invoiceNumber(SERIES_B, 1);
      await s.db.insertInto('outbox_events').values({
        tenant_id: 't-b', type: 'invoice.issued', payload: JSON.stringify({ number, tenantId: 't-b' }), created_at: T0, dispatched_at: T0, event_id: null,
      }).execute();
      const last = await outbox().lastId();
      const [legacy] = await outbox().listForTenant('t-b', last - 1, last, 10);
      assert.equal(legacy?.invoice?.status, 'red-flushed');
      assert.equal(legacy?.eventId, `evt_${last}`);
    });

    void it('wakes its listeners after a commit that appended events, once per unit of work; never on rollback or without events', async () => {
      let woken = 0;
      const off = node.uow.afterCommit(OUTBOX_TABLE, () => {
        woken++;
        throw new Error('a failing listener does not fail the committed work');
      });
      const event = () => outboxEvent('t-a', 'webhook.test', 1, clock.now(), { endpointId: 'whe_x', message: 'hi' });
      const answer = await node.uow.run(clock.now(), async (tx) => {
        await tx.outbox.append([event()]);
        await tx.outbox.append([event()]);
        assert.equal(woken, 0, 'not before the commit');
        return 'done';
      });
      assert.deepEqual([answer, woken], ['done', 1]);
      await node.uow.run(clock.now(), (tx) => tx.outbox.append([]));
      assert.equal(woken, 1, 'no events, no wake');
      await assert.rejects(node.uow.run(clock.now(), async (tx) => {
        await tx.outbox.append([event()]);
        throw new Error('rolled back');
      }), /rolled back/);
      assert.equal(woken, 1, 'a rollback wakes no one');
      off();
      await node.uow.run(clock.now(), (tx) => tx.outbox.append([event()]));
      assert.equal(woken, 1, 'removed');
    });
  });
}
