import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NewAuditEntry } from '../storage/audit-contract.ts';
import { BatchingAuditAppender } from './audit-appender.ts';

const clock = { now: () => new Date('2026-11-01T00:00:00Z') };
const entry = (n: number): NewAuditEntry => ({ actor: 'anonymous', action: 'auth.fail', target: String(n), outcome: 'denied' });

describe('BatchingAuditAppender', () => {
  it('starts a write when maxBatch items wait; the next write takes everything queued meanwhile', async () => {
    const batches: NewAuditEntry[][] = [];
    const a = new BatchingAuditAppender<number>({
      append: async (e) => void batches.push(e), toEntries: async (items) => items.map(entry), clock, flushMs: 600_000, maxBatch: 3,
    });
    for (let i = 0; i < 7; i++) a.add(i);
    await a.close();
    assert.deepEqual(batches.map((b) => b.length), [3, 4]);
  });

  it('writes on the timer without a flush call', async () => {
    let written = 0;
    const a = new BatchingAuditAppender<number>({ append: async (e) => void (written += e.length), toEntries: async (i) => i.map(entry), clock, flushMs: 10 });
    a.add(1);
    for (let i = 0; i < 200 && written === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(written, 1);
    await a.close();
  });

  it('drops past capacity, counts the drops and records them in one entry', async () => {
    const batches: NewAuditEntry[][] = [];
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    let drops = 0;
    const a = new BatchingAuditAppender<number>({
      append: async (e) => {
        batches.push(e);
        if (batches.length === 1) await blocked;
      },
      toEntries: async (items) => items.map(entry), clock, flushMs: 600_000, maxBatch: 10, capacity: 10, onDrop: (n) => (drops += n),
    });
    for (let i = 0; i < 10; i++) a.add(i); // taken by the first (stuck) write
    for (let i = 0; i < 15; i++) a.add(i); // 10 queued, 5 dropped
    assert.equal(drops, 5);
    release();
    await a.flush();
    assert.deepEqual(batches.map((b) => b.length), [10, 11]);
    const summary = batches[1]!.at(-1)!;
    assert.equal(summary.action, 'audit.dropped');
    assert.deepEqual(summary.details, { count: 5, since: '2026-11-01T00:00:00.000Z' });
  });

  it('a failing write is reported, not thrown, and the appender goes on', async () => {
    const errors: number[] = [];
    let fail = true;
    let written = 0;
    const a = new BatchingAuditAppender<number>({
      append: async (e) => {
        if (fail) throw new Error('disk full');
        written += e.length;
      },
      toEntries: async (i) => i.map(entry), clock, flushMs: 600_000, onError: (_e, lost) => errors.push(lost),
    });
    a.add(1);
    await a.flush();
    fail = false;
    a.add(2);
    await a.close();
    assert.deepEqual([errors, written], [[1], 1]);
  });
});
