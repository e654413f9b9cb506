// Document rendering settings (modules/documents/, docs/operations.md "Documents").
import { int, section } from './read.ts';

export const DOCUMENTS_SCHEMA = section(
  {
    renderCacheMb: int(0, 16_384, {
      default: 64,
      env: 'FAPIAO_RENDER_CACHE_MB',
      description: 'Memory for rendered documents (PDF, OFD, XML, UBL) kept per stored state of an invoice, its ledger proof and the rendering options, so a document fetched again is not rendered again; least recently used first out. 0: no cache.',
    }),
  },
  { title: 'Documents', description: 'Rendering invoices as PDF, OFD, XML and UBL (modules/documents/).' },
);
