// The ledger's settings (modules/ledger, docs/ledger.md): the log's origin, and how often checkpoints are signed.
import { Type } from 'typebox';
import { bool, int, list, section, text } from './read.ts';

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
      description: 'While the log grows, a checkpoint at most this often (the integrator batches what arrived meanwhile). Also how long a node reuses the served checkpoint it read for proofs and 查验: one another node served is answered within this time.',
    }),
    idleCheckpointSec: int(1, 86_400, {
      default: 3600,
      description: 'When nothing was issued, a fresh checkpoint (committing to the current audit head) at least this often.',
    }),
    witnesses: list(Type.Object({
      url: text({ pattern: '^https?://[^\\s]+$', rule: 'must be an http(s) URL', description: 'The witness\'s tlog-witness prefix (`<url>/add-checkpoint`).' }),
      verifierKey: text({
        pattern: '^[^\\s+]+\\+[0-9a-f]{8}\\+[A-Za-z0-9+/]+=*$',
        rule: 'must be a signed-note verifier key <name>+<hex key ID>+<base64>',
        description: 'The witness\'s cosignature/v1 verifier key (`fapiao ledger witness-key` prints it).',
      }),
    }, { additionalProperties: false }), {
      default: [],
      description: 'Witnesses asked to cosign each new checkpoint (C2SP tlog-witness). With none, every checkpoint is served as signed.',
    }),
    witnessQuorum: Type.Optional(int(1, 100, {
      defaultText: 'every configured witness',
      description: 'k of the k-of-n policy: a checkpoint is served only once this many witnesses cosigned it; until then the last one that did is served.',
    })),
    proofCacheMb: int(0, 65_536, {
      default: 64,
      env: 'FAPIAO_LEDGER_PROOF_CACHE_MB',
      description: 'Memory for the nodes of the tiles inclusion proofs pass through (16 KiB per full tile; 64 MiB holds every level-0 tile of a log of 1 M leaves), least recently used first out. A proof through a kept tile reads and hashes nothing of it.',
    }),
    integrator: bool({
      default: true,
      env: 'FAPIAO_LEDGER_INTEGRATOR',
      description: '`false`: this node does not run the integrator (leaves are still sequenced at issue). Only where another node of the same PostgreSQL database integrates, or to measure issuing without it (BENCHMARKS.md); otherwise proofs stay pending.',
    }),
    witnessTimeoutMs: int(100, 60_000, { default: 5000, description: 'Time for one witness to answer an add-checkpoint request.' }),
    sm2Signature: bool({
      default: false,
      env: 'FAPIAO_LEDGER_SM2',
      description: '`true`: every checkpoint also carries an SM2-SM3 signature line (国密) by a second log key of the same name, made on first start, sealed and rotated like the Ed25519 key and published by `GET /v1/keys` (docs/ledger.md "Signed notes"). Readers that do not know the type ignore the line.',
    }),
  },
  { title: 'Ledger', description: 'The tamper-evident log of every invoice ([ledger.md](ledger.md)).' },
);
