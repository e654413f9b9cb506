// The error registry: every error the server answers has a stable code here. Codes are append-only: never renamed,
// never reused. docs/errors.md is generated from this table and a test keeps the two in sync (npm run docs:errors).

export const ERRORS = {
  VALIDATION_FAILED: { status: 400, title: 'The request does not match the schema' },
  MALFORMED_JSON: { status: 400, title: 'The request body is not valid JSON' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request body must be application/json' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  UNAUTHENTICATED: { status: 401, title: 'A valid API key is required' },
  FORBIDDEN: { status: 403, title: 'The credentials do not allow this action' },
  NOT_FOUND: { status: 404, title: 'No such resource' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'The method is not allowed on this resource' },
  NOT_ACCEPTABLE: { status: 406, title: 'The requested representation is not available' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  INVOICE_NOT_FOUND: { status: 404, title: 'No such invoice' },
  TENANT_NOT_FOUND: { status: 404, title: 'No such tenant' },
  API_KEY_NOT_FOUND: { status: 404, title: 'No such API key' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'The idempotency key was used with a different request body' },
  IDEMPOTENCY_KEY_IN_FLIGHT: { status: 409, title: 'A request with this idempotency key is still being processed' },
  IDEMPOTENCY_KEY_INVALID: { status: 400, title: 'The Idempotency-Key header is malformed' },
  AMOUNT_INVALID: { status: 422, title: 'An amount is not a valid decimal with at most two fractional digits' },
  QUANTITY_INVALID: { status: 422, title: 'A quantity or unit price is not a valid decimal' },
  AMOUNT_MISMATCH: { status: 422, title: 'Quantity × unit price does not match the amount within 0.01' },
  TAX_RATE_NOT_ALLOWED: { status: 422, title: 'The tax rate is not one in use or not allowed for this tenant' },
  TAX_MISMATCH: { status: 422, title: 'The supplied tax is outside the tolerance of amount × rate' },
  TAX_TOTAL_MISMATCH: { status: 422, title: 'The supplied taxes differ from the computed total by more than 1.27' },
  TAX_CODE_INVALID: { status: 422, title: 'The tax classification code must be 19 digits' },
  TAX_ID_CHECKSUM: { status: 422, title: 'The unified social credit code fails its checksum' },
  TAX_ID_INVALID: { status: 422, title: 'The tax ID is not a valid unified social credit code or ID-card number' },
  BUYER_TAX_ID_REQUIRED: { status: 422, title: 'A special VAT invoice requires the buyer tax ID' },
  DISCOUNT_INVALID: { status: 422, title: 'A discount is larger than its line or does not follow a line' },
  LINES_EMPTY: { status: 422, title: 'An invoice needs at least one line' },
  TOTAL_NOT_POSITIVE: { status: 422, title: 'A blue invoice total must be positive' },
  AMOUNT_TOO_LARGE: { status: 422, title: 'An amount exceeds the largest supported value' },
  EXTERNAL_ID_CONFLICT: { status: 409, title: 'The externalId already names another invoice' },
  NUMBER_SERIES_EXHAUSTED: { status: 503, title: 'The invoice number series is exhausted' },
  REGION_CODE_INVALID: { status: 422, title: 'The region code must be two digits' },
  SIGNING_KEY_UNAVAILABLE: { status: 503, title: 'No signing key is available' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'The service is temporarily unavailable' },
  CONFIG_INVALID: { status: 500, title: 'The configuration is invalid' },
  INTERNAL: { status: 500, title: 'Internal server error' },
  SHORT_NAME_REQUIRED: { status: 422, title: 'The tax code has no known short name (简称); send shortName' },
  ADDRESS_NOT_ALLOWED: { status: 403, title: 'This listener does not accept requests from your address' },
  API_KEY_LIMIT: { status: 409, title: 'The tenant already has the maximum number of active API keys' },
  HTTPS_REQUIRED: { status: 403, title: 'API calls must use HTTPS; plaintext calls are refused, not redirected' },
  BLOCKED: { status: 403, title: 'Requests from this address are refused' },
  BANNED: { status: 403, title: 'This address is banned for a while' },
  EXPLOIT_SIGNATURE: { status: 403, title: 'The request matches an exploit signature' },
  EVENT_ID_INVALID: { status: 400, title: 'Last-Event-ID or after is not an event id (a non-negative integer)' },
  EVENT_STREAM_LIMIT: { status: 429, title: 'Too many open event streams' },
  QUOTA_EXCEEDED: { status: 422, title: "The invoice would exceed the tenant's monthly issuing quota (授信额度)" },
  REQUEST_TIMEOUT: { status: 408, title: 'The request was not received in time' },
  HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are too large' },
  MASTER_KEY_UNAVAILABLE: { status: 503, title: 'A master key version that wraps a stored key is not configured' },
  FIELD_PROTECTION_OFF: { status: 503, title: 'Personal-data encryption is not configured (no master key)' },
  STORAGE_UNAVAILABLE: { status: 503, title: 'The database is unreachable or refuses writes (disk full, I/O error); retry later' },
  // Request text and parties (docs/architecture.md, "Text fields").
  TEXT_INVALID: { status: 422, title: 'A text holds a character that is not allowed (a control character, a lone surrogate or a noncharacter)' },
  BUYER_IS_SELLER: { status: 422, title: "The buyer's tax ID is the seller's own" },
  CURSOR_INVALID: { status: 400, title: 'The cursor is not one this server issued' },
  URL_INVALID: { status: 400, title: 'The request target is not a valid URL path' },
  EXPECTATION_FAILED: { status: 417, title: 'The Expect header asks for something this server does not do' },
  URI_TOO_LONG: { status: 414, title: 'A segment of the request path is too long' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface FieldError {
  /** JSON Pointer (RFC 6901) of the field at fault, e.g. `/lines/0/amount`. */
  path: string;
  code: ErrorCode;
  message: string;
}

export interface AppErrorOptions {
  detail?: string;
  /** JSON Pointer of the single field at fault; becomes one entry of `errors`. */
  field?: string;
  errors?: FieldError[];
  cause?: unknown;
  headers?: Record<string, string>;
  /** RFC 9457 §3.2 extension members of the problem (e.g. the quota's `period`, `quota`, `remaining`). */
  extensions?: Record<string, string>;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly extensions: Record<string, string> | undefined;

  constructor(code: ErrorCode, options: AppErrorOptions = {}) {
    const entry = ERRORS[code];
    super(options.detail ?? entry.title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = entry.status;
    this.title = entry.title;
    this.detail = options.detail;
    this.headers = options.headers;
    this.extensions = options.extensions;
    const errors = options.errors ? [...options.errors] : [];
    if (options.field !== undefined) {
      errors.unshift({ path: options.field, code, message: options.detail ?? entry.title });
    }
    this.errors = errors.length > 0 ? errors : undefined;
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
