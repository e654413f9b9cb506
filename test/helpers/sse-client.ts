// A Server-Sent Events client for tests: parses the stream as the WHATWG HTML "event stream interpretation" does
// (CR, LF or CRLF line ends; `:` comments; `field: value` with one optional space; an event is dispatched at a blank
// line when its data buffer is not empty).
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';

export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body of a non-200 answer. */
  body: string;
  messages: SseMessage[];
  comments: string[];
  /** `retry:` values seen. */
  retries: number[];
  /** Resolves once at least `count` messages arrived (all of them so far), rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<SseMessage[]>;
  /** Resolves once a comment arrived, rejects after `timeoutMs`. */
  waitForComment(timeoutMs?: number): Promise<string>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export function openSse(url: string, opts: { ca?: Buffer; headers?: Record<string, string> } = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...(opts.ca ? { ca: opts.ca, servername: 'localhost' } : {}), headers: { accept: 'text/event-stream', ...opts.headers }, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const listeners = new Set<() => void>();
      const notify = () => {
        for (const l of [...listeners]) l();
      };
      let endResolve!: () => void;
      const ended = new Promise<void>((r) => (endResolve = r));
      const stream: SseStream = {
        status: res.statusCode ?? 0, headers: res.headers, body: '', messages: [], comments: [], retries: [], ended,
        waitFor(count, timeoutMs = 10_000) {
          return waitUntil(() => (stream.messages.length >= count ? stream.messages : undefined), timeoutMs, `${count} events (got ${stream.messages.length})`);
        },
        waitForComment(timeoutMs = 10_000) {
          return waitUntil(() => stream.comments.at(-1), timeoutMs, 'a comment');
        },
        close() {
          req.destroy();
        },
      };
      function waitUntil<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
        return new Promise((ok, fail) => {
          const attempt = () => {
            const v = check();
            if (v === undefined) return false;
            clearTimeout(timer);
            listeners.delete(onChange);
            ok(v);
            return true;
          };
          const onChange = () => void attempt();
          const timer = setTimeout(() => {
            listeners.delete(onChange);
            fail(new Error(`timed out waiting for ${what}`));
          }, timeoutMs);
          if (!attempt()) listeners.add(onChange);
        });
      }
      res.setEncoding('utf8');
      res.on('close', () => endResolve());
      if (res.statusCode !== 200) {
        res.on('data', (d: string) => (stream.body += d));
        res.on('end', () => resolve(stream));
        return;
      }
      let pending = '';
      let data: string[] = [];
      let event = '';
      let lastId: string | undefined;
      const line = (l: string) => {
        if (l === '') {
          if (data.length > 0) stream.messages.push({ id: lastId, event: event || 'message', data: data.join('\n') });
          data = [];
          event = '';
          return;
        }
        if (l.startsWith(':')) {
          stream.comments.push(l.slice(1).trim());
          return;
        }
        const colon = l.indexOf(':');
        const field = colon < 0 ? l : l.slice(0, colon);
        let value = colon < 0 ? '' : l.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') event = value;
        else if (field === 'id' && !value.includes('\0')) lastId = value;
        else if (field === 'retry' && /^\d+$/.test(value)) stream.retries.push(Number(value));
      };
      res.on('data', (chunk: string) => {
        let text = pending + chunk;
        // A trailing CR may be the first half of a CRLF split across chunks: decide once the next chunk is here.
        const hold = text.endsWith('\r') ? '\r' : '';
        if (hold) text = text.slice(0, -1);
        const parts = text.split(/\r\n|\r|\n/);
        pending = (parts.pop() ?? '') + hold;
        for (const p of parts) line(p);
        notify();
      });
      resolve(stream);
    });
  });
}
