// Whether the database accepts writes, and the one place where an engine's "cannot write now" errors (a full disk, an
// I/O error, a lost connection: EngineTraits.isUnavailable) become the AppError STORAGE_UNAVAILABLE, answered 503 with
// Retry-After instead of 500 INTERNAL.
//
// The translation sits in the Kysely driver (GuardedDialect), under every query, transaction and repository, so no
// code path can forget it, and the first such error of an outage marks the storage unwritable: readiness (/readyz)
// fails while writes do, and a probe write (KyselyStorage.probeWrite) runs once a second until one succeeds. Any
// successful write (a commit, or a write outside a transaction) ends the outage too. The engine's error is handed to
// `onDown` once per outage, for the log; the AppError answered to clients carries no cause, so the request log does
// not repeat it for every refused request.
//
// A transaction that fails is rolled back as before: nothing it wrote is kept (SQLite rolls back by itself on
// SQLITE_FULL and SQLITE_IOERR, https://www.sqlite.org/lang_transaction.html, "Response To Errors Within A
// Transaction"; PostgreSQL aborts it). Should the ROLLBACK itself fail (the connection is gone), the error that
// caused it is what propagates, not the rollback's.
import type {
  DatabaseConnection, DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely, QueryCompiler, QueryResult, TransactionSettings,
  CompiledQuery,
} from 'kysely';
import { AppError } from '../../shared/errors.ts';

/** Seconds a client is told to wait (Retry-After) before retrying a write the database refused. */
export const STORAGE_RETRY_AFTER_SEC = 5;

export function storageUnavailable(): AppError {
  return new AppError('STORAGE_UNAVAILABLE', {
    detail: 'the database does not accept writes at the moment; nothing was stored, retry later',
    headers: { 'retry-after': String(STORAGE_RETRY_AFTER_SEC) },
  });
}

export interface StorageHealthEvents {
  /**
   * The first error of an outage: the engine's own (SQLITE_FULL, 53100, ECONNREFUSED…), to be logged. `flap`: the
   * outage began within FLAP_MS of the last one ending (on a full disk a commit that fits in pages SQLite already
   * holds can succeed between refusals), so the cause was logged moments ago and need not be again.
   */
  onDown?: (cause: unknown, flap: boolean) => void;
  /** The first successful write after an outage. */
  onUp?: () => void;
}

/** An outage that begins this soon after the last one ended is the same trouble flapping (StorageHealthEvents.onDown). */
export const FLAP_MS = 60_000;

export class StorageHealth {
  private down = false;
  private upAt = Number.NEGATIVE_INFINITY;
  private probe: (() => Promise<void>) | undefined;
  private probing: Promise<void> | undefined;
  private lastProbeAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly events: StorageHealthEvents = {},
    /** While unwritable: how often the probe write runs (by the timer, and at most this often on demand). */
    private readonly probeIntervalMs = 1000,
  ) {}

  /** False from the first "cannot write" error of an outage until a write succeeds again. */
  get writable(): boolean {
    return !this.down;
  }

  /** The write that proves the database accepts writes again (set by KyselyStorage). */
  setProbe(probe: () => Promise<void>): void {
    this.probe = probe;
  }

  failed(cause: unknown): void {
    if (this.down) return;
    this.down = true;
    this.events.onDown?.(cause, performance.now() - this.upAt < FLAP_MS);
    if (this.probe && !this.timer) {
      this.timer = setInterval(() => void this.recheck(), this.probeIntervalMs);
      // The probe must not keep a process alive that is otherwise done (the CLI, a test).
      this.timer.unref();
    }
  }

  succeeded(): void {
    if (!this.down) return;
    this.down = false;
    this.upAt = performance.now();
    this.stopTimer();
    this.events.onUp?.();
  }

  /**
   * While unwritable, runs the probe write (one at a time, at most once per interval; concurrent callers share it) and
   * resolves whether the storage is writable afterwards. A failing probe is the expected outcome during an outage.
   */
  async recheck(): Promise<boolean> {
    if (!this.down || !this.probe) return !this.down;
    // A monotonic timer paces the probe; no wall-clock time is stored.
    if (!this.probing && performance.now() - this.lastProbeAt >= this.probeIntervalMs) {
      this.lastProbeAt = performance.now();
      this.probing = this.probe().then(
        () => undefined,
        () => undefined,
      ).finally(() => {
        this.probing = undefined;
      });
    }
    await this.probing;
    return !this.down;
  }

  close(): void {
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Query nodes that write (a successful one outside a transaction ends an outage, like a commit). */
const WRITE_NODES = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode']);

export interface StorageFaults {
  /** The engine's "cannot write now" errors (EngineTraits.isUnavailable). */
  unavailable: (error: unknown) => boolean;
  /**
   * Those of them that say nothing about the database itself: a write lock another process holds past the busy
   * timeout. They are answered 503 too, but do not mark the storage unwritable: a probe write would only wait for the
   * same lock (with SQLite, blocking the event loop while it waits).
   */
  transient?: (error: unknown) => boolean;
}

class Guard {
  constructor(
    readonly health: StorageHealth,
    private readonly faults: StorageFaults,
  ) {}

  /** The error to throw for a driver error: STORAGE_UNAVAILABLE for the engine's "cannot write now", else itself. */
  translate(error: unknown): unknown {
    if (error instanceof AppError || !this.faults.unavailable(error)) return error;
    if (!this.faults.transient?.(error)) this.health.failed(error);
    return storageUnavailable();
  }
}

class GuardedConnection implements DatabaseConnection {
  inTransaction = false;
  /** The last error of a query in the current transaction: what a failing ROLLBACK must not hide. */
  lastError: unknown;

  constructor(
    readonly inner: DatabaseConnection,
    private readonly guard: Guard,
  ) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    let result: QueryResult<R>;
    try {
      result = await this.inner.executeQuery<R>(compiled);
    } catch (error) {
      if (this.inTransaction) this.lastError = error;
      throw this.guard.translate(error);
    }
    if (!this.inTransaction && WRITE_NODES.has(compiled.query.kind)) this.guard.health.succeeded();
    return result;
  }

  async *streamQuery<R>(compiled: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(compiled, chunkSize);
    } catch (error) {
      throw this.guard.translate(error);
    }
  }
}

class GuardedDriver implements Driver {
  private readonly wrapped = new WeakMap<DatabaseConnection, GuardedConnection>();

  constructor(
    private readonly inner: Driver,
    private readonly guard: Guard,
  ) {}

  private static conn(connection: DatabaseConnection): GuardedConnection {
    if (!(connection instanceof GuardedConnection)) throw new TypeError('connection not acquired from the guarded driver');
    return connection;
  }

  async init(): Promise<void> {
    try {
      await this.inner.init();
    } catch (error) {
      throw this.guard.translate(error);
    }
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    let inner: DatabaseConnection;
    try {
      inner = await this.inner.acquireConnection();
    } catch (error) {
      throw this.guard.translate(error);
    }
    let c = this.wrapped.get(inner);
    if (!c) {
      c = new GuardedConnection(inner, this.guard);
      this.wrapped.set(inner, c);
    }
    c.inTransaction = false;
    c.lastError = undefined;
    return c;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const c = GuardedDriver.conn(connection);
    try {
      await this.inner.beginTransaction(c.inner, settings);
    } catch (error) {
      throw this.guard.translate(error);
    }
    c.inTransaction = true;
    c.lastError = undefined;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = GuardedDriver.conn(connection);
    try {
      await this.inner.commitTransaction(c.inner);
    } catch (error) {
      // Kysely rolls back next; the transaction stays open until then.
      c.lastError = error;
      throw this.guard.translate(error);
    }
    c.inTransaction = false;
    this.guard.health.succeeded();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = GuardedDriver.conn(connection);
    try {
      await this.inner.rollbackTransaction(c.inner);
    } catch (error) {
      // Kysely would throw this instead of the error that made it roll back.
      throw this.guard.translate(c.lastError ?? error);
    } finally {
      c.inTransaction = false;
      c.lastError = undefined;
    }
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.savepointOp('savepoint', connection, name, compile);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.savepointOp('rollbackToSavepoint', connection, name, compile);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.savepointOp('releaseSavepoint', connection, name, compile);
  }

  private async savepointOp(
    op: 'savepoint' | 'rollbackToSavepoint' | 'releaseSavepoint', connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const inner = GuardedDriver.conn(connection).inner;
    const run = op === 'savepoint'
      ? this.inner.savepoint?.(inner, name, compile)
      : op === 'rollbackToSavepoint'
        ? this.inner.rollbackToSavepoint?.(inner, name, compile)
        : this.inner.releaseSavepoint?.(inner, name, compile);
    if (!run) throw new Error(`the ${op} operation is not supported by this driver`);
    try {
      await run;
    } catch (error) {
      throw this.guard.translate(error);
    }
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(GuardedDriver.conn(connection).inner);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** `inner` with every driver error of the unavailable class translated and reported to `health`. */
export class GuardedDialect implements Dialect {
  private readonly guard: Guard;

  constructor(
    private readonly inner: Dialect,
    health: StorageHealth,
    faults: StorageFaults,
  ) {
    this.guard = new Guard(health, faults);
  }

  createDriver(): Driver {
    return new GuardedDriver(this.inner.createDriver(), this.guard);
  }

  createQueryCompiler(): QueryCompiler {
    return this.inner.createQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return this.inner.createAdapter();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return this.inner.createIntrospector(db);
  }
}
