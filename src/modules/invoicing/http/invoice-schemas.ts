// Request and response schemas: one source for validation, TypeScript types and the OpenAPI description.
// Every object refuses unknown fields; amounts are decimal strings (docs/design.md §6), checked in depth by the domain.
// Every string of a request has a pattern, a format or a list of values: free text follows the text rules of
// shared/text-rules.ts (Text below), so nothing that cannot be stored, signed and rendered gets past validation.
import { Type, type Static } from 'typebox';
import { Text } from '../../../platform/http/schemas.ts';

const Decimal = (description: string) =>
  Type.String({ pattern: '^-?[0-9]{1,15}(\\.[0-9]{1,13})?$', maxLength: 32, description, examples: ['113.00'] });

export const PartySchema = Type.Object(
  {
    name: Text(100, 'Name of the company or person'),
    taxId: Type.Optional(Type.String({ pattern: '^[0-9A-Z]{15,20}$', description: 'Unified social credit code, or ID-card number of a person' })),
    address: Type.Optional(Text(200)),
    phone: Type.Optional(Type.String({ pattern: '^[0-9+()\\- ]{3,30}$' })),
    bankName: Type.Optional(Text(100)),
    bankAccount: Type.Optional(Type.String({ pattern: '^[0-9 ]{4,40}$' })),
    email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
  },
  { additionalProperties: false },
);

export const LineInputSchema = Type.Object(
  {
    name: Text(100, 'Item name; printed as *简称*名称'),
    taxCode: Type.String({ pattern: '^[0-9]{19}$', description: '19-digit tax classification code (税收分类编码)' }),
    shortName: Type.Optional(Text(30, 'Short name (简称) when the tax code is not in the built-in table')),
    spec: Type.Optional(Text(100)),
    unit: Type.Optional(Text(20)),
    quantity: Type.Optional(Decimal('Quantity')),
    unitPrice: Type.Optional(Decimal('Unit price, on the same basis as amount')),
    amount: Decimal('Line amount, excluding tax (or including it when priceIncludesTax)'),
    taxRate: Type.Optional(Type.String({ pattern: '^0(\\.[0-9]{1,2})?$', description: 'One of 0.13 0.09 0.06 0.05 0.03 0.01 0' })),
    taxExemption: Type.Optional(Type.Union([Type.Literal('exempt'), Type.Literal('non-taxable')])),
    tax: Type.Optional(Decimal('Tax as computed by the caller; checked against the platform tolerances')),
    discount: Type.Optional(Decimal('Discount on this line, issued as a 折扣行 after it')),
  },
  { additionalProperties: false },
);

export const IssueInvoiceSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('normal'), Type.Literal('special')], { description: 'normal 普票 | special 专票' }),
    buyer: PartySchema,
    lines: Type.Array(LineInputSchema, { minItems: 1, maxItems: 2000 }),
    priceIncludesTax: Type.Optional(Type.Boolean({ default: false })),
    remarks: Type.Optional(Text(230, { minLength: 0, multiline: true, description: 'Printed in 备注; line breaks allowed' })),
    issuer: Text(20, '开票人'),
    externalId: Type.Optional(Type.String({ pattern: '^[\\x21-\\x7e]{1,64}$', description: 'Your own id; unique per tenant' })),
  },
  { additionalProperties: false },
);
export type IssueInvoiceBody = Static<typeof IssueInvoiceSchema>;

export const NumberParams = Type.Object(
  { number: Type.String({ pattern: '^[0-9]{20}$', description: '20-digit invoice number' }) },
  { additionalProperties: false },
);

const Flag = (description: string) => Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description }));

export const GetInvoiceQuery = Type.Object(
  {
    format: Type.Optional(Type.Union(['json', 'xml', 'pdf', 'ofd', 'ubl'].map((f) => Type.Literal(f)))),
    buyerDetails: Flag('PDF and OFD: print the buyer\'s address, phone, bank and account in 备注 (`true`) or not (`false`) for this download; default: the tenant\'s document settings.'),
    sellerDetails: Flag('PDF and OFD: print the seller\'s address, phone, bank and account in 备注 for this download; default: the tenant\'s document settings.'),
  },
  { additionalProperties: false },
);

const DateString = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'YYYY-MM-DD' });

export const SearchQuery = Type.Object(
  {
    issuedFrom: Type.Optional(DateString),
    issuedTo: Type.Optional(DateString),
    buyerTaxId: Type.Optional(Type.String({ pattern: '^[0-9A-Z]{15,20}$' })),
    buyerPhone: Type.Optional(Text(40, 'Any spelling: +86 139-1234-5678 ≡ 13912345678')),
    buyerEmail: Type.Optional(Text(254, { minLength: 3, description: 'Case-insensitive' })),
    status: Type.Optional(Type.Union([Type.Literal('normal'), Type.Literal('red-flushed-partial'), Type.Literal('red-flushed')])),
    minTotal: Type.Optional(Decimal('Smallest total with tax')),
    maxTotal: Type.Optional(Decimal('Largest total with tax')),
    updatedSince: Type.Optional(Type.String({ format: 'date-time' })),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: 'Page size (default 50, capped)' })),
    cursor: Type.Optional(Text(512, { minLength: 0 })),
  },
  { additionalProperties: false },
);
export type SearchQueryInput = Static<typeof SearchQuery>;

const Money = Type.String({ examples: ['113.00'] });
export const InvoiceResponseSchema = Type.Object(
  {
    number: Type.String(),
    type: Type.String(),
    kind: Type.String(),
    status: Type.String(),
    issuedAt: Type.String(),
    issueDate: Type.String(),
    seller: Type.Object({}, { additionalProperties: true }),
    buyer: Type.Object({}, { additionalProperties: true }),
    lines: Type.Array(Type.Object({}, { additionalProperties: true })),
    priceIncludesTax: Type.Boolean(),
    totals: Type.Object({ amount: Money, tax: Money, total: Money, totalInCapitals: Type.String() }),
    issuer: Type.String(),
    hash: Type.String({ description: 'SM3 of the canonical (RFC 8785) signed body, hex' }),
    signature: Type.Object({
      alg: Type.String({ description: 'The scheme, by the algorithm of the key (GET /v1/keys `alg`): `SM2-SM3` (SM2), `ECDSA-P256-SHA256` (ECDSA-P256) or `Ed25519`' }),
      keyId: Type.String({ description: 'The signing key in GET /v1/keys' }),
      value: Type.String({ description: 'base64: the DER-encoded (r, s) for SM2-SM3 and ECDSA-P256-SHA256, the 64-byte R‖S (RFC 8032) for Ed25519' }),
    }),
    qr: Type.String(),
    ledger: Type.Object({ index: Type.Integer() }),
  },
  { additionalProperties: true },
);

