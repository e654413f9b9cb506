// Every string a request may carry has a character rule (docs/architecture.md, "Text fields"): a pattern (free text
// uses the text rules of shared/text-rules.ts), a format, or a list of values. A new field without one fails here,
// before text that cannot be stored, signed or rendered can reach an issuing batch.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

type Schema = { type?: string | string[]; pattern?: string; format?: string; const?: unknown; enum?: unknown[]; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; oneOf?: Schema[]; allOf?: Schema[] };
interface Operation {
  parameters?: { in: string; name: string; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

/** Request strings validated by their handler instead of the schema, each with the code it answers. */
const CHECKED_BY_HANDLER: Record<string, string> = {
  // modules/invoicing/app/invoice-service.ts: 1–255 visible ASCII characters, else IDEMPOTENCY_KEY_INVALID.
  'POST /v1/invoices header idempotency-key': 'IDEMPOTENCY_KEY_INVALID',
  // modules/events/http/push-routes.ts: a non-negative integer, else EVENT_ID_INVALID.
  'GET /v1/events header last-event-id': 'EVENT_ID_INVALID',
  'GET /v1/events query after': 'EVENT_ID_INVALID',
};

function unruled(schema: Schema | undefined, at: string, out: string[]): void {
  if (!schema) return;
  for (const s of [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])]) unruled(s, at, out);
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes('string') && schema.pattern === undefined && schema.format === undefined && schema.const === undefined && schema.enum === undefined) {
    out.push(at);
  }
  for (const [name, p] of Object.entries(schema.properties ?? {})) unruled(p, `${at}/${name}`, out);
  if (schema.items) unruled(schema.items, `${at}/*`, out);
}

describe('request strings', () => {
  it('all have a pattern, a format or a list of values', () => {
    const doc = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, Operation>> };
    const missing: string[] = [];
    let seen = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const name = `${method.toUpperCase()} ${path}`;
        for (const p of op.parameters ?? []) {
          const found: string[] = [];
          unruled(p.schema, `${name} ${p.in} ${p.name}`, found);
          seen++;
          missing.push(...found.filter((f) => CHECKED_BY_HANDLER[f] === undefined));
        }
        for (const content of Object.values(op.requestBody?.content ?? {})) {
          seen++;
          unruled(content.schema, `${name} body `, missing);
        }
      }
    }
    assert.ok(seen > 30, 'the description lists the requests');
    assert.deepEqual(missing, []);
  });
});
