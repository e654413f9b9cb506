// Request and response schemas of /v1/invoice-batches. The items of a batch are checked one by one with the schema of
// POST /v1/invoices (platform/http/schema-check.ts), not by the route, so one bad item does not refuse the batch.
import { Type } from 'typebox';
import { IssueInvoiceSchema } from '../../invoicing/index.ts';
import { MAX_BATCH_ITEMS } from '../app/batch-service.ts';

export const BatchBodySchema = Type.Array(IssueInvoiceSchema, {
  maxItems: MAX_BATCH_ITEMS,
  description: `Up to ${MAX_BATCH_ITEMS} invoices, each as for POST /v1/invoices and each with its externalId; or the same as JSON Lines (one invoice per line) with Content-Type application/x-ndjson.`,
});

export const BatchParams = Type.Object(
  { id: Type.String({ pattern: '^bat_[0-9a-f]{28}$', description: 'The batch id' }) },
  { additionalProperties: false },
);

const Limit = Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: 'Page size (capped)' }));

export const BatchItemsQuery = Type.Object(
  { cursor: Type.Optional(Type.String({ pattern: '^i[0-9]{1,4}$', description: 'nextCursor of the previous page of items' })), limit: Limit },
  { additionalProperties: false },
);

export const BatchListQuery = Type.Object(
  { cursor: Type.Optional(Type.String({ pattern: '^bat_[0-9a-f]{28}$', description: 'nextCursor of the previous page' })), limit: Limit },
  { additionalProperties: false },
);

const Problem = Type.Object({
  status: Type.Integer(), code: Type.String(), title: Type.String(), detail: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), code: Type.String(), message: Type.String() }))),
});

const Counts = Type.Object({ total: Type.Integer(), pending: Type.Integer(), issued: Type.Integer(), failed: Type.Integer(), invalid: Type.Integer() });

export const BatchAcceptedSchema = Type.Object({
  id: Type.String(),
  status: Type.String({ description: 'accepted | completed' }),
  total: Type.Integer(),
  accepted: Type.Integer({ description: 'Items that passed every check and will be issued' }),
  invalid: Type.Integer(),
  problems: Type.Array(Type.Object({
    index: Type.Integer({ description: '0-based position in the batch' }),
    line: Type.Optional(Type.Integer({ description: 'Line of a JSON Lines body' })),
    externalId: Type.Optional(Type.String()),
    problem: Problem,
  })),
});

export const BatchItemSchema = Type.Object({
  index: Type.Integer(),
  line: Type.Optional(Type.Integer()),
  externalId: Type.Optional(Type.String()),
  status: Type.String({ description: 'pending | issued | failed | invalid' }),
  number: Type.Optional(Type.String()),
  problem: Type.Optional(Problem),
});

export const BatchSchema = Type.Object({
  id: Type.String(),
  status: Type.String({ description: 'accepted | completed' }),
  format: Type.String(),
  createdAt: Type.String(),
  completedAt: Type.Optional(Type.String()),
  progress: Counts,
});

export const BatchViewSchema = Type.Object({
  ...BatchSchema.properties,
  items: Type.Array(BatchItemSchema),
  nextCursor: Type.Optional(Type.String()),
});

export const BatchListSchema = Type.Object({ items: Type.Array(BatchSchema), nextCursor: Type.Optional(Type.String()) });
