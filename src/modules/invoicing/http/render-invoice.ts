// Content negotiation for one invoice: ?format= wins, then Accept (modules/documents/domain/negotiate.ts). Every
// representation is a deterministic function of the stored invoice, the tenant's document settings (and the request's
// 备注 choices) and, once it is integrated, of the ledger checkpoint its inclusion proof is against (the documents carry the proof): the strong ETag of the bytes changes with the checkpoint, so a
// client's cached copy is revalidated into the newer proof. The OFD's package signature (SignedValue.dat) is made when
// it is rendered, with a nonce derived from the key and the signed bytes (RFC 6979), so it is the same each time too.
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { AppError } from '../../../shared/errors.ts';
import { FORMATS, pickFormat, renderInvoice, type LedgerProof, type OfdSigner, type RenderOptions } from '../../documents/index.ts';
import type { ProofAnswer } from '../../ledger/index.ts';
import { InvoiceFieldError } from '../../documents/index.ts';
import { presentInvoice, type ShownInvoice } from './present.ts';

/** Where the inclusion proof of a tenant's invoice comes from (the ledger module's LedgerService). */
export interface ProofSource {
  proof(tenantId: string, number: string): Promise<ProofAnswer>;
}

/** The proof a document carries: from the newest checkpoint, or none before the invoice is integrated. */
export async function ledgerProofOf(ledger: ProofSource | undefined, tenantId: string, number: string): Promise<LedgerProof | undefined> {
  if (!ledger) return undefined;
  try {
    const a = await ledger.proof(tenantId, number);
    if (a.status !== 'integrated') return undefined;
    const { leafIndex, treeSize, leafHash, inclusionProof, checkpoint } = a.proof;
    return { leafIndex, treeSize, leafHash, inclusionProof, checkpoint };
  } catch (err) {
    // An invoice without a leaf (none is expected) renders without a proof rather than not at all.
    if (err instanceof AppError && err.code === 'INVOICE_NOT_FOUND') return undefined;
    throw err;
  }
}

/** What a download is rendered with besides the invoice. */
export interface RenderContext {
  ledger?: { source: ProofSource | undefined; tenantId: string };
  ofdSigner?: OfdSigner;
  /** The tenant's document settings with the request's overrides; read only for a document (not for JSON). */
  options?: () => Promise<Pick<RenderOptions, 'face' | 'ubl'>>;
  /** Renders (or answers from the render cache, modules/documents/app/render-cache.ts); default: render anew. */
  render?: typeof renderInvoice;
}

export async function renderInvoiceResponse(
  reply: FastifyReply,
  shown: ShownInvoice,
  format: string | undefined,
  accept: string | undefined,
  ctx: RenderContext = {},
): Promise<FastifyReply> {
  const { ledger, ofdSigner, render = renderInvoice } = ctx;
  const picked = pickFormat(format, accept);
  if (!picked) {
    throw new AppError('NOT_ACCEPTABLE', { detail: `available: ${Object.values(FORMATS).map((f) => f.contentType).join(', ')}` });
  }
  void reply.header('vary', 'accept');
  if (picked === 'json') return reply.type('application/json; charset=utf-8').send(presentInvoice(shown));
  // The other representations are the signed invoice document itself: masked, it would no longer verify (fapiao
  // verify, the QR check), so it is handed out whole, to keys allowed to see the buyer's personal data only.
  if (!shown.fullPii) {
    throw new AppError('FORBIDDEN', { detail: 'the invoice document carries the buyer\'s personal data: the API key needs the scope pii:read' });
  }
  const { invoice } = shown;
  const ledgerProof = ledger && (await ledgerProofOf(ledger.source, ledger.tenantId, invoice.number));
  const options = ctx.options ? await ctx.options() : {};
  let doc;
  try {
    doc = await render(invoice, picked, { ...options, ...(ledgerProof ? { ledgerProof } : {}), ...(ofdSigner ? { ofdSigner } : {}) });
  } catch (err) {
    // Renderers are total on stored invoices (modules/documents/domain/printable.ts), so this is a bug. Answered 500 and logged (by the
    // error handler, with the cause below) without the text of the invoice: it holds the buyer's decrypted personal
    // data, and a library's message may quote it.
    throw new AppError('INTERNAL', { detail: `the invoice could not be rendered as ${picked}; see the server log for request ${reply.request.id}`, cause: withoutValues(err) });
  }
  const etag = `"${createHash('sha256').update(doc.body).digest('base64url').slice(0, 27)}"`;
  return reply
    .type(doc.contentType)
    .header('etag', etag)
    .header('content-disposition', `attachment; filename="${doc.filename}"`)
    .send(doc.body);
}

/**
 * The error for the log: its type and stack frames; the message only when it is one of ours, which name the field and
 * never the value (InvoiceFieldError, modules/documents/domain/text.ts). Other messages (a library's) are withheld.
 */
function withoutValues(err: unknown): Error {
  if (err instanceof InvoiceFieldError) return err;
  const name = err instanceof Error ? err.name : typeof err;
  const safe = new Error('rendering failed (message withheld: it may quote invoice text)');
  safe.name = name;
  const stack = err instanceof Error ? err.stack ?? '' : '';
  // A V8 stack is the "name: message" header and then one "    at …" line per frame: keep the frames only.
  safe.stack = `${name}: ${safe.message}\n${stack.split('\n').filter((l) => /^\s+at /.test(l)).join('\n')}`;
  return safe;
}
