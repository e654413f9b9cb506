// The admin API (admin listener): tenants (with their monthly issuing quota) and their API keys. Bearer admin token, compared in constant time; the
// listener's IP allowlist (loopback by default) applies before this.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { AppError } from '../../../shared/errors.ts';
import type { TenantService } from '../app/tenant-service.ts';
import type { AuditService } from '../../audit/index.ts';
import type { BanService } from '../../abuse/index.ts';
import { ProblemSchema, Text } from '../../../platform/http/schemas.ts';
import { adminTokenGate } from '../../../platform/http/admin-token.ts';
import { REQUEST_ID_PATTERN } from '../../../platform/http/request-id.ts';
import { adminStampOf } from './audit-stamp.ts';
import { SIGNING_ALGORITHMS } from '../../../shared/signing.ts';

const security = [{ adminToken: [] }];
const errors = { 400: ProblemSchema, 401: ProblemSchema, 404: ProblemSchema, 422: ProblemSchema };

const MONEY_PATTERN = '^[0-9]{1,12}(\\.[0-9]{1,2})?$';
const MonthlyQuota = Type.Union([Type.String({ pattern: MONEY_PATTERN }), Type.Null()], {
  description: 'Monthly issuing quota (授信额度): the most the total amount excluding VAT of one natural month (UTC+8) may reach; null = unlimited',
});
const SigningAlgorithmSchema = Type.Union(SIGNING_ALGORITHMS.map((a) => Type.Literal(a)), {
  description: 'The algorithm the tenant\'s invoices are signed with: SM2, or the international profile (ECDSA-P256, Ed25519) for invoices that leave China',
});
const Clearable = (maxLength: number) => Type.Union([Text(maxLength), Type.Null()], { description: 'null clears it' });

const CreateTenant = Type.Object(
  {
    name: Text(100),
    taxId: Type.String({ pattern: '^[0-9A-Z]{18}$', description: 'Unified social credit code' }),
    regionCode: Type.String({ pattern: '^[0-9]{2}$' }),
    channel: Type.Optional(Type.String({ pattern: '^[0-9]$' })),
    address: Type.Optional(Text(200)),
    phone: Type.Optional(Text(40)),
    bankName: Type.Optional(Text(100)),
    bankAccount: Type.Optional(Text(50)),
    allowedRates: Type.Optional(Type.Array(Type.String({ pattern: '^0(\\.[0-9]{1,2})?$' }), { minItems: 1, maxItems: 7 })),
    monthlyQuota: Type.Optional(Type.String({ pattern: MONEY_PATTERN, description: 'Monthly issuing quota; absent = unlimited' })),
    signingAlgorithm: Type.Optional(SigningAlgorithmSchema),
  },
  { additionalProperties: false },
);
const UpdateTenant = Type.Object(
  {
    name: Type.Optional(Text(100)),
    regionCode: Type.Optional(Type.String({ pattern: '^[0-9]{2}$', description: 'Later invoices are numbered in this region' })),
    address: Type.Optional(Clearable(200)),
    phone: Type.Optional(Clearable(40)),
    bankName: Type.Optional(Clearable(100)),
    bankAccount: Type.Optional(Clearable(50)),
    monthlyQuota: Type.Optional(MonthlyQuota),
    signingAlgorithm: Type.Optional(Type.Union([SigningAlgorithmSchema, Type.Null()], { description: 'null = the server\'s (`signing.algorithm`)' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
const TenantView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    taxId: Type.String(),
    regionCode: Type.String(),
    channel: Type.String(),
    address: Type.Optional(Type.String()),
    phone: Type.Optional(Type.String()),
    bankName: Type.Optional(Type.String()),
    bankAccount: Type.Optional(Type.String()),
    allowedRates: Type.Optional(Type.Array(Type.String())),
    createdAt: Type.String(),
    monthlyQuota: MonthlyQuota,
    signingAlgorithm: Type.Union([SigningAlgorithmSchema, Type.Null()], { description: 'null = the server\'s (`signing.algorithm`)' }),
    quotaUsage: Type.Object({
      period: Type.String({ description: 'The current natural month in UTC+8, YYYY-MM' }),
      used: Type.String({ description: 'Total amount excluding VAT issued this month' }),
      remaining: Type.Union([Type.String(), Type.Null()], { description: 'null = unlimited; never below 0.00' }),
    }),
  },
);
const CreateKey = Type.Object(
  {
    scopes: Type.Optional(Type.Array(Type.Union([Type.Literal('invoices:issue'), Type.Literal('invoices:read'), Type.Literal('pii:read')]), { minItems: 1 })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
const TenantParams = Type.Object({ tenantId: Type.String({ pattern: '^t_[0-9a-f]{16}$' }) }, { additionalProperties: false });
const KeyParams = Type.Object(
  { tenantId: Type.String({ pattern: '^t_[0-9a-f]{16}$' }), keyId: Text(64) },
  { additionalProperties: false },
);

const BanBody = Type.Object(
  {
    target: Text(64, { minLength: 2, description: 'An address or a CIDR block' }),
    reason: Type.Union([Type.Literal('manual'), Type.Literal('blocklist')], { description: 'blocklist = permanent' }),
    durationSec: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000 })),
    note: Type.Optional(Text(200, { minLength: 0 })),
  },
  { additionalProperties: false },
);
const BanTarget = Type.Object({ target: Text(64, { minLength: 2 }) }, { additionalProperties: false });
const AuditQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    tenantId: Type.Optional(Text(64, { minLength: 0 })),
    action: Type.Optional(Text(64, { minLength: 0 })),
    requestId: Type.Optional(Type.String({ pattern: REQUEST_ID_PATTERN, description: 'Only the entries of one HTTP request (its `X-Request-Id`)' })),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$' })),
  },
  { additionalProperties: false },
);

export function adminRoutes(services: { tenants: TenantService; audit: AuditService; bans: BanService }, adminToken: string) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', adminTokenGate(adminToken));

    const who = adminStampOf;

    app.get('/admin/v1/bans', { schema: { summary: 'Active bans and blocks', tags: ['admin'], security } }, async () => ({
      items: await services.bans.list(),
    }));

    app.post<{ Body: Static<typeof BanBody> }>('/admin/v1/bans', {
      schema: { summary: 'Ban an address or block (recorded in the audit log)', tags: ['admin'], security, body: BanBody, response: errors },
    }, async (req, reply) => {
      const ban = await services.bans.ban({
        target: req.body.target, reason: req.body.reason, actor: who(req).actor,
        ...(req.body.durationSec !== undefined && req.body.reason !== 'blocklist' ? { durationSec: req.body.durationSec } : {}),
        ...(req.body.note !== undefined ? { note: req.body.note } : {}),
      });
      return reply.code(201).send(ban);
    });

    app.delete<{ Params: Static<typeof BanTarget> }>('/admin/v1/bans/:target', {
      schema: { summary: 'Lift a ban (the target URL-encoded, e.g. 10.0.0.0%2F8)', tags: ['admin'], security, params: BanTarget, response: errors },
    }, async (req, reply) => {
      const lifted = await services.bans.lift(req.params.target, who(req).actor);
      if (!lifted) throw new AppError('NOT_FOUND', { field: '/target', detail: 'no ban on that target' });
      return reply.code(204).send();
    });

    app.get<{ Querystring: Static<typeof AuditQuery> }>('/admin/v1/audit', {
      schema: { summary: 'Search the audit log (newest first)', tags: ['admin'], security, querystring: AuditQuery, response: errors },
    }, async (req) => {
      const { limit, ...q } = req.query;
      return { items: await services.audit.search({ ...q, order: 'desc', limit: limit ? Number(limit) : 100 }) };
    });

    app.get<{ Querystring: Static<typeof AuditQuery> }>('/admin/v1/audit/export', {
      schema: { summary: 'Export the audit log as JSON lines (the export is itself audited)', tags: ['admin'], security, querystring: AuditQuery },
    }, async (req, reply) => {
      const { limit: _limit, ...q } = req.query;
      const { PassThrough } = await import('node:stream');
      const out = new PassThrough();
      void reply.type('application/x-ndjson').header('content-disposition', 'attachment; filename="audit.jsonl"').send(out);
      await services.audit.exportJsonLines(out, q, who(req));
      out.end();
      return reply;
    });

    app.get('/admin/v1/tenants', {
      schema: { summary: "List tenants with this month's quota usage", tags: ['admin'], security, response: { 200: Type.Object({ items: Type.Array(TenantView) }), ...errors } },
    }, async () => ({ items: await services.tenants.listViews() }));

    app.get<{ Params: Static<typeof TenantParams> }>('/admin/v1/tenants/:tenantId', {
      schema: { summary: "A tenant with its monthly quota and this month's usage", tags: ['admin'], security, params: TenantParams, response: { 200: TenantView, ...errors } },
    }, async (req) => services.tenants.view(req.params.tenantId));

    app.patch<{ Params: Static<typeof TenantParams>; Body: Static<typeof UpdateTenant> }>('/admin/v1/tenants/:tenantId', {
      schema: {
        summary: 'Update a tenant: monthly quota, region code, name, seller contact fields, signing algorithm (audited as tenant.update)',
        tags: ['admin'], security, params: TenantParams, body: UpdateTenant, response: { 200: TenantView, ...errors },
      },
    }, async (req) => (await services.tenants.update(req.params.tenantId, req.body, who(req))).tenant);

    app.post<{ Body: Static<typeof CreateTenant> }>('/admin/v1/tenants', {
      schema: { summary: 'Create a tenant and its first API key, which has every scope (shown once)', tags: ['admin'], security, body: CreateTenant, response: errors },
    }, async (req, reply) => {
      const { tenant, apiKey } = await services.tenants.create(req.body, who(req));
      return reply.code(201).header('cache-control', 'no-store').send({ tenant, apiKey });
    });

    app.get<{ Params: Static<typeof TenantParams> }>('/admin/v1/tenants/:tenantId/api-keys', {
      schema: { summary: "List a tenant's API keys (never their secrets)", tags: ['admin'], security, params: TenantParams, response: errors },
    }, async (req) => {
      await services.tenants.getOrThrow(req.params.tenantId);
      return { items: await services.tenants.listApiKeys(req.params.tenantId) };
    });

    app.post<{ Params: Static<typeof TenantParams>; Body: Static<typeof CreateKey> }>('/admin/v1/tenants/:tenantId/api-keys', {
      schema: { summary: 'Create an API key (the secret is shown once)', tags: ['admin'], security, params: TenantParams, body: CreateKey, response: errors },
    }, async (req, reply) => {
      const { record, secret } = await services.tenants.createApiKey(req.params.tenantId, {
        ...(req.body.scopes ? { scopes: req.body.scopes } : {}),
        ...(req.body.expiresAt ? { expiresAt: new Date(req.body.expiresAt).toISOString() } : {}),
      });
      return reply.code(201).header('cache-control', 'no-store').send({ key: record, secret });
    });

    app.delete<{ Params: Static<typeof KeyParams> }>('/admin/v1/tenants/:tenantId/api-keys/:keyId', {
      schema: { summary: 'Revoke an API key', tags: ['admin'], security, params: KeyParams, response: errors },
    }, async (req, reply) => {
      await services.tenants.revokeApiKey(req.params.tenantId, req.params.keyId);
      return reply.code(204).send();
    });
  };
}
