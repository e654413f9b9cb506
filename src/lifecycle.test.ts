import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Lifecycle } from './lifecycle.ts';

describe('lifecycle', () => {
  it('starts in registration order and stops in reverse, each once', async () => {
    const seen: string[] = [];
    const l = new Lifecycle();
    for (const name of ['storage', 'signer', 'job']) {
      await l.add({ name, start: () => void seen.push(`start ${name}`), stop: () => void seen.push(`stop ${name}`) });
    }
    await l.start();
    await Promise.all([l.stop(), l.stop()]);
    assert.deepEqual(seen, ['start storage', 'start signer', 'start job', 'stop job', 'stop signer', 'stop storage']);
  });

  it('keeps stopping the others when one fails, and logs it', async () => {
    const logged: string[] = [];
    const stopped: string[] = [];
    const l = new Lifecycle({ error: (o: object) => void logged.push((o as { component: string }).component) });
    await l.add({ name: 'a', stop: () => void stopped.push('a') });
    await l.add({ name: 'b', stop: () => { throw new Error('no'); } });
    await l.add({ name: 'c', stop: () => void stopped.push('c') });
    await l.stop();
    assert.deepEqual(stopped, ['c', 'a']);
    assert.deepEqual(logged, ['b']);
  });

  it('starts a component added after start at once', async () => {
    const seen: string[] = [];
    const l = new Lifecycle();
    await l.start();
    await l.add({ name: 'late', start: () => void seen.push('late') });
    assert.deepEqual(seen, ['late']);
  });
});
