// Plausible, unsigned invoices for storage tests. Amounts are built from integer cents; nothing here checks tax math.
import type { Invoice, InvoiceStatus } from '../../src/shared/invoice.ts';
import type { IssueBatch, PendingIssue } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { invoiceJsonWithoutLedger } from '../../src/modules/invoicing/domain/invoice-json.ts';
import { ledgerLeafOf } from '../../src/modules/ledger/index.ts';

export interface InvoiceSpec {
  issueDate?: string;
  /** Total with tax in cents (default 11300 = "113.00"). */
  totalCents?: number;
  buyerTaxId?: string;
  externalId?: string;
  status?: InvoiceStatus;
  idempotencyKey?: string;
}

/** A 20-digit number: series `YYRRC` + 15-digit sequence. */
export function invoiceNumber(series: string, seq: number): string {
  return series + String(seq).padStart(15, '0');
}

export function formatCents(cents: number): string {
  const abs = Math.abs(cents);
  return `${cents < 0 ? '-' : ''}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

export function makeInvoice(number: string, spec: InvoiceSpec = {}): Omit<Invoice, 'ledger'> {
  const issueDate = spec.issueDate ?? '2026-11-24';
  const totalCents = spec.totalCents ?? 11300;
  const taxCents = Math.round((totalCents * 13) / 113);
  const amount = formatCents(totalCents - taxCents);
  const tax = formatCents(taxCents);
  const total = formatCents(totalCents);
  const invoice: Omit<Invoice, 'ledger'> = {
    number,
    type: 'normal',
    kind: 'blue',
    issuedAt: `${issueDate}T14:03:05.123+08:00`,
    issueDate,
    seller: { name: '上海示例科技有限公司', taxId: '91310000MA1FL0000X' },
    buyer: { name: '北京买方贸易有限公司', ...(spec.buyerTaxId !== undefined ? { taxId: spec.buyerTaxId } : {}) },
    lines: [
      { lineNo: 1, kind: 'item', name: '*信息技术服务*软件维护', taxCode: '3040201000000000000', amount, taxRate: '0.13', tax, total },
    ],
    priceIncludesTax: false,
    totals: { amount, tax, total, totalInCapitals: '壹佰壹拾叁圆整' },
    issuer: '张三',
    ...(spec.externalId !== undefined ? { externalId: spec.externalId } : {}),
    status: spec.status ?? 'normal',
    hash: 'ab'.repeat(32),
    signature: { alg: 'SM2-SM3', keyId: 'key-1', value: 'MEUCIQ==' },
    qr: `https://verify.example/verify?qr=01,32,,${number}`,
  };
  return invoice;
}

export function makePending(tenantId: string, number: string, spec: InvoiceSpec = {}): PendingIssue {
  const invoice = makeInvoice(number, spec);
  const pending: PendingIssue = {
    tenantId,
    invoice,
    leaf: ledgerLeafOf(invoice),
    json: invoiceJsonWithoutLedger(invoice),
    audit: { actor: `apikey:${tenantId}`, ip: '192.0.2.1' },
  };
  if (spec.idempotencyKey !== undefined) pending.idempotency = { key: spec.idempotencyKey, requestHash: `req-${spec.idempotencyKey}`, statusCode: 201 };
  return pending;
}

/** A batch numbered consecutively from firstSeq, one item per spec. */
export function makeBatch(tenantId: string, series: string, firstSeq: number, specs: InvoiceSpec[]): IssueBatch {
  return {
    series,
    firstSeq,
    items: specs.map((spec, i) => makePending(tenantId, invoiceNumber(series, firstSeq + i), spec)),
  };
}
