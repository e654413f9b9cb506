// Webhook delivery settings (modules/delivery/, docs/webhooks.md).
import { bool, cidrList, int, section } from './read.ts';

export const WEBHOOKS_SCHEMA = section(
  {
    allowTargets: cidrList({
      env: 'FAPIAO_WEBHOOKS_ALLOW_TARGETS',
      envList: true,
      description: 'Addresses or blocks webhooks may be sent to although the SSRF guard refuses them (loopback, private, link-local, metadata).',
    }),
    allowHttp: bool({
      default: false,
      env: 'FAPIAO_WEBHOOKS_ALLOW_HTTP',
      description: 'Accept plain `http:` endpoint URLs (for development and tests); otherwise only `https:`.',
    }),
    connectTimeoutMs: int(100, 60_000, { default: 5000, env: 'FAPIAO_WEBHOOKS_CONNECT_TIMEOUT_MS', description: 'Time to open the connection to an endpoint (TCP and TLS).' }),
    responseTimeoutMs: int(100, 120_000, { default: 15_000, env: 'FAPIAO_WEBHOOKS_RESPONSE_TIMEOUT_MS', description: 'Time for the whole attempt, until the answer is read.' }),
    perEndpointConcurrency: int(1, 100, { default: 4, description: 'Attempts in flight to one endpoint, per node.' }),
    maxInFlight: int(1, 10_000, { default: 64, description: 'Attempts in flight per node, all endpoints together.' }),
    idlePollMs: int(10, 60_000, {
      default: 1000, env: 'FAPIAO_WEBHOOKS_IDLE_POLL_MS',
      description: 'How often an idle dispatcher looks for events committed by other nodes (a commit on its own node wakes it at once).',
    }),
    maxEndpointsPerTenant: int(1, 1000, { default: 20, description: 'Webhook endpoints one tenant may have.' }),
    breakerThreshold: int(1, 1000, {
      default: 5, env: 'FAPIAO_WEBHOOKS_BREAKER_THRESHOLD',
      description: 'Consecutive failed attempts after which a node stops attempting an endpoint for the cool-down (circuit breaker).',
    }),
    breakerCooldownMs: int(100, 86_400_000, {
      default: 60_000, env: 'FAPIAO_WEBHOOKS_BREAKER_COOLDOWN_MS',
      description: 'How long an open circuit breaker holds an endpoint\'s deliveries before one probe attempt (half-open) decides.',
    }),
  },
  { title: 'Webhooks', description: 'Signed webhook deliveries of outbox events (modules/delivery/).' },
);
