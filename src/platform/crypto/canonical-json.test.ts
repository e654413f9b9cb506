import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalize, canonicalBytes } from './canonical-json.ts';

function fromIeeeHex(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

void describe('canonicalize (RFC 8785)', () => {
  void it('sorts members by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = JSON.parse(
      '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One",' +
        '"\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
    );
    const names = Object.keys(JSON.parse(canonicalize(input)) as object);
    // Insertion order of integer-like keys is special in JS, so compare the serialised text instead.
    const expected =
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}';
    assert.equal(canonicalize(input), expected);
    assert.equal(names.length, 7);
  });

  void it('reproduces the RFC 8785 §3.2.4 example', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    assert.equal(
      canonicalize(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  void it('serialises numbers like RFC 8785 Appendix B', () => {
    const cases: [string, string][] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'],
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [hex, text] of cases) assert.equal(canonicalize(fromIeeeHex(hex)), text, hex);
  });

  void it('rejects non-finite numbers, BigInt, lone surrogates and cycles', () => {
    assert.throws(() => canonicalize(NaN), TypeError);
    assert.throws(() => canonicalize({ a: Infinity }), TypeError);
    assert.throws(() => canonicalize([-Infinity]), TypeError);
    assert.throws(() => canonicalize(10n), TypeError);
    assert.throws(() => canonicalize('\ud800'), TypeError);
    assert.throws(() => canonicalize({ '\udc00x': 1 }), TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => canonicalize(cyclic), TypeError);
    assert.throws(() => canonicalize(undefined), TypeError);
  });

  void it('skips undefined members and nulls undefined array items, like JSON.stringify', () => {
    assert.equal(canonicalize({ b: undefined, a: 1, c: [undefined, () => 1] }), '{"a":1,"c":[null,null]}');
    assert.equal(canonicalize({ d: new Date(0) }), '{"d":"1970-01-01T00:00:00.000Z"}');
  });

  void it('escapes control characters and nothing else; nests without whitespace', () => {
    assert.equal(canonicalize('\u0000\u0008\t\n\u000b\f\r\u001f"\\/é'), '"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\\"\\\\/é"');
    assert.equal(canonicalize({ z: { y: [1, { b: 2, a: 'x' }] }, a: [] }), '{"a":[],"z":{"y":[1,{"a":"x","b":2}]}}');
    // A shared (non-cyclic) reference is fine.
    const shared = { k: 'v' };
    assert.equal(canonicalize([shared, shared]), '[{"k":"v"},{"k":"v"}]');
  });

  void it('gives UTF-8 bytes', () => {
    assert.deepEqual([...canonicalBytes({ 名: '票' })], [...Buffer.from('{"名":"票"}', 'utf8')]);
  });
});
