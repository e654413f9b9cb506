// Abuse control gives the per-tenant budget only to paths under `abuse.tenantPathPrefixes`; every other path gets the
// small per-address public budget (50 a minute). A route that authenticates with an API key but is missing from the
// list is throttled like the public 查验 page: this keeps the list and the API in step.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_ABUSE_POLICY } from '../../src/modules/abuse/domain/abuse-policy.ts';

interface Operation { security?: Record<string, unknown>[] }
const doc = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, Operation>> };

void describe('tenant path prefixes', () => {
  void it('cover every route that takes an API key, and no public one', () => {
    const tenant = (path: string): boolean => DEFAULT_ABUSE_POLICY.tenantPathPrefixes.some((p) => path === p || path.startsWith(`${p}/`) || path.startsWith(`${p}?`));
    const missing: string[] = [];
    const publicCovered: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const apiKey = (op.security ?? []).some((s) => 'apiKey' in s);
        if (apiKey && !tenant(path)) missing.push(`${method.toUpperCase()} ${path}`);
        if ((op.security ?? []).length === 0 && tenant(path)) publicCovered.push(`${method.toUpperCase()} ${path}`);
      }
    }
    assert.deepEqual(missing, [], 'routes with API keys outside abuse.tenantPathPrefixes');
    assert.deepEqual(publicCovered, [], 'public routes inside abuse.tenantPathPrefixes');
  });
});
