// Issuing and reading invoices: the use cases behind POST/GET /v1/invoices, the CLI and (later) jobs.
import { createHash } from 'node:crypto';
import { AppError } from '../../../shared/errors.ts';
import type { Invoice, IssueInvoiceInput } from '../domain/invoice.ts';
import { computeInvoice } from '../domain/tax.ts';
import { checkParties } from '../domain/party-rules.ts';
import { isInvoiceNumber } from '../domain/invoice-number.ts';
import { toCents } from '../../../shared/money.ts';
import { canonicalize } from '../../../platform/crypto/canonical-json.ts';
import { maskParty } from '../domain/masking.ts';
import { InvalidCursor, type IdempotencyRepository, type InvoicePage, type InvoiceQuery, type InvoiceRepository, type Tenant } from '../../../platform/storage/storage.ts';
import type { IssueWriter } from './issue-writer.ts';

export interface IssueResult {
  status: 200 | 201;
  /** The exact response body (a replay answers byte for byte). */
  body: string;
  /** True when this answers a request seen before (idempotency key or externalId). */
  replayed: boolean;
  number: string;
}

export interface InvoiceServiceDeps {
  invoices: InvoiceRepository;
  idempotency: IdempotencyRepository;
  writer: IssueWriter;
  taxIdExceptions: readonly string[];
  maxPageSize: number;
  /** Accept a buyer whose tax ID is the seller's own (config issuing.allowBuyerIsSeller). */
  allowBuyerIsSeller?: boolean;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** Who sees the buyer's personal data: only API keys with the `pii:read` scope get full values. */
export interface PresentOptions {
  fullPii: boolean;
}

/** Who issues, as the audit entry records it: `apikey:<id>` or `cert:<fingerprint>`, and the client address. */
export interface IssueActor {
  actor: string;
  ip?: string;
}

/** The invoice as shown to a caller without `pii:read`: the buyer masked (modules/invoicing/domain/masking.ts), every key in place. */
export function maskInvoice(invoice: Invoice): Invoice {
  return { ...invoice, buyer: maskParty(invoice.buyer) };
}

/** The JSON the API answers for an invoice. */
export function presentInvoice(invoice: Invoice, opts: PresentOptions): string {
  return JSON.stringify(opts.fullPii ? invoice : maskInvoice(invoice));
}

/**
 * A stored full response body as shown to this caller. Issuance stores the full body (encrypted at rest) and masks
 * on the way out, the first answer and every replay alike: a replay by the same kind of key is byte for byte the
 * first answer, and a replay by a key without `pii:read` never sees what a key with it was answered.
 */
function presentBody(fullBody: string, opts: PresentOptions): string {
  return opts.fullPii ? fullBody : presentInvoice(JSON.parse(fullBody) as Invoice, opts);
}

const FULL: PresentOptions = { fullPii: true };

export class InvoiceService {
  /** Idempotency keys being processed by this process: a second request with the same key is answered 409. */
  private readonly inFlight = new Set<string>();

  constructor(private readonly deps: InvoiceServiceDeps) {}

  async issue(
    tenant: Tenant,
    input: IssueInvoiceInput,
    idempotencyKey?: string,
    view: PresentOptions = { fullPii: false },
    by?: IssueActor,
  ): Promise<IssueResult> {
    const result = await this.issueFull(tenant, input, idempotencyKey, by);
    return { ...result, body: presentBody(result.body, view) };
  }

  /** issue() answering the full body (stored as the idempotent response). */
  private async issueFull(tenant: Tenant, input: IssueInvoiceInput, idempotencyKey?: string, by?: IssueActor): Promise<IssueResult> {
    if (idempotencyKey === undefined) return this.issueOnce(tenant, input, undefined, by);
    if (!IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new AppError('IDEMPOTENCY_KEY_INVALID', { detail: 'use 1 to 255 visible ASCII characters, e.g. a UUID' });
    }
    const requestHash = createHash('sha256').update(canonicalize(input)).digest('hex');
    const slot = `${tenant.id}\u0000${idempotencyKey}`;
    if (this.inFlight.has(slot)) throw new AppError('IDEMPOTENCY_KEY_IN_FLIGHT');
    this.inFlight.add(slot);
    try {
      const seen = await this.deps.idempotency.get(tenant.id, idempotencyKey);
      if (seen) return this.replay(seen, requestHash);
      return await this.issueOnce(tenant, input, { key: idempotencyKey, requestHash }, by);
    } finally {
      this.inFlight.delete(slot);
    }
  }

  private replay(seen: { requestHash: string; statusCode: number; body: string }, requestHash: string): IssueResult {
    if (seen.requestHash !== requestHash) throw new AppError('IDEMPOTENCY_KEY_REUSED');
    const number = (JSON.parse(seen.body) as { number: string }).number;
    return { status: seen.statusCode === 200 ? 200 : 201, body: seen.body, replayed: true, number };
  }

  private async issueOnce(
    tenant: Tenant,
    input: IssueInvoiceInput,
    idempotency?: { key: string; requestHash: string },
    by?: IssueActor,
  ): Promise<IssueResult> {
    if (input.externalId !== undefined) {
      const existing = await this.deps.invoices.findByExternalId(tenant.id, input.externalId);
      if (existing) return { status: 200, body: presentInvoice(existing, FULL), replayed: true, number: existing.number };
    }
    checkParties(input, {
      taxIdExceptions: [...this.deps.taxIdExceptions], sellerTaxId: tenant.taxId, allowBuyerIsSeller: this.deps.allowBuyerIsSeller === true,
    });
    const { lines, totals } = computeInvoice(input, tenant.allowedRates ? { allowedRates: tenant.allowedRates } : {});
    const seller = {
      name: tenant.name,
      taxId: tenant.taxId,
      ...(tenant.address ? { address: tenant.address } : {}),
      ...(tenant.phone ? { phone: tenant.phone } : {}),
      ...(tenant.bankName ? { bankName: tenant.bankName } : {}),
      ...(tenant.bankAccount ? { bankAccount: tenant.bankAccount } : {}),
    };
    try {
      const invoice = await this.deps.writer.write({
        tenantId: tenant.id,
        regionCode: tenant.regionCode,
        channel: tenant.channel,
        draft: {
          type: input.type,
          kind: 'blue',
          seller,
          buyer: { ...input.buyer },
          lines,
          priceIncludesTax: input.priceIncludesTax ?? false,
          totals,
          ...(input.remarks !== undefined ? { remarks: input.remarks } : {}),
          issuer: input.issuer,
          ...(input.externalId !== undefined ? { externalId: input.externalId } : {}),
        },
        ...(idempotency ? { idempotency } : {}),
        ...(by ? { audit: by } : {}),
        render: (inv: Invoice) => presentInvoice(inv, FULL),
      });
      return { status: 201, body: presentInvoice(invoice, FULL), replayed: false, number: invoice.number };
    } catch (err) {
      if (err instanceof Error && err.name === 'UniqueViolation') return this.afterConflict(tenant, input, idempotency, err);
      throw err;
    }
  }

  /** Another node committed the same externalId or idempotency key first: answer what it committed. */
  private async afterConflict(
    tenant: Tenant,
    input: IssueInvoiceInput,
    idempotency: { key: string; requestHash: string } | undefined,
    cause: Error,
  ): Promise<IssueResult> {
    if (idempotency) {
      const seen = await this.deps.idempotency.get(tenant.id, idempotency.key);
      if (seen) return this.replay(seen, idempotency.requestHash);
    }
    if (input.externalId !== undefined) {
      const existing = await this.deps.invoices.findByExternalId(tenant.id, input.externalId);
      if (existing) return { status: 200, body: presentInvoice(existing, FULL), replayed: true, number: existing.number };
    }
    throw new AppError('EXTERNAL_ID_CONFLICT', { cause });
  }

  async get(tenantId: string, number: string): Promise<Invoice> {
    const invoice = isInvoiceNumber(number) ? await this.deps.invoices.get(tenantId, number) : undefined;
    // Another tenant's invoice is indistinguishable from a missing one (DESIGN.md §4.7).
    if (!invoice) throw new AppError('INVOICE_NOT_FOUND', { field: '/number' });
    return invoice;
  }

  async search(tenantId: string, query: Omit<InvoiceQuery, 'limit'> & { limit?: number }): Promise<InvoicePage> {
    for (const k of ['minTotal', 'maxTotal'] as const) {
      const v = query[k];
      if (v !== undefined) toCents(v, `/${k}`);
    }
    const limit = Math.min(query.limit ?? 50, this.deps.maxPageSize);
    try {
      return await this.deps.invoices.search(tenantId, { ...query, limit });
    } catch (err) {
      if (err instanceof InvalidCursor) throw new AppError('CURSOR_INVALID', { field: 'querystring:/cursor', cause: err });
      throw err;
    }
  }
}
