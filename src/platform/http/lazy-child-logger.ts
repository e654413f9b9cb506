// Fastify's `childLoggerFactory`: a request's logger (`req.log`, bound to its id) made only when the request writes a
// line. Fastify makes a pino child for every request, and pino serialises the child's bindings when it is made; most
// requests write nothing at the configured level (the access log puts successes at debug), so in profiles of the read
// routes making children that never wrote cost a few percent of every request. The child behaves as pino's own: the
// first call at an enabled level, a `child()` or a change of level makes it, with the same bindings and options.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LogFn } from 'pino';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type Level = (typeof LEVELS)[number];

export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  // A route's own level or serializers change what the child writes: made at once, as Fastify would.
  if (opts.level !== undefined || opts.serializers !== undefined) return parent.child(bindings, opts);
  const enabled = (level: Level): boolean => {
    const p = parent as FastifyBaseLogger & { isLevelEnabled?: (l: string) => boolean };
    return level !== 'silent' && (typeof p.isLevelEnabled !== 'function' || p.isLevelEnabled(level));
  };
  let real: FastifyBaseLogger | undefined;
  const made = (): FastifyBaseLogger => (real ??= parent.child(bindings, opts));
  const lazy = {
    get level(): string {
      return real ? real.level : parent.level;
    },
    set level(level: string) {
      made().level = level;
    },
    child: (b: Bindings, o?: ChildLoggerOptions) => made().child(b, o),
  } as FastifyBaseLogger;
  for (const level of LEVELS) {
    const write: LogFn = (...args: Parameters<LogFn>) => {
      if (!real && !enabled(level)) return;
      made()[level](...args);
    };
    lazy[level] = write;
  }
  return lazy;
}
