// Admin API for the keys of personal data at rest (admin listener, admin token): a tenant's data keys with the
// re-encryption progress, and data-key rotation. Master-key rotation is a CLI command only (`fapiao keys
// rotate-master`): it needs the new master key configured on every node first, which is not an API call.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { DataKeyService } from '../app/data-key-service.ts';
import { ProblemSchema } from '../../../platform/http/schemas.ts';
import { adminTokenGate } from '../../../platform/http/admin-token.ts';
import { adminStampOf } from '../../tenants/index.ts';

const security = [{ adminToken: [] }];
const errors = { 400: ProblemSchema, 401: ProblemSchema, 404: ProblemSchema, 503: ProblemSchema };

const TenantParams = Type.Object({ tenantId: Type.String({ pattern: '^t_[0-9a-f]{16}$' }) }, { additionalProperties: false });
const Algorithm = Type.Union([Type.Literal('aes-256-gcm'), Type.Literal('sm4-gcm')], {
  description: 'aes-256-gcm, or sm4-gcm (国密 SM4 in GCM mode); default: config fields.algorithm',
});
const RotateBody = Type.Object({ algorithm: Type.Optional(Algorithm) }, { additionalProperties: false });
const RowCounts = Type.Object({ invoices: Type.Integer(), idempotency: Type.Integer() });
const DataKeyView = Type.Object({
  version: Type.Integer({ minimum: 1 }),
  alg: Algorithm,
  status: Type.Union([Type.Literal('active'), Type.Literal('retiring'), Type.Literal('retired')], {
    description: 'active: encrypts new writes · retiring: rows are being re-encrypted off it · retired: no row uses it (decrypt-only, kept for old backups)',
  }),
  createdAt: Type.String(),
  masterVersion: Type.Integer({ minimum: 1, description: 'The master-key version it is wrapped under' }),
  rows: Type.Union([RowCounts, Type.Null()], { description: 'Rows still under this version; null for the active key (not counted)' }),
});
const DataKeysView = Type.Object({
  tenantId: Type.String(),
  keys: Type.Array(DataKeyView),
  unlabelled: Type.Object(RowCounts.properties, { description: 'Rows written before key versions were recorded; the job reads each once' }),
  pending: Type.Integer({ description: 'Rows the background re-encryption still has to move; 0 = done' }),
});

function dataKeys(services: { dataKeys: DataKeyService }) {
  return services.dataKeys;
}

export function adminKeyRoutes(services: { dataKeys: DataKeyService }, adminToken: string) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', adminTokenGate(adminToken));

    app.get<{ Params: Static<typeof TenantParams> }>('/admin/v1/tenants/:tenantId/data-keys', {
      schema: {
        summary: "A tenant's data keys (never the keys) and how far re-encryption of older rows is",
        tags: ['admin'], security, params: TenantParams, response: { 200: DataKeysView, ...errors },
      },
    }, async (req) => dataKeys(services).status(req.params.tenantId));

    app.post<{ Params: Static<typeof TenantParams>; Body: Static<typeof RotateBody> }>('/admin/v1/tenants/:tenantId/data-keys/rotate', {
      schema: {
        summary: 'Rotate the tenant data key (audited as datakey.rotate): new writes use the new version at once; older rows are re-encrypted in the background',
        tags: ['admin'], security, params: TenantParams, body: RotateBody,
        response: { 201: Type.Object({ tenantId: Type.String(), key: DataKeyView }), ...errors },
      },
      // The body is optional: no body means `{}` (validation runs after this hook).
      preValidation: async (req) => {
        req.body ??= {};
      },
    }, async (req, reply) => {
      const algorithm = req.body.algorithm;
      const key = await dataKeys(services).rotate(req.params.tenantId, algorithm ? { algorithm } : {}, adminStampOf(req));
      return reply.code(201).send({ tenantId: req.params.tenantId, key });
    });
  };
}
