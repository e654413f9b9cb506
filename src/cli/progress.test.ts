import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMeter } from './progress.ts';

void describe('startMeter', () => {
  void it('prints nothing for work under a second, then a line at most every 500 ms, and ends its line once', () => {
    let t = 0;
    const written: string[] = [];
    const stream = { isTTY: false, write: (s: string) => written.push(s) };
    const meter = startMeter(stream, () => t);
    meter.tick('a');
    t = 999;
    meter.tick('b');
    assert.deepEqual(written, []);
    t = 1000;
    meter.tick('c');
    t = 1400;
    meter.tick('d');
    t = 1500;
    meter.tick('e');
    meter.end();
    meter.end();
    assert.deepEqual(written, ['c\n', 'e\n']);
    const tty: string[] = [];
    const m2 = startMeter({ isTTY: true, write: (s: string) => tty.push(s) }, () => t);
    t += 2000;
    m2.tick('x');
    m2.end();
    m2.end();
    assert.deepEqual(tty, ['\r\x1b[2Kx', '\n']);
  });

  void it('a quick job on a terminal leaves nothing behind', () => {
    const tty: string[] = [];
    const m = startMeter({ isTTY: true, write: (s: string) => tty.push(s) }, () => 0);
    m.tick('x');
    m.end();
    assert.deepEqual(tty, []);
  });
});
