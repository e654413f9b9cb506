// Rendered documents kept per stored state: a document is a deterministic function of the stored invoice, its ledger
// proof and the rendering options (the OFD's package signature included: its nonce is derived, not random), so the bytes rendered once are answered again while nothing they depend on changed. The key is a SHA-256 of all of it;
// a change of status, proof (a newer checkpoint), settings or signing key makes a new key, and the old entry ages out.
// Least recently used first out, bounded in bytes; concurrent requests for a document being rendered share that
// render. The entries hold the buyer's personal data in memory, as rendering does anyway; nothing is written to disk.
import { createHash } from 'node:crypto';
import type { Invoice } from '../../../shared/invoice.ts';
import type { RenderOptions } from '../domain/ledger-proof.ts';
import { renderInvoice, type FormatName, type RenderedInvoice } from '../domain/negotiate.ts';

export type Render = (invoice: Invoice, format: FormatName, opts?: RenderOptions) => Promise<RenderedInvoice>;

const size = (d: RenderedInvoice): number => (typeof d.body === 'string' ? Buffer.byteLength(d.body) : d.body.length) + 256;

export class RenderCache {
  private readonly entries = new Map<string, RenderedInvoice>();
  private readonly inFlight = new Map<string, Promise<RenderedInvoice>>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  /** `maxBytes` 0: every document is rendered anew. */
  constructor(private readonly maxBytes: number, private readonly renderer: Render = renderInvoice) {}

  /** The document, from the cache or rendered now (JSON is never cached: it is not rendered). */
  render: Render = async (invoice, format, opts = {}) => {
    if (this.maxBytes === 0 || format === 'json') return this.renderer(invoice, format, opts);
    const key = keyOf(invoice, format, opts);
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      this.hits++;
      return hit;
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    this.misses++;
    const p = this.renderer(invoice, format, opts).then((doc) => {
      this.keep(key, doc);
      return doc;
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  };

  /** Bytes held. */
  get size(): number {
    return this.bytes;
  }

  private keep(key: string, doc: RenderedInvoice): void {
    const n = size(doc);
    // One document never takes more than an eighth of the cache.
    if (n > this.maxBytes / 8) return;
    this.entries.set(key, doc);
    this.bytes += n;
    for (const [k, d] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= size(d);
    }
  }
}

function keyOf(invoice: Invoice, format: FormatName, opts: RenderOptions): string {
  return createHash('sha256')
    .update(format).update('\u0000')
    .update(JSON.stringify(invoice)).update('\u0000')
    .update(JSON.stringify(opts.ledgerProof ?? null)).update('\u0000')
    .update(JSON.stringify(opts.face ?? {})).update('\u0000')
    .update(JSON.stringify(opts.ubl ?? {})).update('\u0000')
    .update(opts.ofdSigner?.keyId ?? '')
    .digest('base64');
}
