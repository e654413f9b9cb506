// The poller's ordering rules over an in-memory outbox: holes in the ids (PostgreSQL transactions still committing,
// or rolled back) hold the stream back until filled or timed out; a out that cannot keep up loses its place.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { OutboxEvent } from '../storage/outbox-contract.ts';
import type { OutboxReader } from '../storage/outbox-contract.ts';
import { EventStreamService, type EventSink, type StreamEvent } from './event-stream.ts';

class MemoryOutbox implements OutboxReader {
  rows: OutboxEvent[] = [];
  add(id: number, tenantId = 't-a'): void {
    this.rows.push({
      id, eventId: `evt_${id}`, tenantId, type: 'invoice.issued', createdAt: '2026-11-24T06:00:00.000Z',
      invoice: { number: `n${id}`, type: 'normal', kind: 'blue', issuedAt: '2026-11-24T14:00:00+08:00', status: 'normal', totals: { amount: '1.00', tax: '0.13', total: '1.13' } },
    });
    this.rows.sort((a, b) => a.id - b.id);
  }
  lastId(): Promise<number> {
    return Promise.resolve(this.rows.at(-1)?.id ?? 0);
  }
  listAfter(afterId: number, limit: number): Promise<OutboxEvent[]> {
    return Promise.resolve(this.rows.filter((r) => r.id > afterId).slice(0, limit));
  }
  listForTenant(tenantId: string, afterId: number, throughId: number, limit: number): Promise<OutboxEvent[]> {
    return Promise.resolve(this.rows.filter((r) => r.tenantId === tenantId && r.id > afterId && r.id <= throughId).slice(0, limit));
  }
}

class ListSink implements EventSink {
  events: StreamEvent[] = [];
  closed = false;
  constructor(private readonly accept = true) {}
  send(e: StreamEvent): boolean {
    if (!this.accept) {
      this.closed = true;
      return false;
    }
    this.events.push(e);
    return true;
  }
  ready(): Promise<void> {
    return Promise.resolve();
  }
  end(): void {
    this.closed = true;
  }
}

const tick = (ms = 40) => new Promise((r) => setTimeout(r, ms));

function service(outbox: MemoryOutbox, now: () => number) {
  return new EventStreamService({ outbox, pollIntervalMs: 5, gapTimeoutMs: 1000, maxStreamsPerTenant: 5, maxStreams: 10, now });
}

describe('event stream service', () => {
  it('waits at a hole in the ids until it fills, so events arrive in id order', async () => {
    const outbox = new MemoryOutbox();
    outbox.add(1);
    const events = service(outbox, () => 0);
    const out = new ListSink();
    const sub = await events.open('t-a', out);
    await sub.start(undefined);
    outbox.add(3);
    await tick();
    assert.equal(out.events.length, 0, '3 waits for 2');
    outbox.add(2);
    await tick();
    assert.deepEqual(out.events.map((e) => e.id), [2, 3]);
    sub.close();
    assert.equal(events.count(), 0);
  });

  it('takes a hole as rolled back after the gap timeout', async () => {
    const outbox = new MemoryOutbox();
    let now = 0;
    const events = service(outbox, () => now);
    const out = new ListSink();
    const sub = await events.open('t-a', out);
    await sub.start(undefined);
    outbox.add(2);
    await tick();
    assert.equal(out.events.length, 0);
    now = 1000;
    await tick();
    assert.deepEqual(out.events.map((e) => e.id), [2]);
    sub.close();
  });

  it('replays after a last id and never crosses tenants', async () => {
    const outbox = new MemoryOutbox();
    for (const [id, t] of [[1, 't-a'], [2, 't-b'], [3, 't-a']] as const) outbox.add(id, t);
    const events = service(outbox, () => 0);
    const a = new ListSink();
    const b = new ListSink();
    const subA = await events.open('t-a', a);
    await subA.start(0);
    const subB = await events.open('t-b', b);
    await subB.start(undefined);
    outbox.add(4, 't-b');
    outbox.add(5, 't-a');
    await tick();
    assert.deepEqual(a.events.map((e) => e.id), [1, 3, 5]);
    assert.deepEqual(b.events.map((e) => e.id), [4]);
    events.close();
    assert.equal(events.count(), 0);
    assert.ok(a.closed && b.closed, 'close() ends every stream');
  });

  it('drops a stream whose out cannot take more, and refuses streams past the limits', async () => {
    const outbox = new MemoryOutbox();
    const events = service(outbox, () => 0);
    const slow = await events.open('t-a', new ListSink(false));
    await slow.start(undefined);
    outbox.add(1);
    await tick();
    assert.equal(events.count(), 0, 'the slow stream lost its place');
    const subs = [];
    for (let i = 0; i < 5; i++) subs.push(await events.open('t-a', new ListSink()));
    await assert.rejects(events.open('t-a', new ListSink()), { code: 'EVENT_STREAM_LIMIT' });
    for (let i = 0; i < 5; i++) subs.push(await events.open(`t-${i}`, new ListSink()));
    await assert.rejects(events.open('t-x', new ListSink()), { code: 'EVENT_STREAM_LIMIT' });
    for (const s of subs) s.close();
    assert.equal(events.count(), 0);
  });
});
