// Worker thread of the signer pool (signer-pool.ts): holds one SM2 key, received once through workerData, and signs
// batches of messages sent by the pool. It never logs and never echoes the key; errors carry only their message.
import { parentPort, workerData } from 'node:worker_threads';
import { createSm2Signer } from './sm2-signer.ts';

export interface SignWorkerData {
  privateKeyHex: string;
  publicKeyHex: string;
  native?: boolean;
}

export interface SignRequest {
  id: number;
  messages: Uint8Array[];
  /** k from the key and the message (RFC 6979 with HMAC-SM3) instead of random. */
  deterministic?: boolean;
}

export type SignResponse = { id: number; signatures: Uint8Array[] } | { id: number; error: string };

const data = workerData as SignWorkerData;
const signer = createSm2Signer(data.privateKeyHex, data.publicKeyHex, data.native === undefined ? {} : { native: data.native });
const port = parentPort;
if (!port) throw new Error('sign-worker must run as a worker thread');

port.on('message', (req: SignRequest) => {
  let res: SignResponse;
  try {
    res = { id: req.id, signatures: req.messages.map((m) => (req.deterministic ? signer.signDeterministic(m) : signer.sign(m))) };
  } catch (e) {
    res = { id: req.id, error: e instanceof Error ? e.message : 'signing failed' };
  }
  port.postMessage(res);
});
