// Content negotiation for one invoice: ?format= wins, then Accept (formats/negotiate.ts). Every representation is a
// deterministic function of the stored invoice, so a strong ETag of the bytes lets clients cache it.
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { AppError } from '../../errors.ts';
import type { Invoice } from '../../domain/invoice.ts';
import { FORMATS, pickFormat, renderInvoice } from '../../formats/negotiate.ts';
import { presentInvoice, type PresentOptions } from '../../services/invoice-service.ts';

export async function renderInvoiceResponse(
  reply: FastifyReply,
  invoice: Invoice,
  format: string | undefined,
  accept: string | undefined,
  view: PresentOptions,
): Promise<FastifyReply> {
  const picked = pickFormat(format, accept);
  if (!picked) {
    throw new AppError('NOT_ACCEPTABLE', { detail: `available: ${Object.values(FORMATS).map((f) => f.contentType).join(', ')}` });
  }
  void reply.header('vary', 'accept');
  if (picked === 'json') return reply.type('application/json; charset=utf-8').send(presentInvoice(invoice, view));
  // The other representations are the signed invoice document itself: masked, it would no longer verify (fapiao
  // verify, the QR check), so it is handed out whole, to keys allowed to see the buyer's personal data only.
  if (!view.fullPii) {
    throw new AppError('FORBIDDEN', { detail: 'the invoice document carries the buyer\'s personal data: the API key needs the scope pii:read' });
  }
  const doc = await renderInvoice(invoice, picked);
  const etag = `"${createHash('sha256').update(doc.body).digest('base64url').slice(0, 27)}"`;
  return reply
    .type(doc.contentType)
    .header('etag', etag)
    .header('content-disposition', `attachment; filename="${doc.filename}"`)
    .send(doc.body);
}
