// `GET /v1/events` (route group `push`): the tenant's invoice events as Server-Sent Events (WHATWG HTML §9.2,
// "Server-sent events"). A thin adapter over modules/events/app/event-stream.ts: authentication, the resume point, SSE framing,
// heartbeats, backpressure and the end of the stream on disconnect or shutdown.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../../shared/errors.ts';
import type { EventStreamService } from '../app/event-stream.ts';
import { requireScope } from '../../tenants/index.ts';
import { ProblemSchema } from '../../../platform/http/schemas.ts';
import type { EventSink, StreamEvent } from '../app/event-stream.ts';

type Authenticate = (req: FastifyRequest) => Promise<void>;

export interface PushRouteOptions {
  heartbeatSec: number;
  /** Bytes allowed to wait for one client; past them the stream is dropped (the client resumes with Last-Event-ID). */
  maxBufferedBytes: number;
  /** HTTPS listener: send HSTS like every other answer (the onSend hook does not run for a hijacked reply). */
  secure: boolean;
}

/** Decimal, no sign, no leading zeros, within the exact integer range (ids are BIGSERIAL). */
const EVENT_ID = /^(0|[1-9][0-9]{0,15})$/;

function parseEventId(value: string | string[] | undefined, field: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'string' && EVENT_ID.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new AppError('EVENT_ID_INVALID', { field });
  return n;
}

/**
 * Where a stream resumes. The header wins: a browser's EventSource reconnects to the same URL (with its `after`) and
 * adds Last-Event-ID with the last id it saw.
 */
export function resumePoint(header: string | string[] | undefined, query: string | undefined): number | undefined {
  return parseEventId(header, 'headers:/last-event-id') ?? parseEventId(query, 'querystring:/after');
}

export function formatEvent(e: StreamEvent): string {
  // JSON.stringify escapes CR and LF, the only line breaks of SSE, so `data` stays one line. The request id, when the
  // event has one, is a member of the frame's JSON beside the summary (docs/events.md).
  const data = e.requestId !== undefined ? { ...e.data, requestId: e.requestId } : e.data;
  return `id: ${e.id}\nevent: ${e.type.replace(/[\r\n]/g, '')}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** One client's stream over a raw response: never queues beyond `maxBuffered` bytes. */
class SseSink implements EventSink {
  closed = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly maxBuffered: number,
  ) {
    res.on('drain', () => this.wake());
    res.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  send(event: StreamEvent): boolean {
    return this.write(formatEvent(event));
  }

  /** Writes a frame unless the client already has more than maxBuffered bytes waiting: then it is dropped. */
  write(frame: string): boolean {
    if (this.closed) return false;
    if (this.res.writableLength > this.maxBuffered) {
      this.closed = true;
      this.res.destroy();
      this.wake();
      return false;
    }
    this.res.write(frame);
    return true;
  }

  ready(): Promise<void> {
    if (this.closed || this.res.writableLength < this.res.writableHighWaterMark) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.res.end();
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}

const EventStreamDescription =
  'Server-Sent Events: the events written for the key\'s tenant (docs/events.md): `invoice.issued` per invoice it issues, ' +
  '`invoice.received` per invoice addressed to it, the red-letter moves of forms it is a party to, its received ' +
  'invoices\' changes. `id` = the event id (increasing); `data` = JSON { number, type, kind, issuedAt, status, totals } ' +
  'for invoice events, else { number, formId?, state?, red?, status?, booked?, deductionSelected? }; never buyer data. Without a resume point the ' +
  'stream starts now; with `Last-Event-ID` (or `after`) it first replays the events after that id. A comment line ' +
  'every heartbeat keeps idle connections open. A client that does not read is dropped and resumes.';

/** `GET /v1/events` (route group `push`). */
export function pushRoutes(services: { events: EventStreamService }, opts: PushRouteOptions, authenticate: Authenticate) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);
    const open = new Set<SseSink>();
    // server.close() waits for open connections: end the streams first, or shutdown would wait for the clients.
    app.addHook('preClose', async () => {
      for (const sink of open) sink.end();
    });

    type EventsRequest = { Querystring: { after?: string }; Headers: { 'last-event-id'?: string } };
    const headerSchema = Type.Object({ 'last-event-id': Type.Optional(Type.String({ description: 'Resume after this event id' })) });
    const querySchema = Type.Object({ after: Type.Optional(Type.String({ maxLength: 20, description: 'Resume after this event id (Last-Event-ID wins)' })) });
    // A tenant route: charged to the tenant's budget (once per connection), not to the per-address public limit.
    const config = { abuseGroup: 'tenant' as const };

    // HEAD (RFC 9110 §9.3.2) gets what a GET would get minus the content, checked alike, but it opens no stream: the
    // handler Fastify would derive from the GET (exposeHeadRoute) starts one that a HEAD answer can never end, so
    // every HEAD would hold one of the tenant's stream places until the client went away.
    app.head<EventsRequest>('/v1/events', { config, schema: { hide: true, headers: headerSchema, querystring: querySchema } }, async (req, reply) => {
      requireScope(req, 'invoices:read');
      resumePoint(req.headers['last-event-id'], req.query.after);
      return reply.code(200).header('content-type', 'text/event-stream; charset=utf-8').header('cache-control', 'no-store').send();
    });

    app.get<EventsRequest>('/v1/events', {
      config,
      exposeHeadRoute: false,
      schema: {
        summary: 'Live event stream of the tenant\'s invoices',
        description: EventStreamDescription,
        tags: ['events'],
        security: [{ apiKey: [] }],
        headers: headerSchema,
        querystring: querySchema,
        response: {
          200: { description: 'The event stream', content: { 'text/event-stream': { schema: Type.String() } } },
          400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 429: ProblemSchema,
        },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      const after = resumePoint(req.headers['last-event-id'], req.query.after);
      const res = reply.raw;
      const sink = new SseSink(res, opts.maxBufferedBytes);
      const sub = await services.events.open(auth.tenant.id, sink);

      // From here on the answer is the stream, written by us: Fastify no longer sends anything.
      reply.hijack();
      const headers: Record<string, string | number | string[]> = {};
      for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v;
      res.writeHead(200, {
        ...headers,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        // nginx and similar proxies would otherwise hold events back in their buffers.
        'x-accel-buffering': 'no',
        // The connection ends with the stream, so a stream ended at shutdown never leaves a keep-alive socket behind.
        connection: 'close',
        ...(opts.secure ? { 'strict-transport-security': 'max-age=63072000; includeSubDomains' } : {}),
      });
      open.add(sink);
      const heartbeat = setInterval(() => sink.write(': keep-alive\n\n'), opts.heartbeatSec * 1000);
      heartbeat.unref();
      const cleanup = () => {
        clearInterval(heartbeat);
        open.delete(sink);
        sub.close();
      };
      res.on('close', cleanup);
      if (res.destroyed || req.raw.socket.destroyed) return cleanup();

      // Reconnect after 3 s when the connection drops (EventSource's default is left to the browser otherwise).
      sink.write('retry: 3000\n\n');
      sub.start(after).catch((err: unknown) => {
        req.log.error({ err }, 'event stream replay failed');
        sink.end();
      });
    });
  };
}
