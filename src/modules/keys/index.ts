// The keys module's public surface: what other modules may use (src/modules/*/ import another module only through
// its index.ts; eslint.config.js enforces it). Composition (src/*.ts, src/cli, src/ops) wires the HTTP and CLI parts.
export type { KeyService, PublicKeyView, VerifyingKey } from './app/key-service.ts';
export type { SigningKeyRepository } from './storage/signing-key-repository.ts';
