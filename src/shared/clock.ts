// The smallest interfaces the services need from crypto and the clock, so services never depend on a vendor's type
// and tests can substitute a deterministic clock.

export interface BatchSigner {
  /** DER-encoded SM2 signatures of the messages, in order. */
  sign(messages: Uint8Array[]): Promise<Uint8Array[]>;
  readonly keyId: string;
  readonly publicKey: string;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
