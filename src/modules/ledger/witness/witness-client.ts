// The log's side of tlog-witness (https://c2sp.org/tlog-witness "add-checkpoint"): submit a signed checkpoint with
// a consistency proof from the size the witness last cosigned, get back its cosignature line(s). A 409 answer says
// which size the witness knows; `cosignCheckpoint` then asks for a proof from that size and submits once more.
import type { Dispatcher } from 'undici';
import { HASH_SIZE } from '../domain/merkle.ts';
import { NoteFormatError, parseNote, parseSignatureLine } from '../domain/signed-note.ts';
import { parseDecimal } from '../domain/checkpoint.ts';
import type { NoteVerifier } from '../app/note-keys.ts';
import { formatAddCheckpointRequest } from './add-checkpoint-request.ts';

export type AddCheckpointResult =
  | { status: 'cosigned'; /** Signature lines, each ending in a newline. */ signatures: string }
  | { status: 'conflict'; /** The size the witness last cosigned. */ knownSize: number };

export class WitnessRequestError extends Error {
  override readonly name = 'WitnessRequestError';
  constructor(
    readonly status: number,
    /** The problem's `code`, when the witness answered one. */
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export interface WitnessClientOptions {
  /** An undici dispatcher, e.g. an Agent with the witness's CA for HTTPS. */
  dispatcher?: Dispatcher;
  /** Default 10 000 ms. */
  timeoutMs?: number;
}

const MAX_RESPONSE = 64 * 1024;

function isConnectionReset(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET';
}

/**
 * POSTs `old <oldSize>`, the proof and the note to `<witnessUrl>/add-checkpoint`. Resolves with the cosignature
 * lines (200) or the witness's known size (409); throws WitnessRequestError for any other answer.
 */
export async function addCheckpoint(
  witnessUrl: string,
  oldSize: number,
  proof: readonly Uint8Array[],
  note: string,
  options: WitnessClientOptions = {},
): Promise<AddCheckpointResult> {
  const body = formatAddCheckpointRequest(oldSize, proof, note);
  const url = `${witnessUrl.replace(/\/+$/, '')}/add-checkpoint`;
  // undici is loaded with the first request to a witness: a log without witnesses never loads it.
  const { request } = await import('undici');
  const send = () =>
    request(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
  let res: Awaited<ReturnType<typeof send>>;
  try {
    res = await send();
  } catch (err) {
    // A kept-alive connection the witness closed as the request left is reset; sending again is safe, because a
    // witness that did process the first copy answers the second with 409 and the size it now knows.
    if (!isConnectionReset(err)) throw err;
    res = await send();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_RESPONSE) {
      res.body.destroy();
      throw new WitnessRequestError(res.statusCode, undefined, 'the witness answer is too large');
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const type = String(res.headers['content-type'] ?? '');
  if (res.statusCode === 200) {
    if (!text.endsWith('\n')) throw new WitnessRequestError(200, undefined, 'the cosignature lines do not end in a newline');
    try {
      for (const l of text.slice(0, -1).split('\n')) parseSignatureLine(l);
    } catch (err) {
      if (err instanceof NoteFormatError) throw new WitnessRequestError(200, undefined, `the witness answered a malformed line: ${err.message}`);
      throw err;
    }
    return { status: 'cosigned', signatures: text };
  }
  if (res.statusCode === 409 && type.split(';')[0]!.trim() === 'text/x.tlog.size') {
    const known = text.endsWith('\n') ? parseDecimal(text.slice(0, -1)) : undefined;
    if (known === undefined) throw new WitnessRequestError(409, undefined, 'the witness answered a malformed size');
    return { status: 'conflict', knownSize: known };
  }
  let code: string | undefined;
  let detail = `the witness answered ${res.statusCode}`;
  if (type.startsWith('application/problem+json')) {
    try {
      const p = JSON.parse(text) as { code?: unknown; title?: unknown; detail?: unknown };
      if (typeof p.code === 'string') code = p.code;
      if (typeof p.detail === 'string') detail = p.detail;
      else if (typeof p.title === 'string') detail = p.title;
    } catch {
      // Not JSON after all: the status says enough.
    }
  }
  throw new WitnessRequestError(res.statusCode, code, detail);
}

export interface CosignOptions extends WitnessClientOptions {
  /** The size the log believes the witness knows (its last cosigned size, or 0). */
  oldSize: number;
  /** A consistency proof from `from` to the checkpoint's size. */
  proofFrom(from: number): Promise<Uint8Array[]>;
  /** When given, only lines this verifier accepts are returned; a 200 with none is an error. */
  witness?: NoteVerifier;
}

/**
 * Gets a witness's cosignature on `note`, retrying once from the size the witness names in a 409 (a witness that
 * restarted from an older state, or a first contact made with old size 0). Returns the signature lines to add.
 */
export async function cosignCheckpoint(witnessUrl: string, note: string, options: CosignOptions): Promise<string> {
  const size = parseDecimal(parseNote(note).text.split('\n')[1] ?? '');
  if (size === undefined) throw new NoteFormatError('the note is not a checkpoint');
  let oldSize = options.oldSize;
  for (let attempt = 0; attempt < 2; attempt++) {
    const proof = oldSize === 0 || oldSize === size ? [] : await options.proofFrom(oldSize);
    if (proof.some((p) => p.length !== HASH_SIZE)) throw new RangeError('a proof hash is 32 bytes');
    const r = await addCheckpoint(witnessUrl, oldSize, proof, note, options);
    if (r.status === 'cosigned') {
      if (!options.witness) return r.signatures;
      const v = options.witness;
      const text = new Uint8Array(Buffer.from(parseNote(note).text, 'utf8'));
      const good = r.signatures
        .slice(0, -1)
        .split('\n')
        .map(parseSignatureLine)
        .filter((s) => s.name === v.name && s.keyId === v.keyId && v.verify(text, s.signature));
      if (good.length === 0) throw new WitnessRequestError(200, undefined, 'the witness returned no valid cosignature');
      return good.map((s) => `${s.line}\n`).join('');
    }
    if (r.knownSize > size) throw new WitnessRequestError(409, 'WITNESS_SIZE_CONFLICT', `the witness has cosigned a larger tree (${r.knownSize})`);
    if (r.knownSize === oldSize) break;
    oldSize = r.knownSize;
  }
  throw new WitnessRequestError(409, 'WITNESS_SIZE_CONFLICT', 'the witness keeps naming another size');
}
