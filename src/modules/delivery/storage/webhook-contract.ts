// Storage contract of webhook subscriptions and deliveries (tables webhook_endpoints, webhook_deliveries, 0011).

export interface WebhookEndpoint {
  tenantId: string;
  id: string;
  url: string;
  eventTypes: string[];
  description: string;
  enabled: boolean;
  /** Why the server disabled it (`gone`: the endpoint answered 410), or null. */
  disabledReason: string | null;
  createdAt: string;
  updatedAt: string;
}

/** An endpoint with its sealed secrets, for signing (never leaves the delivery module). */
export interface WebhookEndpointSecrets extends WebhookEndpoint {
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: string | null;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

export interface WebhookDelivery {
  tenantId: string;
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  lastLatencyMs: number | null;
  lastResponse: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

/** The outcome of one attempt, as recorded. */
export interface AttemptRecord {
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  response: string | null;
}
