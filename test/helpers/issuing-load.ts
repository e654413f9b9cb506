// A bounded issuing load, as a careful client sends it: every invoice has an Idempotency-Key of its own, and a request
// that fails (no answer, a 5xx, a 429) is sent again with the same key until it is acknowledged (201). A worker that is
// told to stop finishes the invoice it is on first, so at the end every key is acknowledged or listed as pending.
// Every answer is counted by the phase the test is in (`load.phase = …`), so a test can say "no 5xx while …".
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
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
  stop(): void;
  done: Promise<void>;
  count(phase: string, pred: (status: string) => boolean): number;
}

export function issuingLoad(opts: LoadOptions): IssuingLoad {
  const started = performance.now();
  let stopped = false;
  let taken = 0;
  const load: IssuingLoad = {
    phase: 'start', requests: 0, acks: [], pending: [], answers: new Map(), refused: [], samples: [],
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
