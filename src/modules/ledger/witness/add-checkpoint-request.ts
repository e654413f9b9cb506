// The body of a tlog-witness add-checkpoint request (https://c2sp.org/tlog-witness "add-checkpoint"):
//   old <size>\n
//   <base64 hash>\n          zero to 63 consistency proof lines
//   \n
//   <signed checkpoint note>
// Every line ends in a newline; the old size is decimal without leading zeros.
import { parseDecimal } from '../domain/checkpoint.ts';
import { HASH_SIZE } from '../domain/merkle.ts';
import { decodeBase64Strict, encodeBase64 } from '../domain/signed-note.ts';

export const MAX_PROOF_LINES = 63;

export interface AddCheckpointRequest {
  oldSize: number;
  proof: Uint8Array[];
  /** The signed checkpoint, as sent. */
  note: string;
}

export class AddCheckpointRequestError extends Error {
  override readonly name = 'AddCheckpointRequestError';
}

export function formatAddCheckpointRequest(oldSize: number, proof: readonly Uint8Array[], note: string): string {
  if (!Number.isSafeInteger(oldSize) || oldSize < 0) throw new AddCheckpointRequestError('the old size is a non-negative integer');
  if (proof.length > MAX_PROOF_LINES) throw new AddCheckpointRequestError(`at most ${MAX_PROOF_LINES} proof lines`);
  if (proof.some((p) => p.length !== HASH_SIZE)) throw new AddCheckpointRequestError('a proof line is a 32-byte hash');
  return `old ${oldSize}\n${proof.map((p) => `${encodeBase64(p)}\n`).join('')}\n${note}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses a request body; throws AddCheckpointRequestError for anything not exactly in the protocol's form. */
export function parseAddCheckpointRequest(body: Uint8Array | string): AddCheckpointRequest {
  let text: string;
  try {
    text = typeof body === 'string' ? body : utf8.decode(body);
  } catch {
    throw new AddCheckpointRequestError('the body is not UTF-8');
  }
  // The proof lines hold no blank line, so the first one ends them; the note (which has its own) follows.
  const split = text.indexOf('\n\n');
  if (split < 0) throw new AddCheckpointRequestError('the body has no blank line before the checkpoint');
  const head = text.slice(0, split).split('\n');
  const note = text.slice(split + 2);
  const oldLine = head[0]!;
  const oldSize = oldLine.startsWith('old ') ? parseDecimal(oldLine.slice(4)) : undefined;
  if (oldSize === undefined) throw new AddCheckpointRequestError('the first line is "old <size>"');
  const lines = head.slice(1);
  if (lines.length > MAX_PROOF_LINES) throw new AddCheckpointRequestError(`at most ${MAX_PROOF_LINES} proof lines`);
  const proof = lines.map((l) => {
    const h = decodeBase64Strict(l);
    if (h === undefined || h.length !== HASH_SIZE) throw new AddCheckpointRequestError('a proof line is a base64 32-byte hash');
    return h;
  });
  if (note.length === 0) throw new AddCheckpointRequestError('the checkpoint is missing');
  return { oldSize, proof, note };
}
