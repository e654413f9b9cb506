// The documents module's public surface: what other modules may use (src/modules/*/ import another module only through
// its index.ts; eslint.config.js enforces it). Composition (src/*.ts, src/cli, src/ops) wires the HTTP and CLI parts.
export { FORMATS, pickFormat, renderInvoice } from './domain/negotiate.ts';
export { InvoiceFieldError } from './domain/text.ts';
export { readInvoiceFile } from './app/invoice-file.ts';
export type { LedgerProof, OfdSigner, RenderOptions } from './domain/ledger-proof.ts';
export { ledgerProofFromXml } from './domain/xml-parse.ts';
export type { DocumentSettings } from './domain/document-settings.ts';
export type { FaceOptions } from './domain/layout.ts';
export type { DocumentOptionsSource } from './app/document-settings-service.ts';
export { RenderCache } from './app/render-cache.ts';
