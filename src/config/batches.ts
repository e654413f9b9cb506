// Batch issuance settings (modules/batches/, README "Batch issuance").
import { int, section } from './read.ts';

export const BATCHES_SCHEMA = section(
  {
    maxBodyBytes: int(1024, 256 * 1024 * 1024, {
      default: 32 * 1024 * 1024,
      env: 'FAPIAO_BATCHES_MAX_BODY_BYTES',
      description: 'Largest body of POST /v1/invoice-batches (1,000 invoices); larger bodies are answered 413 `PAYLOAD_TOO_LARGE`.',
    }),
    leaseSec: int(1, 3600, {
      default: 30,
      env: 'FAPIAO_BATCHES_LEASE_SEC',
      description: 'How long a node holds the batch items it is issuing; the items of a node that died are taken again after it.',
    }),
    idlePollMs: int(10, 60_000, {
      default: 1000,
      env: 'FAPIAO_BATCHES_IDLE_POLL_MS',
      description: 'How often an idle node looks for batch items accepted by other nodes (a batch accepted on its own node wakes it at once).',
    }),
  },
  { title: 'Batch issuance', description: 'Issuing batches of invoices in the background (modules/batches/).' },
);
