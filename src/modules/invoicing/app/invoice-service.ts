// Issuing and reading invoices: the use cases behind POST/GET /v1/invoices, the CLI and (later) jobs. Results are
// domain results; how they are shown (masking by scope, formats, status codes) is the presenter's
// (modules/invoicing/http/present.ts).
import { createHash } from 'node:crypto';
import { AppError } from '../../../shared/errors.ts';
import type { Invoice, IssueInvoiceInput } from '../../../shared/invoice.ts';
import { computeInvoice } from '../domain/tax.ts';
import { checkParties } from '../domain/party-rules.ts';
import { isInvoiceNumber } from '../domain/invoice-number.ts';
import { toCents } from '../../../shared/money.ts';
import { canonicalize } from '../../../platform/crypto/canonical-json.ts';
import { InvalidCursor, UniqueViolation } from '../../../platform/storage/storage-errors.ts';
import type { Tenant } from '../../tenants/index.ts';
import type { IdempotencyRecord, InvoicePage, InvoiceQuery } from '../storage/invoice-contract.ts';
import type { IdempotencyRepository } from '../storage/idempotency-repository.ts';
import type { InvoiceRepository } from '../storage/invoice-repository.ts';
import type { IssueWriter, WriteRequest } from './issue-writer.ts';
import type { MaskedInvoice } from '../domain/masking.ts';

/** A search as callers ask it: the page size is optional (default 50, at most `maxPageSize`). */
export type SearchInput = Omit<InvoiceQuery, 'limit'> & { limit?: number };

/**
 * How an issue request was answered: `created` a new invoice; `replayed` the stored response of an earlier request
 * with the same Idempotency-Key (byte for byte); `existing` the invoice issued earlier with the same externalId.
 */
export type IssueOutcome = 'created' | 'replayed' | 'existing';

export interface IssueResult {
  outcome: IssueOutcome;
  number: string;
  /** The invoice's full JSON (buyer unmasked): the stored response for `replayed`, else the invoice as issued. */
  json: string;
  /** For `replayed`: the status the stored record says a replay answers. */
  replayStatus?: number;
}

export interface InvoiceServiceDeps {
  /** The repositories for reads (UnitOfWork.read). */
  read: { invoices: InvoiceRepository; idempotency: IdempotencyRepository };
  writer: IssueWriter;
  taxIdExceptions: readonly string[];
  /** Whether a buyer may carry the seller's own tax ID (config `issuing.allowBuyerIsSeller`). */
  allowBuyerIsSeller: boolean;
  maxPageSize: number;
}

/**
 * Who issues, as the audit entry records it: `apikey:<id>` or `mtls:<fingerprint>`, the client address and the HTTP
 * request's id (also in the envelope of the seller's `invoice.issued`).
 */
export interface IssueActor {
  actor: string;
  ip?: string;
  requestId?: string;
}

export interface IssueOptions {
  idempotencyKey?: string;
  /** What a replay of this request answers (the HTTP adapter's status of a fresh issue). */
  replayStatus: number;
  by?: IssueActor;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export class InvoiceService {
  /** Idempotency keys being processed by this process: a second request with the same key is answered 409. */
  private readonly inFlight = new Set<string>();

  constructor(private readonly deps: InvoiceServiceDeps) {}

  async issue(tenant: Tenant, input: IssueInvoiceInput, opts: IssueOptions): Promise<IssueResult> {
    const { idempotencyKey } = opts;
    if (idempotencyKey === undefined) return this.issueOnce(tenant, input, undefined, opts);
    if (!IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new AppError('IDEMPOTENCY_KEY_INVALID', { detail: 'use 1 to 255 visible ASCII characters, e.g. a UUID' });
    }
    const requestHash = createHash('sha256').update(canonicalize(input)).digest('hex');
    const slot = `${tenant.id}\u0000${idempotencyKey}`;
    if (this.inFlight.has(slot)) throw new AppError('IDEMPOTENCY_KEY_IN_FLIGHT');
    this.inFlight.add(slot);
    try {
      const seen = await this.deps.read.idempotency.get(tenant.id, idempotencyKey);
      if (seen) return replay(seen, requestHash);
      return await this.issueOnce(tenant, input, { key: idempotencyKey, requestHash, statusCode: opts.replayStatus }, opts);
    } finally {
      this.inFlight.delete(slot);
    }
  }

  private async issueOnce(
    tenant: Tenant,
    input: IssueInvoiceInput,
    idempotency: { key: string; requestHash: string; statusCode: number } | undefined,
    opts: IssueOptions,
  ): Promise<IssueResult> {
    if (input.externalId !== undefined) {
      const existing = await this.deps.read.invoices.findByExternalId(tenant.id, input.externalId);
      if (existing) return existingResult(existing);
    }
    const prepared = this.prepare(tenant, input);
    try {
      const issued = await this.deps.writer.write({
        ...prepared,
        ...(idempotency ? { idempotency } : {}),
        ...(opts.by ? { audit: opts.by } : {}),
      });
      return { outcome: 'created', number: issued.invoice.number, json: issued.json };
    } catch (err) {
      if (err instanceof UniqueViolation) return this.afterConflict(tenant, input, idempotency, err);
      throw err;
    }
  }

  /**
   * The rules every issue request passes before it may take a number, and the draft they make: the party rules and the
   * tax math (domain/party-rules.ts, domain/tax.ts), the seller from the tenant. Throws the AppError of the first rule
   * broken. Batch issuance (modules/batches/) validates each item with this, so both paths refuse exactly alike.
   */
  prepare(tenant: Tenant, input: IssueInvoiceInput): Pick<WriteRequest, 'tenantId' | 'regionCode' | 'channel' | 'draft' | 'signingAlgorithm'> {
    checkParties(input, { taxIdExceptions: [...this.deps.taxIdExceptions], sellerTaxId: tenant.taxId, allowBuyerIsSeller: this.deps.allowBuyerIsSeller });
    const { lines, totals } = computeInvoice(input, tenant.allowedRates ? { allowedRates: tenant.allowedRates } : {});
    const seller = {
      name: tenant.name,
      taxId: tenant.taxId,
      ...(tenant.address ? { address: tenant.address } : {}),
      ...(tenant.phone ? { phone: tenant.phone } : {}),
      ...(tenant.bankName ? { bankName: tenant.bankName } : {}),
      ...(tenant.bankAccount ? { bankAccount: tenant.bankAccount } : {}),
    };
    return {
      tenantId: tenant.id,
      regionCode: tenant.regionCode,
      channel: tenant.channel,
      ...(tenant.signingAlgorithm ? { signingAlgorithm: tenant.signingAlgorithm } : {}),
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
    };
  }

  /** Another node committed the same externalId or idempotency key first: answer what it committed. */
  private async afterConflict(
    tenant: Tenant,
    input: IssueInvoiceInput,
    idempotency: { key: string; requestHash: string } | undefined,
    cause: Error,
  ): Promise<IssueResult> {
    if (idempotency) {
      const seen = await this.deps.read.idempotency.get(tenant.id, idempotency.key);
      if (seen) return replay(seen, idempotency.requestHash);
    }
    if (input.externalId !== undefined) {
      const existing = await this.deps.read.invoices.findByExternalId(tenant.id, input.externalId);
      if (existing) return existingResult(existing);
    }
    throw new AppError('EXTERNAL_ID_CONFLICT', { cause });
  }

  async get(tenantId: string, number: string): Promise<Invoice> {
    const invoice = isInvoiceNumber(number) ? await this.deps.read.invoices.get(tenantId, number) : undefined;
    // Another tenant's invoice is indistinguishable from a missing one (docs/design.md §4.7).
    if (!invoice) throw new AppError('INVOICE_NOT_FOUND', { field: '/number' });
    return invoice;
  }

  /** get for a caller without `pii:read`: the buyer masked, from the stored masked form (nothing decrypted). */
  async getMasked(tenantId: string, number: string): Promise<MaskedInvoice> {
    const invoice = isInvoiceNumber(number) ? await this.deps.read.invoices.getMasked(tenantId, number) : undefined;
    if (!invoice) throw new AppError('INVOICE_NOT_FOUND', { field: '/number' });
    return invoice;
  }

  search(tenantId: string, query: SearchInput): Promise<InvoicePage> {
    return this.searchWith(query, (q) => this.deps.read.invoices.search(tenantId, q));
  }

  /** search for a caller without `pii:read`: every item masked, nothing decrypted. */
  searchMasked(tenantId: string, query: SearchInput): Promise<InvoicePage<MaskedInvoice>> {
    return this.searchWith(query, (q) => this.deps.read.invoices.searchMasked(tenantId, q));
  }

  private async searchWith<T extends Invoice>(query: SearchInput, run: (q: InvoiceQuery) => Promise<InvoicePage<T>>): Promise<InvoicePage<T>> {
    for (const k of ['minTotal', 'maxTotal'] as const) {
      const v = query[k];
      if (v !== undefined) toCents(v, `/${k}`);
    }
    const limit = Math.min(query.limit ?? 50, this.deps.maxPageSize);
    try {
      return await run({ ...query, limit });
    } catch (err) {
      if (err instanceof InvalidCursor) {
        throw new AppError('CURSOR_INVALID', { field: 'querystring:/cursor', detail: 'use the nextCursor of a previous page, unchanged', cause: err });
      }
      throw err;
    }
  }
}

function replay(seen: IdempotencyRecord, requestHash: string): IssueResult {
  if (seen.requestHash !== requestHash) throw new AppError('IDEMPOTENCY_KEY_REUSED');
  const number = (JSON.parse(seen.body) as { number: string }).number;
  return { outcome: 'replayed', number, json: seen.body, replayStatus: seen.statusCode };
}

function existingResult(invoice: Invoice): IssueResult {
  return { outcome: 'existing', number: invoice.number, json: JSON.stringify(invoice) };
}
