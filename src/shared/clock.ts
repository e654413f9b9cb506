// The smallest interfaces the services need from crypto and the clock, so services never depend on a vendor's type
// and tests can substitute a deterministic clock.
import type { SigningAlgorithm } from './signing.ts';

export interface BatchSigner {
  /**
   * Signatures of the messages, in order, under the active key of `alg` (default SM2): SM2 and ECDSA P-256 DER-encoded,
   * Ed25519 the 64 raw bytes.
   */
  sign(messages: Uint8Array[], alg?: SigningAlgorithm): Promise<Uint8Array[]>;
  /** The active SM2 key. */
  readonly keyId: string;
  readonly publicKey: string;
  /**
   * The id of the key `sign` uses for `alg`, loading (or making) it on first use; a signer without it signs SM2 only.
   * Fixed for the life of the signer: a rotation takes effect when the process restarts.
   */
  keyIdFor?(alg: SigningAlgorithm): Promise<string>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
