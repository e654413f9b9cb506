// The witness's memory: for each log origin, the latest checkpoint it cosigned (https://c2sp.org/tlog-witness:
// "the witness is only required to keep track of the latest checkpoint it observed and verified").
//
// One JSON file, <stateDir>/state.json, replaced atomically: the new content is written to a temporary file,
// fsynced, renamed over the old one and the directory fsynced, so a crash leaves either the old or the new state,
// never a mix and never a state older than a cosignature already returned. A lock file (<stateDir>/witness.lock,
// holding the owner's pid) keeps a second witness process off the same directory; updates within the process are
// serialised by `update`, which makes "check the old size, then store the new checkpoint" one atomic step.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { HASH_SIZE } from '../domain/merkle.ts';
import { decodeBase64Strict, encodeBase64 } from '../domain/signed-note.ts';

export interface LogRecord {
  size: number;
  rootHash: Uint8Array;
  /** The cosigned checkpoint: the log's note with this witness's cosignature added. */
  checkpoint: string;
  /** ISO 8601 time of the cosignature. */
  cosignedAt: string;
}

interface StoredRecord {
  size: number;
  rootHash: string;
  checkpoint: string;
  cosignedAt: string;
}

interface StateFile {
  version: 1;
  logs: Record<string, StoredRecord>;
}

export class WitnessStateError extends Error {
  override readonly name = 'WitnessStateError';
}

const STATE = 'state.json';
const LOCK = 'witness.lock';
const EVIDENCE = 'evidence';
const MAX_EVIDENCE_FILES = 1000;

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeDurably(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function acquireLock(path: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      fsyncSync(fd);
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new WitnessStateError(`the witness state directory is in use by process ${pid}`);
      }
      // The owner died without removing its lock: take the directory over.
      unlinkSync(path);
    }
  }
  throw new WitnessStateError('could not lock the witness state directory');
}

function decode(raw: string): Map<string, LogRecord> {
  const parsed = JSON.parse(raw) as Partial<StateFile>;
  if (parsed.version !== 1 || typeof parsed.logs !== 'object' || parsed.logs === null) throw new WitnessStateError('unknown witness state format');
  const out = new Map<string, LogRecord>();
  for (const [origin, r] of Object.entries(parsed.logs)) {
    const rootHash = typeof r.rootHash === 'string' ? decodeBase64Strict(r.rootHash) : undefined;
    if (!Number.isSafeInteger(r.size) || r.size < 0 || rootHash?.length !== HASH_SIZE || typeof r.checkpoint !== 'string' || typeof r.cosignedAt !== 'string') {
      throw new WitnessStateError(`the witness state of ${JSON.stringify(origin)} is malformed`);
    }
    out.set(origin, { size: r.size, rootHash, checkpoint: r.checkpoint, cosignedAt: r.cosignedAt });
  }
  return out;
}

export class WitnessState {
  private readonly logs: Map<string, LogRecord>;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly dir: string,
    logs: Map<string, LogRecord>,
  ) {
    this.logs = logs;
  }

  /** Opens (creating if need be) a state directory and takes its lock. */
  static open(dir: string): WitnessState {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    acquireLock(join(dir, LOCK));
    try {
      let raw: string | undefined;
      try {
        raw = readFileSync(join(dir, STATE), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      return new WitnessState(dir, raw === undefined ? new Map<string, LogRecord>() : decode(raw));
    } catch (err) {
      unlinkSync(join(dir, LOCK));
      throw err;
    }
  }

  get(origin: string): LogRecord | undefined {
    return this.logs.get(origin);
  }

  /**
   * Runs `step` with the current record of `origin` while no other update runs; when it returns a record, that
   * record is made durable before the returned promise resolves. Throwing leaves the state unchanged.
   */
  async update<T>(origin: string, step: (current: LogRecord | undefined) => { record?: LogRecord; result: T }): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closed) throw new WitnessStateError('the witness state is closed');
      const { record, result } = step(this.logs.get(origin));
      if (record) {
        const next = new Map(this.logs);
        next.set(origin, record);
        this.persist(next);
        this.logs.set(origin, record);
      }
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private persist(logs: Map<string, LogRecord>): void {
    const file: StateFile = { version: 1, logs: {} };
    for (const [origin, r] of [...logs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      file.logs[origin] = { size: r.size, rootHash: encodeBase64(r.rootHash), checkpoint: r.checkpoint, cosignedAt: r.cosignedAt };
    }
    writeDurably(join(this.dir, STATE), `${JSON.stringify(file, null, 2)}\n`);
    fsyncDir(this.dir);
  }

  /**
   * Keeps a request that a trusted log signed but that contradicts what the witness cosigned (a fork, a bad proof):
   * proof of misbehaviour for the log's auditors (tlog-witness "the witness MAY log the request"). Only the log's
   * key can produce one, and the directory holds at most 1000; returns the file name, or undefined when full.
   */
  recordEvidence(kind: string, body: Uint8Array): string | undefined {
    const dir = join(this.dir, EVIDENCE);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (readdirSync(dir).length >= MAX_EVIDENCE_FILES) return undefined;
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${kind}-${process.hrtime.bigint()}.txt`;
    writeFileSync(join(dir, name), body, { mode: 0o600, flag: 'wx' });
    return name;
  }

  /** Waits for updates under way, then releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    try {
      unlinkSync(join(this.dir, LOCK));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
