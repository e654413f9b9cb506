// The ledger module's public surface: what other modules may use (src/modules/*/ import another module only through
// its index.ts; eslint.config.js enforces it). Composition (src/*.ts, src/cli, src/ops) wires the HTTP and CLI parts.
export type { LedgerRepository } from './storage/ledger-repository.ts';
export { ledgerLeafOf, type LedgerLeaf } from './app/leaf.ts';
export type { LogKeyService } from './app/log-keys.ts';
export { logKeyLabel } from './app/log-keys.ts';
export type { LedgerService, Membership, ProofAnswer, InclusionView, CheckpointView } from './app/ledger-service.ts';
export { checkCarriedProof, type CarriedProof, type ProofCheck } from './app/offline-proof.ts';
export { verifierFromKey, type NoteVerifier } from './app/note-keys.ts';
