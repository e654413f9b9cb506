// Fastify's `childLoggerFactory`: a request's logger (`req.log`, bound to its id) made only when the request writes a
// line. Fastify makes a pino child for every request, and pino serialises the child's bindings when it is made; most
// requests write nothing at the configured level (the access log puts successes at debug), so in profiles of the read
// routes making children that never wrote cost a few percent of every request. The child behaves as pino's own: the
// first call at an enabled level, a `child()` or a change of level makes it, with the same bindings and options.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LogFn } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type Parent = FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean };

/** One object per request, its methods on the prototype: nothing else is allocated until a line is written. */
class LazyChild {
  private real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: Parent,
    private readonly bindings: Bindings,
    private readonly opts: ChildLoggerOptions,
  ) {}

  private made(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindings, this.opts));
  }

  private write(level: Level, args: Parameters<LogFn>): void {
    if (!this.real && typeof this.parent.isLevelEnabled === 'function' && !this.parent.isLevelEnabled(level)) return;
    this.made()[level](...args);
  }

  get level(): string {
    return this.real ? this.real.level : this.parent.level;
  }

  set level(level: string) {
    this.made().level = level;
  }

  child(bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger {
    return this.made().child(bindings, opts);
  }

  fatal(...args: Parameters<LogFn>): void {
    this.write('fatal', args);
  }

  error(...args: Parameters<LogFn>): void {
    this.write('error', args);
  }

  warn(...args: Parameters<LogFn>): void {
    this.write('warn', args);
  }

  info(...args: Parameters<LogFn>): void {
    this.write('info', args);
  }

  debug(...args: Parameters<LogFn>): void {
    this.write('debug', args);
  }

  trace(...args: Parameters<LogFn>): void {
    this.write('trace', args);
  }

  silent(): void {}
}

export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  // A route's own level or serializers change what the child writes: made at once, as Fastify would.
  if (opts.level !== undefined || opts.serializers !== undefined) return parent.child(bindings, opts);
  return new LazyChild(parent, bindings, opts);
}
