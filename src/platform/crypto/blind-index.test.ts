import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { blindIndex, blindIndexKey, normaliseIndexValue, BLIND_INDEX_BYTES, type BlindIndexField } from './blind-index.ts';

const master = new Uint8Array(randomBytes(32));
const keyA = blindIndexKey(master, 't_acme');
const keyB = blindIndexKey(master, 't_other');

function same(field: BlindIndexField, values: string[]): void {
  const first = blindIndex(keyA, field, values[0]!);
  for (const v of values) assert.equal(blindIndex(keyA, field, v), first, `${field}: ${JSON.stringify(v)} ≢ ${JSON.stringify(values[0])}`);
}

void describe('blindIndexKey', () => {
  void it('is HKDF-SHA256 (RFC 5869) with the documented salt and info, 32 bytes, per tenant', () => {
    // Extract and expand written out with HMAC, independently of node's hkdfSync.
    const prk = createHmac('sha256', 'fapiao/blind-index/v1').update(master).digest();
    const okm = createHmac('sha256', prk).update(Buffer.concat([Buffer.from('tenant\0t_acme'), Buffer.of(1)])).digest();
    assert.deepEqual(keyA, new Uint8Array(okm));
    assert.equal(keyA.length, 32);
    assert.deepEqual(blindIndexKey(master, 't_acme'), keyA, 'deterministic');
    assert.notDeepEqual(keyA, keyB);
    assert.notDeepEqual(keyA, master);
    assert.notDeepEqual(blindIndexKey(new Uint8Array(randomBytes(32)), 't_acme'), keyA);
  });

  void it('accepts a 16-byte SM4 data key and refuses short keys and empty tenants', () => {
    assert.equal(blindIndexKey(new Uint8Array(randomBytes(16)), 't').length, 32);
    assert.throws(() => blindIndexKey(new Uint8Array(15), 't'), TypeError);
    assert.throws(() => blindIndexKey(master, ''), TypeError);
  });
});

void describe('blindIndex', () => {
  void it('is HMAC-SHA256 over field NUL normalised value, truncated to 16 bytes, as hex', () => {
    const expected = createHmac('sha256', keyA).update('phone\x0013812345678').digest().subarray(0, 16).toString('hex');
    assert.equal(blindIndex(keyA, 'phone', '+86 138-1234-5678'), expected);
    assert.match(expected, /^[0-9a-f]{32}$/);
    assert.equal(BLIND_INDEX_BYTES, 16);
  });

  void it('normalises phone numbers: separators, +86 / 0086 / 86 prefixes, full-width digits', () => {
    same('phone', ['13812345678', '+86 138-1234-5678', '+86 13812345678', '+8613812345678', '0086 138 1234 5678',
      '008613812345678', '8613812345678', '(+86) 138 1234 5678', ' 138.1234.5678 ', '１３８１２３４５６７８', '＋８６ 138 1234 5678']);
    same('phone', ['010-12345678', '(010) 1234 5678', '+86 10 1234 5678', '+86-10-12345678', '0086 10 12345678']);
    same('phone', ['400-123-4567', '+86 400 123 4567']);
    assert.equal(normaliseIndexValue('phone', '+86 138-1234-5678'), '13812345678');
    assert.equal(normaliseIndexValue('phone', '+86 755 8888 6666'), '075588886666');
    assert.equal(normaliseIndexValue('phone', '+1 (415) 555-1234'), '+14155551234');
  });

  void it('keeps different numbers apart', () => {
    const idx = (v: string) => blindIndex(keyA, 'phone', v);
    assert.notEqual(idx('13812345678'), idx('13812345679'));
    assert.notEqual(idx('+1 415 555 1234'), idx('14155551234'), 'a foreign number is not a Chinese one');
    assert.notEqual(idx('+86 10 1234 5678'), idx('1012345678'));
  });

  void it('normalises e-mail addresses: trim and lower-case only', () => {
    same('email', ['zhang.san@example.com', ' Zhang.San@Example.COM ', 'ZHANG.SAN@EXAMPLE.COM\n', 'ｚｈａｎｇ.ｓａｎ＠example.com']);
    assert.notEqual(blindIndex(keyA, 'email', 'zhangsan@example.com'), blindIndex(keyA, 'email', 'zhang.san@example.com'));
    assert.notEqual(blindIndex(keyA, 'email', 'a+x@example.com'), blindIndex(keyA, 'email', 'a@example.com'));
  });

  void it('normalises tax IDs: upper-case, no spaces', () => {
    same('taxId', ['91310000MA1FL8XQ30', '91310000ma1fl8xq30', ' 9131 0000 MA1F L8XQ 30 ', '91310000-MA1FL8XQ30', '９１３１００００ＭＡ１ＦＬ８ＸＱ３０']);
    same('taxId', ['11010119900307777X', '11010119900307777x', '110101 19900307 777x']);
    assert.notEqual(blindIndex(keyA, 'taxId', '11010119900307777X'), blindIndex(keyA, 'taxId', '110101199003077770'));
  });

  void it('differs per tenant, per key and per field for the same value', () => {
    assert.notEqual(blindIndex(keyA, 'phone', '13812345678'), blindIndex(keyB, 'phone', '13812345678'));
    assert.notEqual(blindIndex(keyA, 'phone', '13812345678'), blindIndex(new Uint8Array(randomBytes(32)), 'phone', '13812345678'));
    assert.notEqual(blindIndex(keyA, 'phone', '13812345678'), blindIndex(keyA, 'taxId', '13812345678'));
    assert.notEqual(blindIndex(keyA, 'email', 'x'), blindIndex(keyA, 'taxId', 'x'));
  });

  void it('does not contain the value and refuses values that normalise to nothing', () => {
    assert.ok(!blindIndex(keyA, 'phone', '13812345678').includes('13812345678'));
    assert.throws(() => blindIndex(keyA, 'phone', ' - '), RangeError);
    assert.throws(() => blindIndex(keyA, 'email', '   '), RangeError);
    assert.throws(() => blindIndex(keyA, 'taxId', ''), RangeError);
    assert.throws(() => blindIndex(new Uint8Array(8), 'phone', '13812345678'), TypeError);
    assert.throws(() => blindIndex(keyA, 'name' as BlindIndexField, 'x'), TypeError);
  });
});
