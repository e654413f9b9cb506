// The ledger's settings (modules/ledger, docs/ledger.md): the log's origin, and how often checkpoints are signed.
import { Type } from 'typebox';
import { int, section, text } from './read.ts';

export const LEDGER_SCHEMA = section(
  {
    origin: Type.Optional(text({
      env: 'FAPIAO_LEDGER_ORIGIN',
      pattern: '^[^\\s+]+$',
      rule: 'must be a schema-less URL prefix without spaces or +, e.g. fapiao.example.com',
      defaultText: 'the host of publicBaseUrl, else `localhost`',
      description: 'The log\'s origin: the first line of every checkpoint and the key name of its signatures.',
    })),
    checkpointIntervalMs: int(100, 60_000, {
      default: 1000,
      description: 'While the log grows, a checkpoint at most this often (the integrator batches what arrived meanwhile).',
    }),
    idleCheckpointSec: int(1, 86_400, {
      default: 3600,
      description: 'When nothing was issued, a fresh checkpoint (committing to the current audit head) at least this often.',
    }),
  },
  { title: 'Ledger', description: 'The tamper-evident log of every invoice ([ledger.md](ledger.md)).' },
);
