// Worker thread of the signer pool (signer-pool.ts): holds one SM2 key, received once through workerData, and the keys
// of the international profile (ECDSA-P256, Ed25519: intl-signing.ts) given at start or installed later, and signs
// batches of messages sent by the pool under the key of the request's algorithm. It never logs and never echoes a
// key; errors carry only their message.
import { parentPort, workerData } from 'node:worker_threads';
import { createSm2Signer, type Sm2BaseMul } from './sm2-signer.ts';
import { createIntlSigner, type IntlAlgorithm, type IntlSigner } from './intl-signing.ts';
import type { SigningAlgorithm } from '../../shared/signing.ts';

/** A private key of the international profile, as the pool hands it to its workers. */
export interface IntlKey {
  alg: IntlAlgorithm;
  privateKeyHex: string;
  publicKeyHex: string;
}

export interface SignWorkerData {
  privateKeyHex: string;
  publicKeyHex: string;
  native?: boolean;
  baseMul?: Sm2BaseMul;
  keys?: IntlKey[];
}

export interface SignRequest {
  id: number;
  messages: Uint8Array[];
  /** The key's algorithm; default SM2. */
  alg?: SigningAlgorithm;
  /** SM2: k from the key and the message (RFC 6979 with HMAC-SM3) instead of random. */
  deterministic?: boolean;
}

/** Installs (or replaces) the worker's key of an algorithm; not answered. */
export interface InstallKey {
  install: IntlKey;
}

export type SignResponse = { id: number; signatures: Uint8Array[] } | { id: number; error: string };

const data = workerData as SignWorkerData;
const signer = createSm2Signer(data.privateKeyHex, data.publicKeyHex, {
  ...(data.native === undefined ? {} : { native: data.native }), ...(data.baseMul ? { baseMul: data.baseMul } : {}),
});
const intl = new Map<IntlAlgorithm, IntlSigner>();
for (const k of data.keys ?? []) intl.set(k.alg, createIntlSigner(k.alg, k.privateKeyHex, k.publicKeyHex));
const port = parentPort;
if (!port) throw new Error('sign-worker must run as a worker thread');

function signAll(req: SignRequest): Uint8Array[] {
  const alg = req.alg ?? 'SM2';
  if (alg === 'SM2') return req.messages.map((m) => (req.deterministic ? signer.signDeterministic(m) : signer.sign(m)));
  const k = intl.get(alg);
  if (!k) throw new Error(`no ${alg} key`);
  if (req.deterministic && alg === 'ECDSA-P256') throw new Error('deterministic ECDSA is not offered');
  return req.messages.map((m) => k.sign(m));
}

port.on('message', (msg: SignRequest | InstallKey) => {
  if ('install' in msg) {
    try {
      intl.set(msg.install.alg, createIntlSigner(msg.install.alg, msg.install.privateKeyHex, msg.install.publicKeyHex));
    } catch {
      // The pool checked the key before sending it; a request for the algorithm will say there is no key.
    }
    return;
  }
  let res: SignResponse;
  try {
    res = { id: msg.id, signatures: signAll(msg) };
  } catch (e) {
    res = { id: msg.id, error: e instanceof Error ? e.message : 'signing failed' };
  }
  port.postMessage(res);
});
