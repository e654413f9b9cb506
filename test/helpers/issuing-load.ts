// A bounded issuing load, as a careful client sends it: every invoice has an Idempotency-Key of its own, and a request
// that fails (no answer, a 5xx, a 429) is sent again with the same key until it is acknowledged (201). A worker that is
// told to stop finishes the invoice it is on first, so at the end every key is acknowledged or listed as pending.
// Every answer is counted by the phase the test is in (`load.phase = …`), so a test can say "no 5xx while …".
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import pg from 'pg';
import { request, type Dispatcher } from 'undici';
import { sampleInvoice } from './test-app.ts';

export interface Ack {
  key: string;
  number: string;
  id: string;
  /** performance.now() when the 201 arrived, and when the attempt that got it was sent. */
  at: number;
  sentAt: number;
  attempts: number;
}

export interface LoadOptions {
  url: string;
  apiKey: string;
  dispatcher: Dispatcher;
  workers: number;
  /** Invoices to issue in all; the load also ends on stop(). */
  count: number;
  /** After this long a key still not acknowledged is given up (and listed in `pending`). */
  deadlineMs: number;
  retryDelayMs?: number;
}

export interface IssuingLoad {
  phase: string;
  requests: number;
  acks: Ack[];
  pending: string[];
  /** Answers by phase, then by status ('network' for no answer). */
  answers: Map<string, Map<string, number>>;
  /** A request refused for a reason a retry cannot mend (4xx other than 429): the load stops there. */
  refused: string[];
  /** The first few bodies of answers that were neither 201 nor a network failure, for the report. */
  samples: string[];
  /** Problem answers by phase, then by "status code: detail". */
  problems: Map<string, Map<string, number>>;
  stop(): void;
  done: Promise<void>;
  count(phase: string, pred: (status: string) => boolean): number;
}

export function issuingLoad(opts: LoadOptions): IssuingLoad {
  const started = performance.now();
  let stopped = false;
  let taken = 0;
  const load: IssuingLoad = {
    phase: 'start', requests: 0, acks: [], pending: [], answers: new Map(), refused: [], samples: [], problems: new Map(),
    stop: () => void (stopped = true),
    done: Promise.resolve(),
    count(phase, pred) {
      let n = 0;
      for (const [s, c] of load.answers.get(phase) ?? []) if (pred(s)) n += c;
      return n;
    },
  };
  const note = (status: string) => {
    let m = load.answers.get(load.phase);
    if (!m) load.answers.set(load.phase, (m = new Map()));
    m.set(status, (m.get(status) ?? 0) + 1);
  };
  const body = JSON.stringify(sampleInvoice());
  async function worker(): Promise<void> {
    while (!stopped && taken < opts.count && load.refused.length === 0) {
      taken++;
      const key = randomUUID();
      for (let attempts = 1; ; attempts++) {
        if (performance.now() - started > opts.deadlineMs) {
          load.pending.push(key);
          return;
        }
        const sentAt = performance.now();
        load.requests++;
        let status: string;
        let text = '';
        try {
          const res = await request(`${opts.url}/v1/invoices`, {
            method: 'POST', dispatcher: opts.dispatcher, body, headersTimeout: 15_000, bodyTimeout: 15_000,
            headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json', 'idempotency-key': key },
          });
          status = String(res.statusCode);
          text = await res.body.text();
        } catch {
          status = 'network';
        }
        note(status);
        if (status === '201') {
          const inv = JSON.parse(text) as { number: string; id: string };
          load.acks.push({ key, number: inv.number, id: inv.id, at: performance.now(), sentAt, attempts });
          break;
        }
        if (load.samples.length < 5) load.samples.push(`${load.phase} ${status} ${text.slice(0, 300)}`);
        if (status !== 'network') {
          let what = `${status} ?`;
          try {
            const p = JSON.parse(text) as { code?: string; detail?: string };
            what = `${status} ${p.code}: ${p.detail}`;
          } catch {
            // not a problem document: counted by its status alone
          }
          let m = load.problems.get(load.phase);
          if (!m) load.problems.set(load.phase, (m = new Map()));
          m.set(what, (m.get(what) ?? 0) + 1);
        }
        if (status !== 'network' && status !== '429' && !status.startsWith('5')) {
          load.refused.push(`${status} ${text}`);
          return;
        }
        await sleep(opts.retryDelayMs ?? 50);
      }
    }
  }
  load.done = Promise.all(Array.from({ length: opts.workers }, worker)).then(() => undefined);
  return load;
}

/** "201=120 network=3 503=2" */
export function formatAnswers(m: Map<string, number> | undefined): string {
  return [...(m ?? new Map<string, number>())].sort().map(([s, n]) => `${s}=${n}`).join(' ') || 'none';
}

/** Every invoice in the database, and the series counters. */
async function stored(url: string): Promise<{ numbers: string[]; nextSeq: Map<string, number> }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const inv = await c.query<{ number: string }>('select number from invoices');
    const series = await c.query<{ series: string; next_seq: string }>('select series, next_seq from number_series');
    return { numbers: inv.rows.map((r) => r.number), nextSeq: new Map(series.rows.map((r) => [r.series, Number(r.next_seq)])) };
  } finally {
    await c.end();
  }
}

/** Asserts: each ack's invoice stored, once; no invoice without its ack; every series numbered 1..n without a gap. */
export async function assertNothingLost(url: string, acks: Ack[]): Promise<{ lost: number; duplicates: number; gaps: number }> {
  const { numbers, nextSeq } = await stored(url);
  const inDb = new Map<string, number>();
  for (const n of numbers) inDb.set(n, (inDb.get(n) ?? 0) + 1);
  const lost = acks.filter((a) => !inDb.has(a.number)).length;
  const duplicates = [...inDb.values()].filter((c) => c > 1).length + (acks.length - new Set(acks.map((a) => a.number)).size);
  assert.equal(new Set(acks.map((a) => a.key)).size, acks.length, 'one ack per key');
  assert.equal(lost, 0, 'an acknowledged invoice is missing');
  assert.equal(duplicates, 0, 'an invoice is stored twice, or two keys got one invoice');
  assert.equal(numbers.length, acks.length, 'an invoice was stored that no client was told about');
  // YY · region (2) · channel (1) · sequence (15): the series is the first five digits.
  const bySeries = new Map<string, number[]>();
  for (const n of numbers) {
    const list = bySeries.get(n.slice(0, 5)) ?? [];
    list.push(Number(n.slice(5)));
    bySeries.set(n.slice(0, 5), list);
  }
  let gaps = 0;
  for (const [series, seqs] of bySeries) {
    seqs.sort((x, y) => x - y);
    seqs.forEach((s, i) => void (s !== i + 1 && gaps++));
    assert.equal(nextSeq.get(series), seqs.length + 1, `series ${series}: next_seq after ${seqs.length} invoices`);
  }
  assert.equal(gaps, 0, 'a gap in a series');
  return { lost, duplicates, gaps };
}
