// A tlog witness (https://c2sp.org/tlog-witness): it cosigns a log's checkpoint only when the checkpoint is signed
// by a key it trusts for that log and is consistent with the last checkpoint it cosigned for it, so a log that shows
// two different trees to two parties is caught by any witness that saw both. The HTTP side is witness-server.ts.
import { type Checkpoint, parseCheckpoint } from '../domain/checkpoint.ts';
import { EMPTY_ROOT, equalHashes, verifyConsistency } from '../domain/merkle.ts';
import { formatNote, parseNote } from '../domain/signed-note.ts';
import type { Cosigner } from '../app/cosigner.ts';
import { type NoteVerifier, signerFromKey, verifierFromKey } from '../app/note-keys.ts';
import { NoteVerificationError, openNote } from '../app/notes.ts';
import { AddCheckpointRequestError, parseAddCheckpointRequest } from './add-checkpoint-request.ts';
import { WitnessError } from './witness-errors.ts';
import { type LogRecord, WitnessState } from './witness-state.ts';

export interface WitnessLog {
  /** The log's checkpoint origin line. */
  origin: string;
  /** The signed-note verifier keys of the log (Ed25519, or the SM2 type); a signature of any of them suffices. */
  verifierKeys: readonly string[];
}

/** The subset of a pino logger the witness uses. */
export interface WitnessLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WitnessConfig {
  stateDir: string;
  /** The witness's cosignature/v1 key: a `PRIVATE+KEY+<name>+<id>+<base64(0x04 ‖ seed)>` signer key, or a Cosigner. */
  signer: string | Cosigner;
  logs: readonly WitnessLog[];
  /** Milliseconds since the epoch, for cosignature timestamps (Date.now). */
  clock?: () => number;
  logger?: WitnessLogger;
}

interface KnownLog {
  origin: string;
  verifiers: NoteVerifier[];
}

const silent: WitnessLogger = { info: () => undefined, warn: () => undefined };

function cosignerOf(signer: string | Cosigner, clock?: () => number): Cosigner {
  if (typeof signer !== 'string') return signer;
  const s = signerFromKey(signer, clock);
  if (s.type !== 'cosignature/v1') throw new Error('witness signer: the key must be a cosignature/v1 (type 0x04) key');
  return s as Cosigner;
}

export class Witness {
  readonly name: string;
  readonly verifierKey: string;
  private readonly logs = new Map<string, KnownLog>();

  private constructor(
    private readonly cosigner: Cosigner,
    private readonly state: WitnessState,
    logs: readonly WitnessLog[],
    private readonly logger: WitnessLogger,
  ) {
    this.name = cosigner.name;
    this.verifierKey = cosigner.verifierKey;
    for (const l of logs) {
      if (this.logs.has(l.origin)) throw new Error(`witness logs: the origin ${l.origin} is configured twice`);
      if (l.verifierKeys.length === 0) throw new Error(`witness logs: the origin ${l.origin} has no verifier key`);
      const verifiers = l.verifierKeys.map((k) => {
        const v = verifierFromKey(k);
        if (v.type === 'cosignature/v1') throw new Error(`witness logs: a key of ${l.origin} is a cosigner key, not a log key`);
        return v;
      });
      this.logs.set(l.origin, { origin: l.origin, verifiers });
    }
  }

  /** Opens the state directory (taking its lock) and checks the configuration; throws on any misconfiguration. */
  static open(config: WitnessConfig): Witness {
    const cosigner = cosignerOf(config.signer, config.clock);
    const state = WitnessState.open(config.stateDir);
    try {
      return new Witness(cosigner, state, config.logs, config.logger ?? silent);
    } catch (err) {
      void state.close();
      throw err;
    }
  }

  /** The latest cosigned checkpoint of a log (with the log's signatures and this witness's cosignature). */
  latestCheckpoint(origin: string): string | undefined {
    return this.state.get(origin)?.checkpoint;
  }

  origins(): string[] {
    return [...this.logs.keys()];
  }

  /**
   * Handles one add-checkpoint body: verifies it, records the checkpoint and returns the cosignature line(s), each
   * ending in a newline. Throws WitnessError with the protocol's status for any refusal.
   */
  async addCheckpoint(body: Uint8Array | string): Promise<string> {
    let req: ReturnType<typeof parseAddCheckpointRequest>;
    try {
      req = parseAddCheckpointRequest(body);
    } catch (err) {
      if (err instanceof AddCheckpointRequestError) throw new WitnessError('WITNESS_REQUEST_MALFORMED', { detail: err.message });
      throw err;
    }
    let text: string;
    try {
      text = parseNote(req.note).text;
    } catch (err) {
      throw new WitnessError('WITNESS_CHECKPOINT_MALFORMED', { detail: err instanceof Error ? err.message : undefined });
    }
    const origin = text.slice(0, text.indexOf('\n'));
    const log = this.logs.get(origin);
    if (!log) throw new WitnessError('WITNESS_UNKNOWN_LOG');
    let verifiedLines: string[];
    try {
      verifiedLines = openNote(req.note, log.verifiers).verified.map((s) => s.line);
    } catch (err) {
      if (err instanceof NoteVerificationError && err.reason !== 'malformed') throw new WitnessError('WITNESS_SIGNATURE_INVALID', { detail: err.message });
      throw new WitnessError('WITNESS_CHECKPOINT_MALFORMED', { detail: err instanceof Error ? err.message : undefined });
    }
    let checkpoint: Checkpoint;
    try {
      checkpoint = parseCheckpoint(text);
    } catch (err) {
      throw new WitnessError('WITNESS_CHECKPOINT_MALFORMED', { detail: err instanceof Error ? err.message : undefined });
    }
    if (req.oldSize > checkpoint.size) throw new WitnessError('WITNESS_OLD_SIZE_TOO_LARGE');

    return this.state.update(origin, (current) => {
      this.check(origin, current, req.oldSize, req.proof, checkpoint, body);
      const { line, timestamp } = this.cosigner.cosign(text);
      const record: LogRecord = {
        size: checkpoint.size,
        rootHash: checkpoint.rootHash,
        // tlog-witness "Monitor Retrieval Mechanism": the log's verified signatures and this witness's cosignature.
        checkpoint: formatNote(text, [...verifiedLines, line]),
        cosignedAt: new Date(timestamp * 1000).toISOString(),
      };
      this.logger.info({ origin, oldSize: req.oldSize, size: checkpoint.size }, 'checkpoint cosigned');
      return { record, result: `${line}\n` };
    });
  }

  /** The consistency checks of tlog-witness "add-checkpoint", in the spec's order. */
  private check(origin: string, current: LogRecord | undefined, oldSize: number, proof: Uint8Array[], c: Checkpoint, body: Uint8Array | string): void {
    const known = current?.size ?? 0;
    if (oldSize !== known) throw new WitnessError('WITNESS_SIZE_CONFLICT', { detail: `the witness last cosigned size ${known}`, knownSize: known });
    if (c.size === 0 && !equalHashes(c.rootHash, EMPTY_ROOT)) throw new WitnessError('WITNESS_EMPTY_TREE_ROOT');
    if (oldSize === 0) {
      // The empty tree is consistent with every tree; a proof from it must be empty.
      if (proof.length > 0) throw new WitnessError('WITNESS_PROOF_INVALID', { detail: 'a proof from size 0 is empty' });
      return;
    }
    const knownRoot = current!.rootHash;
    if (oldSize === c.size && !equalHashes(knownRoot, c.rootHash)) {
      this.evidence(origin, 'fork', body);
      throw new WitnessError('WITNESS_ROOT_MISMATCH');
    }
    if (!verifyConsistency(oldSize, c.size, knownRoot, c.rootHash, proof)) {
      this.evidence(origin, 'inconsistent', body);
      throw new WitnessError('WITNESS_PROOF_INVALID');
    }
  }

  private evidence(origin: string, kind: string, body: Uint8Array | string): void {
    try {
      const file = this.state.recordEvidence(kind, typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
      this.logger.warn({ origin, kind, evidence: file ?? null }, 'a validly signed checkpoint contradicts the cosigned one');
    } catch (err) {
      this.logger.warn({ origin, kind, err }, 'could not keep the evidence of an inconsistent checkpoint');
    }
  }

  async close(): Promise<void> {
    await this.state.close();
  }
}
