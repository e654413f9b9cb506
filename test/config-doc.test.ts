// docs/configuration.md is generated from the configuration schema (scripts/gen-config-doc.ts): it must not drift, and
// every setting of the schema must say what it is for.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configRows, renderConfigDoc } from '../scripts/gen-config-doc.ts';

describe('docs/configuration.md', () => {
  it('is what the schema generates', () => {
    const doc = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    assert.equal(doc, renderConfigDoc(), 'run npm run docs:config');
  });

  it('describes every setting, and no variable serves two settings', () => {
    const rows = configRows();
    assert.ok(rows.length > 50, `${rows.length} settings`);
    assert.deepEqual(rows.filter((r) => !r.node.description).map((r) => r.path), [], 'settings without a description');
    const variables = rows.map((r) => r.node.env).filter((v): v is string => v !== undefined && v !== 'FAPIAO_LISTEN_<NAME>');
    assert.deepEqual(variables.filter((v, i) => variables.indexOf(v) !== i), [], 'variables used twice');
  });
});
