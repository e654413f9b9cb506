// The invoice model shared by every layer. Amounts, quantities, prices and rates are decimal strings: they never pass
// through a binary float (docs/invoice-rules.md, "Lines and tax math").
import type { SignatureAlg } from './signing.ts';

/** 专票 (special VAT invoice, type code 81 / QR 31) or 普票 (ordinary invoice, type code 82 / QR 32). */
export type InvoiceType = 'special' | 'normal';
/** Blue is an ordinary invoice; red reverses all or part of a blue one. */
export type InvoiceKind = 'blue' | 'red';
/** Face status: red-flushed in part or in full once red invoices reverse it. */
export type InvoiceStatus = 'normal' | 'red-flushed-partial' | 'red-flushed';
/** Lines with a special tax treatment: 免税 (exempt, tax printed `***`), 不征税 (not taxable). Zero-rated is rate "0". */
export type TaxExemption = 'exempt' | 'non-taxable';

export interface Party {
  name: string;
  /** Unified social credit code (18 chars) or, for an individual buyer, an ID-card number. */
  taxId?: string;
  address?: string;
  phone?: string;
  bankName?: string;
  bankAccount?: string;
  email?: string;
}

/** One line as the caller sends it. */
export interface LineInput {
  name: string;
  /** 19-digit tax classification code (税收分类编码). */
  taxCode: string;
  /** The short name printed as `*简称*`; taken from the tax code's table when absent. */
  shortName?: string;
  spec?: string;
  unit?: string;
  quantity?: string;
  unitPrice?: string;
  /** Line amount, excluding tax or including it per `priceIncludesTax`. */
  amount: string;
  /** "0.13", "0.09", "0.06", "0.05", "0.03", "0.01" or "0"; absent when `taxExemption` is given. */
  taxRate?: string;
  taxExemption?: TaxExemption;
  /** Tax the caller computed itself; checked against ours within the platform tolerances, never trusted. */
  tax?: string;
  /** A discount on this line (positive decimal, same basis as `amount`): issued as a 折扣行 directly after it. */
  discount?: string;
}

export interface IssueInvoiceInput {
  type: InvoiceType;
  buyer: Party;
  lines: LineInput[];
  priceIncludesTax?: boolean;
  remarks?: string;
  /** 开票人: the person issuing. */
  issuer: string;
  externalId?: string;
}

/** One computed line as stored, signed and shown. */
export interface InvoiceLine {
  /** 1-based position. */
  lineNo: number;
  kind: 'item' | 'discount';
  /** The printed item name `*简称*名称`. */
  name: string;
  taxCode: string;
  spec?: string;
  unit?: string;
  quantity?: string;
  /** Unit price excluding tax. */
  unitPrice?: string;
  /** Amount excluding tax, 2 decimals. */
  amount: string;
  /** Rate as a decimal string ("0.13"); "0" for zero-rated, exempt and not-taxable lines. */
  taxRate: string;
  taxExemption?: TaxExemption;
  /** Tax, 2 decimals. */
  tax: string;
  /** amount + tax. */
  total: string;
}

export interface InvoiceTotals {
  amount: string;
  tax: string;
  total: string;
  totalInCapitals: string;
}

/** What is canonicalised (RFC 8785), hashed (SM3) and signed (SM2, or the tenant's algorithm): the face of the invoice, nothing mutable. */
export interface SignedInvoiceBody {
  number: string;
  type: InvoiceType;
  kind: InvoiceKind;
  /** ISO 8601 with offset, e.g. `2026-11-24T14:03:05.123+08:00`. */
  issuedAt: string;
  /** Issue date in the tax zone (Asia/Shanghai), `YYYY-MM-DD`. */
  issueDate: string;
  seller: Party;
  buyer: Party;
  lines: InvoiceLine[];
  priceIncludesTax: boolean;
  totals: InvoiceTotals;
  remarks?: string;
  issuer: string;
  externalId?: string;
  /** For a red invoice: the blue invoice it reverses. */
  originalNumber?: string;
  /** For a red invoice: the confirmation form number. */
  redLetterFormId?: string;
}

export interface InvoiceSignature {
  /** The scheme (shared/signing.ts): `SM2-SM3`, or `ECDSA-P256-SHA256` / `Ed25519` for the international profile. */
  alg: SignatureAlg;
  /** The signing key (GET /v1/keys), whose algorithm is the scheme's. */
  keyId: string;
  /** Base64: SM2 and ECDSA the DER-encoded (r, s), Ed25519 the 64-byte R‖S of RFC 8032. */
  value: string;
}

/** A stored invoice: the signed body plus what the server attaches to it. */
export interface Invoice extends SignedInvoiceBody {
  status: InvoiceStatus;
  /** Lower-case hex SM3 of the canonical JSON of the signed body. */
  hash: string;
  signature: InvoiceSignature;
  /** The QR payload string. */
  qr: string;
  ledger: { index: number };
}

export const INVOICE_TYPE_CODE: Record<InvoiceType, string> = { special: '81', normal: '82' };
export const QR_TYPE_CODE: Record<InvoiceType, string> = { special: '31', normal: '32' };
