// Storage contract: engine-neutral errors, so services can map them without knowing the engine.

/** The names UniqueViolation.constraint carries, identical on every engine. */
export const UniqueConstraint = {
  tenantId: 'tenants_pkey',
  apiKeyId: 'api_keys_pkey',
  apiKeyHash: 'api_keys_key_hash_uq',
  signingKeyId: 'signing_keys_pkey',
  invoiceNumber: 'invoices_number_uq',
  invoiceExternalId: 'invoices_external_id_uq',
  idempotencyKey: 'idempotency_keys_pkey',
} as const;

/** Thrown by search for a cursor this storage did not issue (map to 400). */
export class InvalidCursor extends Error {
  constructor() {
    super('invalid cursor');
    this.name = 'InvalidCursor';
  }
}

/** Thrown by storage for a unique-constraint violation, so services can map it without knowing the engine. */
export class UniqueViolation extends Error {
  constructor(
    readonly constraint: string,
    options?: { cause?: unknown },
  ) {
    super(`unique constraint violated: ${constraint}`, options);
    this.name = 'UniqueViolation';
  }
}
