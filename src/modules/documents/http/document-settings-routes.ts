// `GET/PATCH /v1/document-settings` (route group `issue`): the tenant's choices about its documents (备注 party
// details on the PDF and OFD face; UBL payment terms, due date and electronic addresses). Reading needs
// `invoices:read`, changing `invoices:issue`.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static, type TOptional, type TSchema } from 'typebox';
import { ProblemSchema } from '../../../platform/http/schemas.ts';
import { auditStampOf, requireScope } from '../../tenants/index.ts';
import type { DocumentSettingsService } from '../app/document-settings-service.ts';

type Authenticate = (req: FastifyRequest) => Promise<void>;

const security = [{ apiKey: [] }];
const tags = ['documents'];
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 422: ProblemSchema, 503: ProblemSchema };

/** One line of printable text: no control characters, no leading or trailing space. */
const TEXT = '^[^\\p{Cc}\\s](?:[^\\p{Cc}]*[^\\p{Cc}\\s])?$';
/** A Peppol Electronic Address Scheme code: four digits. */
const EAS = '^[0-9]{4}$';
const Remarks = {
  buyerDetails: Type.Boolean({ description: 'Print the buyer\'s address, phone, bank and account in 备注 of the PDF and OFD (as the platform does for a 专票 when asked). Default false.' }),
  sellerDetails: Type.Boolean({ description: 'Print the seller\'s address, phone, bank and account in 备注. Default false.' }),
};
const Ubl = {
  endpointScheme: Type.String({ pattern: EAS, description: 'Peppol EAS code under which a party\'s USCC is its electronic address (BT-34, BT-49). Default `0199`; see docs/ubl-mapping.md.' }),
  sellerEndpoint: Type.Union([
    Type.Object({ scheme: Type.String({ pattern: EAS }), id: Type.String({ minLength: 1, maxLength: 100, pattern: TEXT }) }, { additionalProperties: false }),
    Type.Null(),
  ], { description: 'The seller\'s own electronic address (e.g. its Peppol participant ID, a GLN under `0088`); null: its USCC under `endpointScheme`.' }),
  paymentTerms: Type.Union([Type.String({ minLength: 1, maxLength: 500, pattern: TEXT }), Type.Null()], { description: 'BT-20 payment terms; null: `Payable on receipt of the invoice (见票即付)`, or none when paid.' }),
  dueDays: Type.Union([Type.Integer({ minimum: 0, maximum: 3660 }), Type.Null()], { description: 'BT-9 due date as days after the issue date; null: none.' }),
  paid: Type.Boolean({ description: 'Paid at issue: the UBL says so (BT-113 = total, amount due 0). Default false.' }),
};
const SettingsSchema = Type.Object({ remarks: Type.Object(Remarks), ubl: Type.Object(Ubl) });
const optional = <T extends Record<string, TSchema>>(props: T) =>
  Type.Object(Object.fromEntries(Object.entries(props).map(([k, v]) => [k, Type.Optional(v)])) as { [K in keyof T]: TOptional<T[K]> }, { additionalProperties: false });
const ChangeBody = Type.Object({
  remarks: Type.Optional(optional(Remarks)),
  ubl: Type.Optional(optional(Ubl)),
}, { additionalProperties: false, minProperties: 1 });

/** The audit entry's who, from where and for which request (tenants/http/audit-stamp.ts). */
const by = auditStampOf;

export function documentSettingsRoutes(services: { documentSettings: DocumentSettingsService }, authenticate: Authenticate) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);

    app.get('/v1/document-settings', {
      schema: { summary: 'The tenant\'s document settings', tags, security, response: { 200: SettingsSchema, ...errors } },
    }, async (req) => {
      const auth = requireScope(req, 'invoices:read');
      return services.documentSettings.settings(auth.tenant.id);
    });

    app.patch<{ Body: Static<typeof ChangeBody> }>('/v1/document-settings', {
      schema: {
        summary: 'Change the tenant\'s document settings',
        description: 'Fields not given keep their value; `null` resets a field to its default. The settings change the PDF/OFD face and the UBL of every later download and e-mail, never the signed invoice.',
        tags, security, body: ChangeBody, response: { 200: SettingsSchema, ...errors },
      },
    }, async (req) => {
      const auth = requireScope(req, 'invoices:issue');
      return services.documentSettings.update(auth.tenant.id, req.body, by(req, auth));
    });
  };
}
