// StorageHealth (platform/storage/storage-health.ts): the cause of an outage is handed over once per outage, and an
// outage that begins moments after the last one ended (a full disk lets a commit through now and then) is marked as
// a flap, so the log does not repeat the engine's error for it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StorageHealth } from '../../src/platform/storage/storage-health.ts';

void describe('storage health', () => {
  void it('hands over the cause once per outage and marks an outage right after a recovery as a flap', () => {
    const downs: { cause: unknown; flap: boolean }[] = [];
    let ups = 0;
    const h = new StorageHealth({ onDown: (cause, flap) => downs.push({ cause, flap }), onUp: () => void ups++ });
    assert.equal(h.writable, true);
    h.failed('full');
    h.failed('full again');
    assert.equal(h.writable, false);
    assert.deepEqual(downs, [{ cause: 'full', flap: false }], 'once per outage');
    h.succeeded();
    h.succeeded();
    assert.equal(ups, 1);
    assert.equal(h.writable, true);
    h.failed('full, a moment later');
    assert.deepEqual(downs.at(-1), { cause: 'full, a moment later', flap: true });
    h.close();
  });
});
