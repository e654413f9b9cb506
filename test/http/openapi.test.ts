import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderOpenApi } from '../../scripts/gen-openapi.ts';

describe('OpenAPI description', () => {
  it('matches the committed docs/openapi.json', async () => {
    const committed = readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8');
    assert.equal(committed, await renderOpenApi(), 'run npm run docs:openapi');
  });
  it('describes the issue, get, search, verify and keys operations', async () => {
    const doc = JSON.parse(await renderOpenApi());
    assert.ok(doc.paths['/v1/invoices'].post);
    assert.ok(doc.paths['/v1/invoices'].get);
    assert.ok(doc.paths['/v1/invoices/{number}'].get);
    assert.ok(doc.paths['/v1/verify'].post);
    assert.ok(doc.paths['/v1/keys'].get);
    assert.equal(doc.paths['/healthz'], undefined);
  });
});
