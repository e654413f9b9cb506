// Content negotiation for one invoice: ?format= wins, then Accept. JSON is answered pre-serialised.
import type { FastifyReply } from 'fastify';
import { AppError } from '../../errors.ts';
import type { Invoice } from '../../domain/invoice.ts';
import { presentInvoice } from '../../services/invoice-service.ts';

export async function renderInvoiceResponse(
  reply: FastifyReply,
  invoice: Invoice,
  format: string | undefined,
  accept: string | undefined,
): Promise<FastifyReply> {
  const wantsJson = format === 'json' || (format === undefined && (!accept || /application\/json|\*\/\*/.test(accept)));
  if (wantsJson) return reply.type('application/json; charset=utf-8').send(presentInvoice(invoice));
  throw new AppError('NOT_ACCEPTABLE', { detail: 'available: json' });
}
