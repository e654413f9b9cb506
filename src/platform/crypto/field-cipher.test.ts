import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { sm4 } from 'sm-crypto-v2';
import {
  wrapIndexKey, unwrapIndexKey, inspectWrappedIndexKey,
  createDataKey,
  dataKeyResolver,
  decryptField,
  encodeFieldContext,
  encryptField,
  fieldEnvelopeInfo,
  FieldCipherError,
  inspectWrappedDataKey,
  isEncryptedField,
  reencryptField,
  rewrapDataKey,
  unwrapDataKey,
  wrapDataKey,
  type DataKey,
  type FieldAlg,
  type FieldCipherErrorReason,
  type FieldContext,
} from './field-cipher.ts';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const rnd = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

const ALGS: readonly FieldAlg[] = ['aes-256-gcm', 'sm4-gcm'];
const ctx: FieldContext = { tenantId: 't_acme', table: 'invoices', column: 'buyer_phone', rowId: 'inv_01HXYZ' };

function dataKey(alg: FieldAlg, version = 1): DataKey {
  return { alg, version, key: createDataKey(alg) };
}

function fails(fn: () => unknown, reason: FieldCipherErrorReason): void {
  assert.throws(fn, (e: unknown) => e instanceof FieldCipherError && e.reason === reason);
}

// ── A reference GCM (NIST SP 800-38D §6–7) over any block cipher, with a textbook bitwise GHASH. It is checked against
//    node's AES-256-GCM, then used with OpenSSL's SM4 block cipher to check sm-crypto-v2's SM4-GCM on edge lengths.
const R = 0xe1n << 120n;
function gfMul(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let i = 127n; i >= 0n; i--) {
    if ((x >> i) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}
const big = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(`0x${toHex(b)}`));
const bytes16 = (n: bigint): Uint8Array => hex(n.toString(16).padStart(32, '0'));
function ghash(h: bigint, data: Uint8Array): bigint {
  let y = 0n;
  for (let i = 0; i < data.length; i += 16) {
    const block = new Uint8Array(16);
    block.set(data.subarray(i, i + 16));
    y = gfMul(y ^ big(block), h);
  }
  return y;
}
function refGcm(encryptBlock: (b: Uint8Array) => Uint8Array, iv: Uint8Array, pt: Uint8Array, aad: Uint8Array) {
  assert.equal(iv.length, 12);
  const h = big(encryptBlock(new Uint8Array(16)));
  const j0 = new Uint8Array(16);
  j0.set(iv);
  j0[15] = 1;
  const ct = new Uint8Array(pt.length);
  for (let i = 0, ctr = 2; i < pt.length; i += 16, ctr++) {
    const cb = new Uint8Array(j0);
    new DataView(cb.buffer).setUint32(12, ctr, false);
    const ks = encryptBlock(cb);
    for (let j = 0; j < 16 && i + j < pt.length; j++) ct[i + j] = pt[i + j]! ^ ks[j]!;
  }
  const pad = (b: Uint8Array) => {
    const out = new Uint8Array(Math.ceil(b.length / 16) * 16);
    out.set(b);
    return out;
  };
  const lens = new Uint8Array(16);
  new DataView(lens.buffer).setBigUint64(0, BigInt(aad.length * 8), false);
  new DataView(lens.buffer).setBigUint64(8, BigInt(ct.length * 8), false);
  const s = ghash(h, Buffer.concat([pad(aad), pad(ct), lens]));
  const tag = bytes16(s ^ big(encryptBlock(j0)));
  return { ct, tag };
}
const ecb = (name: 'aes-256-ecb' | 'sm4-ecb', key: Uint8Array) => (b: Uint8Array) => {
  const c = createCipheriv(name, key, null).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(b), c.final()]));
};

void describe('SM4-GCM underneath (sm-crypto-v2)', () => {
  void it('matches the RFC 8998 Appendix A.1 SM4-GCM test vector', () => {
    const key = hex('0123456789ABCDEFFEDCBA9876543210');
    const iv = hex('00001234567800000000ABCD');
    const aad = hex('FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2');
    const pt = hex(`AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD
                    EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA`);
    const ct = `17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735
                d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d`.replace(/\s+/g, '');
    const tag = '83de3541e4c2b58177e065a9bf7b62ec';
    const r = sm4.encrypt(pt, key, { mode: 'gcm', iv, associatedData: aad, output: 'array', outputTag: true });
    assert.equal(toHex(r.output), ct);
    assert.equal(toHex(r.tag!), tag);
    const back = sm4.decrypt(hex(ct), key, { mode: 'gcm', iv, associatedData: aad, tag: hex(tag), output: 'array' });
    assert.equal(toHex(back), toHex(pt));
    assert.deepEqual(refGcm(ecb('sm4-ecb', key), iv, pt, aad), { ct: hex(ct), tag: hex(tag) }, 'reference GCM agrees');
  });

  void it('has the same SM4 block cipher as OpenSSL (sm4-ecb) and the GB/T 32907 example', () => {
    const key = hex('0123456789abcdeffedcba9876543210');
    assert.equal(toHex(ecb('sm4-ecb', key)(key)), '681edf34d206965e86b3e94f536e4246');
    assert.equal(sm4.encrypt(key, key, { padding: 'none' }), '681edf34d206965e86b3e94f536e4246');
    for (let i = 0; i < 20; i++) {
      const [k, block] = [rnd(16), rnd(16)];
      assert.equal(sm4.encrypt(block, k, { padding: 'none' }), toHex(ecb('sm4-ecb', k)(block)));
    }
  });

  void it('the reference GCM equals node AES-256-GCM, and with OpenSSL SM4 equals sm-crypto-v2 at every edge length', () => {
    for (const ptLen of [0, 1, 15, 16, 17, 31, 32, 33, 47]) {
      for (const aadLen of [0, 1, 16, 37]) {
        const [pt, aad, iv] = [rnd(ptLen), rnd(aadLen), rnd(12)];
        const aesKey = rnd(32);
        const c = createCipheriv('aes-256-gcm', aesKey, iv).setAAD(aad);
        const aesCt = new Uint8Array(Buffer.concat([c.update(pt), c.final()]));
        assert.deepEqual(refGcm(ecb('aes-256-ecb', aesKey), iv, pt, aad), { ct: aesCt, tag: new Uint8Array(c.getAuthTag()) });
        const smKey = rnd(16);
        const r = sm4.encrypt(pt, smKey, { mode: 'gcm', iv, associatedData: aad, output: 'array', outputTag: true });
        assert.deepEqual(refGcm(ecb('sm4-ecb', smKey), iv, pt, aad), { ct: r.output, tag: r.tag }, `pt ${ptLen}, aad ${aadLen}`);
      }
    }
  });

  void it('is deterministic for the same key, IV and AAD', () => {
    const [key, iv, aad, pt] = [rnd(16), rnd(12), rnd(20), rnd(40)];
    const a = sm4.encrypt(pt, key, { mode: 'gcm', iv, associatedData: aad, output: 'array', outputTag: true });
    const b = sm4.encrypt(pt, key, { mode: 'gcm', iv, associatedData: aad, output: 'array', outputTag: true });
    assert.deepEqual(a, b);
  });
});

void describe('encryptField / decryptField', () => {
  for (const alg of ALGS) {
    void it(`${alg}: round-trips ASCII, Chinese, emoji, empty and long text`, () => {
      const k = dataKey(alg, 3);
      const resolve = dataKeyResolver([k]);
      for (const text of ['13812345678', 'buyer@example.com', '上海市浦东新区世纪大道100号 1001室', '工商银行 6222 0212 3456 7890 123', '😀𠮷', '', 'x'.repeat(5000)]) {
        const env = encryptField(k, text, ctx);
        assert.equal(decryptField(resolve, env, ctx), text);
        assert.ok(isEncryptedField(env));
      }
    });

    void it(`${alg}: the envelope names the algorithm and the data-key version, and uses a fresh IV`, () => {
      const k = dataKey(alg, 42);
      const env = encryptField(k, '13812345678', ctx);
      assert.match(env, new RegExp(`^f1\\.${alg}\\.42\\.[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]{36}$`)); // 11 + 16 bytes → 36 characters
      assert.deepEqual(fieldEnvelopeInfo(env), { alg, version: 42 });
      assert.notEqual(encryptField(k, '13812345678', ctx), env);
      assert.equal(encryptField(k, '', ctx).split('.')[4]!.length, 22, 'empty plaintext: the tag alone');
    });

    void it(`${alg}: the plaintext never appears in its envelope`, () => {
      const k = dataKey(alg);
      for (const text of ['13812345678', 'zhang.san@example.cn', '110101199003077777', '北京市朝阳区']) {
        const env = encryptField(k, text, ctx);
        const utf8 = Buffer.from(text, 'utf8');
        for (const form of [text, utf8.toString('base64url'), utf8.toString('hex'), utf8.toString('base64')]) {
          assert.ok(!env.includes(form), `${form} in ${env}`);
        }
      }
    });

    void it(`${alg}: any flipped bit in the IV, ciphertext or tag fails authentication`, () => {
      const k = dataKey(alg);
      const resolve = dataKeyResolver([k]);
      const env = encryptField(k, '138 1234 5678', ctx);
      const parts = env.split('.');
      for (const i of [3, 4]) {
        const raw = Buffer.from(parts[i]!, 'base64url');
        for (let byte = 0; byte < raw.length; byte++) {
          const flipped = Buffer.from(raw);
          flipped[byte]! ^= 1 << byte % 8;
          const copy = [...parts];
          copy[i] = flipped.toString('base64url');
          fails(() => decryptField(resolve, copy.join('.'), ctx), 'authentication_failed');
        }
      }
      // Truncated or extended ciphertext, and a ciphertext swapped in from another encryption.
      const sealed = Buffer.from(parts[4]!, 'base64url');
      for (const bad of [sealed.subarray(1), sealed.subarray(0, sealed.length - 1), Buffer.concat([sealed, Buffer.of(0)])]) {
        fails(() => decryptField(resolve, [...parts.slice(0, 4), bad.toString('base64url')].join('.'), ctx), 'authentication_failed');
      }
      const other = encryptField(k, '138 1234 5679', ctx).split('.');
      fails(() => decryptField(resolve, [...parts.slice(0, 4), other[4]].join('.'), ctx), 'authentication_failed');
    });

    void it(`${alg}: AAD binds tenant, table, column and row`, () => {
      const k = dataKey(alg);
      const resolve = dataKeyResolver([k]);
      const env = encryptField(k, 'buyer@example.com', ctx);
      for (const moved of [
        { ...ctx, tenantId: 't_other' },
        { ...ctx, table: 'red_invoices' },
        { ...ctx, column: 'buyer_email' },
        { ...ctx, rowId: 'inv_01HXZZ' },
        { ...ctx, rowId: 'inv_01HXYZ ' },
      ]) {
        fails(() => decryptField(resolve, env, moved), 'authentication_failed');
      }
      // Moving a separator between neighbouring parts does not produce the same AAD.
      const a = { tenantId: 't', table: 'a|b', column: 'c', rowId: 'r' };
      const b = { tenantId: 't', table: 'a', column: 'b|c', rowId: 'r' };
      const c = { tenantId: 't', table: 'ab', column: 'c', rowId: 'r' };
      fails(() => decryptField(resolve, encryptField(k, 'x', a), b), 'authentication_failed');
      fails(() => decryptField(resolve, encryptField(k, 'x', c), { ...c, table: 'a', column: 'bc' }), 'authentication_failed');
    });

    void it(`${alg}: AAD binds the data stored beside the envelope when the context names it`, () => {
      const k = dataKey(alg);
      const resolve = dataKeyResolver([k]);
      const masked = { ...ctx, bound: '{"phone":"139****5678"}' };
      const env = encryptField(k, '13912345678', masked);
      assert.equal(decryptField(resolve, env, masked), '13912345678');
      for (const other of [{ ...ctx, bound: '{"phone":"139****5679"}' }, { ...ctx, bound: '' }, ctx]) {
        fails(() => decryptField(resolve, env, other), 'authentication_failed');
      }
      // An envelope made without bound data does not open beside some, even empty.
      fails(() => decryptField(resolve, encryptField(k, 'x', ctx), { ...ctx, bound: '' }), 'authentication_failed');
      // The bound data cannot be traded for a longer row id.
      fails(() => decryptField(resolve, encryptField(k, 'x', { ...ctx, rowId: 'r', bound: 's' }), { ...ctx, rowId: 'r\u0000\u0000\u0000\u0001s' }), 'authentication_failed');
    });

    void it(`${alg}: wrong key versions and wrong keys are refused`, () => {
      const k = dataKey(alg, 1);
      const env = encryptField(k, '13812345678', ctx);
      fails(() => decryptField(dataKeyResolver([]), env, ctx), 'unknown_key_version');
      fails(() => decryptField(dataKeyResolver([{ ...k, version: 2 }]), env, ctx), 'unknown_key_version');
      fails(() => decryptField(dataKeyResolver([dataKey(alg, 1)]), env, ctx), 'authentication_failed');
      const otherAlg: FieldAlg = alg === 'sm4-gcm' ? 'aes-256-gcm' : 'sm4-gcm';
      fails(() => decryptField(dataKeyResolver([dataKey(otherAlg, 1)]), env, ctx), 'key_mismatch');
      fails(() => decryptField(() => ({ alg, key: k.key.subarray(1) }), env, ctx), 'key_mismatch');
      // Relabelling the version (with the same key registered under it) fails: the header is in the AAD.
      const relabelled = env.replace(`f1.${alg}.1.`, `f1.${alg}.2.`);
      fails(() => decryptField(dataKeyResolver([k, { ...k, version: 2 }]), relabelled, ctx), 'authentication_failed');
    });
  }

  void it('relabelling the algorithm fails even when the key bytes would fit', () => {
    const k = dataKey('sm4-gcm');
    const env = encryptField(k, '13812345678', ctx);
    const asAes = env.replace('f1.sm4-gcm.', 'f1.aes-256-gcm.');
    fails(() => decryptField(() => ({ alg: 'aes-256-gcm', key: new Uint8Array(32) }), asAes, ctx), 'authentication_failed');
  });

  void it('rejects malformed envelopes and tells envelopes from plain values', () => {
    const k = dataKey('aes-256-gcm');
    const env = encryptField(k, 'a', ctx);
    const resolve = dataKeyResolver([k]);
    const [, , , iv, ct] = env.split('.');
    for (const bad of ['', '13812345678', 'a.b.c.d.e', `f2.aes-256-gcm.1.${iv}.${ct}`, `f1.aes-128-gcm.1.${iv}.${ct}`,
      `f1.aes-256-gcm.0.${iv}.${ct}`, `f1.aes-256-gcm.01.${iv}.${ct}`, `f1.aes-256-gcm.1.${iv}`, `${env}.x`,
      `f1.aes-256-gcm.1.${iv}=.${ct}`, `f1.aes-256-gcm.1.${iv!.slice(1)}.${ct}`, `f1.aes-256-gcm.1.${iv}.AAAA`,
      `f1.aes-256-gcm.99999999999999999.${iv}.${ct}`]) {
      fails(() => decryptField(resolve, bad, ctx), 'malformed');
      assert.equal(isEncryptedField(bad), false, bad);
    }
    for (const plain of ['buyer@example.com', '+86 138-1234-5678', 'f1.', 'f1.aes-256-gcm.1.short.short', undefined, 42]) {
      assert.equal(isEncryptedField(plain), false);
    }
    fails(() => decryptField(resolve, 42 as unknown as string, ctx), 'malformed');
  });

  void it('refuses bad inputs with TypeErrors', () => {
    const k = dataKey('aes-256-gcm');
    assert.throws(() => encryptField({ ...k, key: new Uint8Array(16) }, 'x', ctx), TypeError);
    assert.throws(() => encryptField({ alg: 'sm4-gcm', version: 1, key: new Uint8Array(32) }, 'x', ctx), TypeError);
    assert.throws(() => encryptField({ ...k, version: 0 }, 'x', ctx), TypeError);
    assert.throws(() => encryptField({ ...k, alg: 'des' as FieldAlg }, 'x', ctx), TypeError);
    for (const part of ['tenantId', 'table', 'column', 'rowId'] as const) {
      assert.throws(() => encryptField(k, 'x', { ...ctx, [part]: '' }), TypeError);
    }
    assert.throws(() => encryptField(k, '\ud800', ctx), TypeError, 'a lone surrogate would not round-trip');
    assert.throws(() => encryptField(k, 'x', { ...ctx, rowId: 'a\udc00' }), TypeError);
    assert.throws(() => createDataKey('aes-128-gcm' as FieldAlg), TypeError);
  });

  void it('encodes the context canonically (length-prefixed UTF-8)', () => {
    const enc = encodeFieldContext({ tenantId: 't', table: '表', column: 'c', rowId: 'r' });
    assert.equal(toHex(enc), '0000000174' + '00000003e8a1a8' + '0000000163' + '0000000172');
    // Bound data is a fifth length-prefixed part, so a context with it never encodes like one without.
    assert.equal(toHex(encodeFieldContext({ tenantId: 't', table: '表', column: 'c', rowId: 'r', bound: '' })), toHex(enc) + '00000000');
    assert.notDeepEqual(
      encodeFieldContext({ tenantId: 't', table: 'a|b', column: 'c', rowId: 'r' }),
      encodeFieldContext({ tenantId: 't', table: 'a', column: 'b|c', rowId: 'r' }),
    );
  });

  void it('error messages carry neither plaintext nor context nor key material', () => {
    const k = dataKey('sm4-gcm');
    const env = encryptField(k, '13812345678', ctx);
    try {
      decryptField(dataKeyResolver([k]), env, { ...ctx, tenantId: 't_secret_tenant' });
      assert.fail('should throw');
    } catch (e) {
      const msg = String((e as Error).message);
      for (const s of ['13812345678', 't_secret_tenant', 't_acme', 'inv_01HXYZ', toHex(k.key), Buffer.from(k.key).toString('base64url')]) {
        assert.ok(!msg.includes(s), msg);
      }
    }
  });
});

void describe('data keys', () => {
  const master1 = rnd(32);
  const master2 = rnd(32);

  void it('creates keys of the right length', () => {
    assert.equal(createDataKey('aes-256-gcm').length, 32);
    assert.equal(createDataKey('sm4-gcm').length, 16);
    assert.notDeepEqual(createDataKey('sm4-gcm'), createDataKey('sm4-gcm'));
  });

  for (const alg of ALGS) {
    void it(`${alg}: wraps and unwraps for the tenant, naming alg, data-key version and master version`, () => {
      const key = createDataKey(alg);
      const wrapped = wrapDataKey(master1, 1, 't_acme', key, alg, 7);
      assert.match(wrapped, new RegExp(`^dk1\\.${alg}\\.7\\.v1\\.aes-256-gcm\\.1\\.[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{22}$`));
      assert.ok(!wrapped.includes(Buffer.from(key).toString('base64url')));
      assert.deepEqual(inspectWrappedDataKey(wrapped), { alg, version: 7, masterVersion: 1 });
      const masters = new Map([[1, master1]]);
      assert.deepEqual(unwrapDataKey(masters, wrapped, 't_acme'), { alg, version: 7, key });
      fails(() => unwrapDataKey(masters, wrapped, 't_other'), 'authentication_failed');
      fails(() => unwrapDataKey(new Map([[1, master2]]), wrapped, 't_acme'), 'authentication_failed');
      fails(() => unwrapDataKey(new Map([[2, master1]]), wrapped, 't_acme'), 'unknown_key_version');
      fails(() => unwrapDataKey(masters, wrapped.replace(`dk1.${alg}.7.`, `dk1.${alg}.8.`), 't_acme'), 'authentication_failed');
      const otherAlg = alg === 'sm4-gcm' ? 'aes-256-gcm' : 'sm4-gcm';
      fails(() => unwrapDataKey(masters, wrapped.replace(`dk1.${alg}.`, `dk1.${otherAlg}.`), 't_acme'), 'authentication_failed');
      fails(() => unwrapDataKey(masters, wrapped.replace('.v1.aes-256-gcm.1.', '.v1.aes-256-gcm.2.'), 't_acme'), 'unknown_key_version');
      const parts = wrapped.split('.');
      const ct = Buffer.from(parts[7]!, 'base64url');
      ct[0]! ^= 1;
      parts[7] = ct.toString('base64url');
      fails(() => unwrapDataKey(masters, parts.join('.'), 't_acme'), 'authentication_failed');
      for (const bad of ['', 'dk1', wrapped.slice(4), `dk2${wrapped.slice(3)}`, `${wrapped}.x`]) {
        fails(() => unwrapDataKey(masters, bad, 't_acme'), 'malformed');
      }
    });

    void it(`${alg}: master-key rotation re-wraps the same data key; existing fields still decrypt`, () => {
      const key = createDataKey(alg);
      const wrapped1 = wrapDataKey(master1, 1, 't_acme', key, alg, 3);
      const dk = unwrapDataKey(new Map([[1, master1]]), wrapped1, 't_acme');
      const env = encryptField(dk, '110101199003077777', ctx);
      const wrapped2 = rewrapDataKey(new Map([[1, master1]]), wrapped1, 't_acme', master2, 2);
      assert.deepEqual(inspectWrappedDataKey(wrapped2), { alg, version: 3, masterVersion: 2 });
      const after = unwrapDataKey(new Map([[2, master2]]), wrapped2, 't_acme'); // master 1 retired
      assert.equal(decryptField(dataKeyResolver([after]), env, ctx), '110101199003077777');
      fails(() => rewrapDataKey(new Map([[1, master1]]), wrapped1, 't_other', master2, 2), 'authentication_failed');
    });
  }

  void it('refuses bad wrap inputs', () => {
    assert.throws(() => wrapDataKey(rnd(16), 1, 't', createDataKey('sm4-gcm'), 'sm4-gcm', 1), TypeError);
    assert.throws(() => wrapDataKey(master1, 0, 't', createDataKey('sm4-gcm'), 'sm4-gcm', 1), TypeError);
    assert.throws(() => wrapDataKey(master1, 1, '', createDataKey('sm4-gcm'), 'sm4-gcm', 1), TypeError);
    assert.throws(() => wrapDataKey(master1, 1, 't', createDataKey('aes-256-gcm'), 'sm4-gcm', 1), TypeError);
    assert.throws(() => wrapDataKey(master1, 1, 't', createDataKey('sm4-gcm'), 'sm4-gcm', 1.5), TypeError);
  });
});

void describe('reencryptField (data-key rotation)', () => {
  void it('moves a field to the new key (also across algorithms); the old key is then not needed', () => {
    const v1 = dataKey('aes-256-gcm', 1);
    const v2 = dataKey('sm4-gcm', 2);
    const env1 = encryptField(v1, '上海市徐汇区', ctx);
    const env2 = reencryptField(dataKeyResolver([v1, v2]), v2, env1, ctx);
    assert.deepEqual(fieldEnvelopeInfo(env2), { alg: 'sm4-gcm', version: 2 });
    assert.equal(decryptField(dataKeyResolver([v2]), env2, ctx), '上海市徐汇区');
    assert.equal(reencryptField(v1, v2, env2, ctx), env2, 'already current: unchanged, so the job can be re-run');
    assert.equal(decryptField(dataKeyResolver([v2]), reencryptField(v1, v2, env1, ctx), ctx), '上海市徐汇区');
  });

  void it('fails rather than re-encrypting a moved or tampered value', () => {
    const v1 = dataKey('aes-256-gcm', 1);
    const v2 = dataKey('aes-256-gcm', 2);
    const env1 = encryptField(v1, '13812345678', ctx);
    fails(() => reencryptField(v1, v2, env1, { ...ctx, rowId: 'other' }), 'authentication_failed');
    const env2 = encryptField(v2, '13812345678', ctx);
    fails(() => reencryptField(v1, v2, env2, { ...ctx, rowId: 'other' }), 'authentication_failed');
    fails(() => reencryptField(dataKeyResolver([]), v2, env1, ctx), 'unknown_key_version');
  });
});

void describe('blind-index keys, wrapped', () => {
  void it('open only for their tenant and with the master version they name', () => {
    const [m1, m2, key] = [new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32))];
    const wrapped = wrapIndexKey(m1, 1, 't-1', key);
    assert.deepEqual(inspectWrappedIndexKey(wrapped), { masterVersion: 1 });
    assert.deepEqual(unwrapIndexKey(new Map([[1, m1]]), wrapped, 't-1'), key);
    const failsAuth = (e: unknown) => e instanceof FieldCipherError && e.reason === 'authentication_failed';
    assert.throws(() => unwrapIndexKey(new Map([[1, m1]]), wrapped, 't-2'), failsAuth);
    assert.throws(() => unwrapIndexKey(new Map([[1, m2]]), wrapped, 't-1'), failsAuth);
    assert.throws(() => unwrapIndexKey(new Map([[2, m2]]), wrapped, 't-1'), /master key version 1 is not available/);
    assert.throws(() => inspectWrappedIndexKey(wrapped.replace('ik1.', 'dk1.')), /not a wrapped index key/);
  });
});
