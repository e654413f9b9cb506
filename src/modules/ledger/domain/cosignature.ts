// Ed25519 checkpoint cosignatures, cosignature/v1 (https://c2sp.org/tlog-cosignature): a note signature of
// signature type 0x04 whose bytes are a timestamped_signature { u64 timestamp; opaque ed25519_signature[64] } and
// whose signed message is
//   cosignature/v1\n
//   time <timestamp>\n
//   <the whole checkpoint body, extension lines included>
// The timestamp is POSIX seconds, at most 2^63 − 1, decimal without leading zeros in the message and big-endian in
// the signature. A v1 cosignature says: as of that time, this is the largest consistent tree the cosigner has seen
// for the origin. The message does not name the cosigner, so one Ed25519 key serves one cosigner only.
import { parseDecimal } from './checkpoint.ts';

export const COSIGNATURE_V1_TYPE = 0x04;
const ED25519_SIGNATURE_SIZE = 64;
export const TIMESTAMPED_SIGNATURE_SIZE = 8 + ED25519_SIGNATURE_SIZE;

export class CosignatureFormatError extends Error {
  override readonly name = 'CosignatureFormatError';
}

function assertTimestamp(timestamp: number): void {
  // POSIX seconds; JavaScript numbers are exact to 2^53, far beyond any clock, and well below the spec's 2^63 − 1.
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new CosignatureFormatError('a timestamp is a non-negative integer');
}

/** The message a cosignature/v1 signs. */
export function cosignatureMessage(checkpointText: string, timestamp: number): Uint8Array {
  assertTimestamp(timestamp);
  if (!checkpointText.endsWith('\n')) throw new CosignatureFormatError('a checkpoint body ends in a newline');
  return new Uint8Array(Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`, 'utf8'));
}

export function encodeTimestampedSignature(timestamp: number, signature: Uint8Array): Uint8Array {
  assertTimestamp(timestamp);
  if (signature.length !== ED25519_SIGNATURE_SIZE) throw new CosignatureFormatError('an Ed25519 signature is 64 bytes');
  const out = Buffer.alloc(TIMESTAMPED_SIGNATURE_SIZE);
  out.writeBigUInt64BE(BigInt(timestamp), 0);
  out.set(signature, 8);
  return new Uint8Array(out);
}

export function decodeTimestampedSignature(bytes: Uint8Array): { timestamp: number; signature: Uint8Array } {
  if (bytes.length !== TIMESTAMPED_SIGNATURE_SIZE) throw new CosignatureFormatError('a timestamped signature is 72 bytes');
  const ts = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readBigUInt64BE(0);
  if (ts > BigInt(Number.MAX_SAFE_INTEGER)) throw new CosignatureFormatError('the timestamp is out of range');
  return { timestamp: Number(ts), signature: bytes.subarray(8) };
}

/** Parses `cosignature/v1\ntime <t>\n…` back into its timestamp and checkpoint body; undefined when not one. */
export function parseCosignatureMessage(message: string): { timestamp: number; checkpointText: string } | undefined {
  const m = /^cosignature\/v1\ntime ([0-9]+)\n/.exec(message);
  if (!m) return undefined;
  const timestamp = parseDecimal(m[1]!);
  if (timestamp === undefined) return undefined;
  return { timestamp, checkpointText: message.slice(m[0].length) };
}
