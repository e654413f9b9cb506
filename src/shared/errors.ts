// The error registry: every error the server answers has a stable code and title here. Codes are append-only: never
// renamed, never reused (docs/errors-released.json lists every released code with its status; a test keeps it so).
// How a code is answered over HTTP (its status) is decided at the HTTP boundary, src/platform/http/error-status.ts.
// docs/errors.md is generated from both and a test keeps them in sync (npm run docs:errors).

export const ERRORS = {
  VALIDATION_FAILED: { title: 'The request does not match the schema' },
  MALFORMED_JSON: { title: 'The request body is not valid JSON' },
  UNSUPPORTED_MEDIA_TYPE: { title: 'The request body must be application/json' },
  PAYLOAD_TOO_LARGE: { title: 'The request body is too large' },
  UNAUTHENTICATED: { title: 'A valid API key is required' },
  FORBIDDEN: { title: 'The credentials do not allow this action' },
  NOT_FOUND: { title: 'No such resource' },
  METHOD_NOT_ALLOWED: { title: 'The method is not allowed on this resource' },
  NOT_ACCEPTABLE: { title: 'The requested representation is not available' },
  RATE_LIMITED: { title: 'Too many requests' },
  INVOICE_NOT_FOUND: { title: 'No such invoice' },
  TENANT_NOT_FOUND: { title: 'No such tenant' },
  API_KEY_NOT_FOUND: { title: 'No such API key' },
  IDEMPOTENCY_KEY_REUSED: { title: 'The idempotency key was used with a different request body' },
  IDEMPOTENCY_KEY_IN_FLIGHT: { title: 'A request with this idempotency key is still being processed' },
  IDEMPOTENCY_KEY_INVALID: { title: 'The Idempotency-Key header is malformed' },
  AMOUNT_INVALID: { title: 'An amount is not a valid decimal with at most two fractional digits' },
  QUANTITY_INVALID: { title: 'A quantity or unit price is not a valid decimal' },
  AMOUNT_MISMATCH: { title: 'Quantity × unit price does not match the amount within 0.01' },
  TAX_RATE_NOT_ALLOWED: { title: 'The tax rate is not one in use or not allowed for this tenant' },
  TAX_MISMATCH: { title: 'The supplied tax is outside the tolerance of amount × rate' },
  TAX_TOTAL_MISMATCH: { title: 'The supplied taxes differ from the computed total by more than 1.27' },
  TAX_CODE_INVALID: { title: 'The tax classification code must be 19 digits' },
  TAX_ID_CHECKSUM: { title: 'The unified social credit code fails its checksum' },
  TAX_ID_INVALID: { title: 'The tax ID is not a valid unified social credit code or ID-card number' },
  BUYER_TAX_ID_REQUIRED: { title: 'A special VAT invoice requires the buyer tax ID' },
  DISCOUNT_INVALID: { title: 'A discount is larger than its line or does not follow a line' },
  LINES_EMPTY: { title: 'An invoice needs at least one line' },
  TOTAL_NOT_POSITIVE: { title: 'A blue invoice total must be positive' },
  AMOUNT_TOO_LARGE: { title: 'An amount exceeds the largest supported value' },
  EXTERNAL_ID_CONFLICT: { title: 'The externalId already names another invoice' },
  NUMBER_SERIES_EXHAUSTED: { title: 'The invoice number series is exhausted' },
  REGION_CODE_INVALID: { title: 'The region code must be two digits' },
  SIGNING_KEY_UNAVAILABLE: { title: 'No signing key is available' },
  SERVICE_UNAVAILABLE: { title: 'The service is temporarily unavailable' },
  CONFIG_INVALID: { title: 'The configuration is invalid' },
  INTERNAL: { title: 'Internal server error' },
  SHORT_NAME_REQUIRED: { title: 'The tax code has no known short name (简称); send shortName' },
  ADDRESS_NOT_ALLOWED: { title: 'This listener does not accept requests from your address' },
  API_KEY_LIMIT: { title: 'The tenant already has the maximum number of active API keys' },
  HTTPS_REQUIRED: { title: 'API calls must use HTTPS; plaintext calls are refused, not redirected' },
  BLOCKED: { title: 'Requests from this address are refused' },
  BANNED: { title: 'This address is banned for a while' },
  EXPLOIT_SIGNATURE: { title: 'The request matches an exploit signature' },
  EVENT_ID_INVALID: { title: 'Last-Event-ID or after is not an event id (a non-negative integer)' },
  EVENT_STREAM_LIMIT: { title: 'Too many open event streams' },
  QUOTA_EXCEEDED: { title: "The invoice would exceed the tenant's monthly issuing quota (授信额度)" },
  REQUEST_TIMEOUT: { title: 'The request was not received in time' },
  HEADERS_TOO_LARGE: { title: 'The request headers are too large' },
  MASTER_KEY_UNAVAILABLE: { title: 'A master key version that wraps a stored key is not configured' },
  FIELD_PROTECTION_OFF: { title: 'Personal-data encryption is not configured (no master key)' },
  STORAGE_UNAVAILABLE: { title: 'The database is unreachable or refuses writes (disk full, I/O error); retry later' },
  // Request text and parties (docs/architecture.md, "Text fields").
  TEXT_INVALID: { title: 'A text holds a character that is not allowed (a control character, a lone surrogate or a noncharacter)' },
  BUYER_IS_SELLER: { title: "The buyer's tax ID is the seller's own" },
  CURSOR_INVALID: { title: 'The cursor is not one this server issued' },
  URL_INVALID: { title: 'The request target is not a valid URL path' },
  EXPECTATION_FAILED: { title: 'The Expect header asks for something this server does not do' },
  URI_TOO_LONG: { title: 'A segment of the request path is too long' },
  // Red-letter confirmation forms (modules/red-letter/).
  RED_LETTER_FORM_NOT_FOUND: { title: 'No such red-letter confirmation form' },
  RED_LETTER_REASON_INVALID: { title: 'The reason is not one of the red-letter reason codes' },
  RED_LETTER_TARGET_RED: { title: 'A red invoice cannot be reversed; name the blue invoice' },
  RED_LETTER_LINE_INVALID: { title: 'A line of the reversal is out of range, named twice, or not reversible as asked' },
  RED_LETTER_OVER_REVERSAL: { title: 'The reversal is more than what remains unreversed of the invoice' },
  RED_LETTER_TRANSITION_REFUSED: { title: 'The confirmation form cannot make this move from its current state' },
  RED_LETTER_FORM_EXPIRED: { title: 'The confirmation form was not confirmed within 72 hours and is void' },
  LEDGER_SIZE_INVALID: { title: 'A tree size is not one of the log, or from is larger than to' },
  WEBHOOK_NOT_FOUND: { title: 'No such webhook endpoint' },
  WEBHOOK_DELIVERY_NOT_FOUND: { title: 'No such webhook delivery' },
  WEBHOOK_URL_REFUSED: { title: 'The webhook URL is not an allowed target' },
  WEBHOOK_LIMIT: { title: 'The tenant has as many webhook endpoints as allowed' },
  // Statements and reconciliations (modules/reconciliation/).
  STATEMENT_PERIOD_INVALID: { title: 'The period is not a month YYYY-MM, or from and to are not dates with from not after to' },
  RECONCILIATION_NOT_FOUND: { title: 'No such reconciliation' },
  RECONCILIATION_UPLOAD_INVALID: { title: 'The upload cannot be read: a CSV header without the needed columns, or no data line' },
  // Batch issuance (modules/batches/).
  INVOICE_BATCH_NOT_FOUND: { title: 'No such invoice batch' },
  BATCH_TOO_LARGE: { title: 'The batch holds more invoices than allowed' },
  BATCH_EMPTY: { title: 'The batch holds no invoice' },
  EXTERNAL_ID_REQUIRED: { title: 'An invoice of a batch needs an externalId, its idempotency key' },
  EXTERNAL_ID_DUPLICATE: { title: 'The externalId names another invoice of the same batch' },
  EMAIL_NOT_CONFIGURED: { title: 'This server has no SMTP server configured for e-mail delivery' },
  EMAIL_RECIPIENT_MISSING: { title: 'No recipient: the invoice has no buyer e-mail and the request names none' },
} as const satisfies Record<string, { title: string }>;

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
  /**
   * A refusal of load shedding: counted and reported in aggregate (platform/http/shed-report.ts), never logged per
   * request, and made without a stack trace (it would only cost the overloaded loop).
   */
  shed?: boolean;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly extensions: Record<string, string> | undefined;
  readonly shed: boolean;

  constructor(code: ErrorCode, options: AppErrorOptions = {}) {
    const entry = ERRORS[code];
    const stackLimit = Error.stackTraceLimit;
    if (options.shed) Error.stackTraceLimit = 0;
    super(options.detail ?? entry.title, options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = stackLimit;
    this.shed = options.shed === true;
    this.name = 'AppError';
    this.code = code;
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
