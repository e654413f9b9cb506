import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { AUDIT_GENESIS_HASH, auditEntryHash, canonicalAuditEncoding, type AuditHashInput } from './audit-chain.ts';

const entry: AuditHashInput = {
  seq: 1, prevHash: AUDIT_GENESIS_HASH, at: '2026-11-24T06:03:05.123Z', tenantId: 't-a', actor: 'apikey:k1',
  action: 'invoice.issue', target: '26312000000000000001', outcome: 'success', ip: '192.0.2.1', details: null,
};

void describe('audit chain hash', () => {
  void it('encodes the fields as a JSON array in a fixed order', () => {
    assert.equal(
      canonicalAuditEncoding(entry),
      `[1,"${'0'.repeat(64)}","2026-11-24T06:03:05.123Z","t-a","apikey:k1","invoice.issue","26312000000000000001","success","192.0.2.1",null]`,
    );
  });

  void it('is the SHA-256 of that encoding, and changes with every field', () => {
    assert.equal(auditEntryHash(entry), createHash('sha256').update(canonicalAuditEncoding(entry)).digest('hex'));
    const changed: Partial<AuditHashInput>[] = [
      { seq: 2 }, { prevHash: 'f'.repeat(64) }, { at: '2026-11-24T06:03:05.124Z' }, { tenantId: null }, { actor: 'admin' },
      { action: 'invoice.red' }, { target: 'x' }, { outcome: 'failure' }, { ip: null }, { details: '{}' },
    ];
    const seen = new Set([auditEntryHash(entry)]);
    for (const c of changed) seen.add(auditEntryHash({ ...entry, ...c }));
    assert.equal(seen.size, changed.length + 1);
  });

  void it('keeps field boundaries: moving text between fields changes the hash', () => {
    assert.notEqual(auditEntryHash({ ...entry, actor: 'a', action: 'bc' }), auditEntryHash({ ...entry, actor: 'ab', action: 'c' }));
  });

  void it('refuses a seq that is not a positive safe integer', () => {
    for (const seq of [0, -1, 1.5, 2 ** 53]) assert.throws(() => canonicalAuditEncoding({ ...entry, seq }), RangeError);
  });
});
