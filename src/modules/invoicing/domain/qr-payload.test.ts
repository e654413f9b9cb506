import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import QRCode from 'qrcode';
import { base32, crc16, parseQr, qrBase, qrText, unbase32 } from './qr-payload.ts';

const body = { type: 'special' as const, number: '26442000000000001234', totals: { amount: '-1300.00', tax: '-169.00', total: '-1469.00', totalInCapitals: '（负数）壹仟肆佰陆拾玖圆整' }, issueDate: '2026-11-26' };
const hash = 'a3f0'.repeat(16);
/** The QR version (level M) an international invoice's code has at most, one more than SM2's. */
const QR_VERSION_INTL = 10;
const sig = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 255)).toString('base64url');

void describe('QR payload', () => {
  void it('base32 is RFC 4648 §10 (test vectors, without padding)', () => {
    const vectors: [string, string][] = [['', ''], ['f', 'MY'], ['fo', 'MZXQ'], ['foo', 'MZXW6'], ['foob', 'MZXW6YQ'], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI']];
    for (const [plain, encoded] of vectors) {
      assert.equal(base32(Buffer.from(plain)), encoded);
      assert.equal(unbase32(encoded)?.toString(), plain);
    }
  });

  void it('base32 decoding is strict: other characters, impossible lengths and stray bits are refused', () => {
    for (const bad of ['my', 'MZXW6YTBO1', 'M', 'MZX', 'MZXW6Y', 'MZ', 'MZXR']) assert.equal(unbase32(bad), undefined, bad);
  });

  void it('the compact text parses back to the base, hash and signature the invoice is signed with', () => {
    const base = qrBase(body);
    assert.equal(base, `01,31,,26442000000000001234,-1469.00,20261126,,${crc16('01,31,,26442000000000001234,-1469.00,20261126,')}`);
    const text = qrText('https://fapiao.example.cn/verify', base, hash, sig);
    assert.match(text, /^https:\/\/fapiao\.example\.cn\/verify\?qr=[0-9A-Z*.-]+$/);
    const q = parseQr(text)!;
    assert.deepEqual([q.base, q.hash, q.signature, q.crcValid, q.number, q.total, q.date], [base, hash, sig, true, body.number, '-1469.00', '20261126']);
    assert.deepEqual(parseQr(text.slice(text.indexOf('qr=') + 3)), q, 'the bare payload too');
  });

  void it('the earlier form (commas, hex hash, base64url signature) still parses to the same fields', () => {
    const base = qrBase(body);
    const old = parseQr(`https://fapiao.example.cn/verify?qr=${base},${hash},${sig}`)!;
    assert.deepEqual([old.base, old.hash, old.signature, old.crcValid], [base, hash, sig, true]);
  });

  void it('everything after the URL is QR alphanumeric, so the symbol is version 9 at level M instead of 11', () => {
    const text = qrText('https://fapiao.example.cn/verify', qrBase(body), hash, sig);
    const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
    assert.equal(qr.version, 9);
    const earlier = QRCode.create(`https://fapiao.example.cn/verify?qr=${qrBase(body)},${hash},${sig}`, { errorCorrectionLevel: 'M' });
    assert.equal(earlier.version, 11);
  });

  void it('an invoice signed with ECDSA-P256 or Ed25519 names the algorithm in an eleventh field; SM2 has none', () => {
    const base = qrBase(body);
    const sm2 = qrText('https://fapiao.example.cn/verify', base, hash, sig);
    assert.equal(qrText('https://fapiao.example.cn/verify', base, hash, sig, 'SM2-SM3'), sm2);
    assert.equal(parseQr(sm2)!.alg, 'SM2-SM3');
    assert.equal(parseQr(`https://fapiao.example.cn/verify?qr=${base},${hash},${sig}`)!.alg, 'SM2-SM3', 'the earlier form is SM2');
    for (const [alg, tag] of [['ECDSA-P256-SHA256', 'P256'], ['Ed25519', 'ED25519']] as const) {
      const text = qrText('https://fapiao.example.cn/verify', base, hash, sig, alg);
      assert.equal(text, `${sm2}*${tag}`);
      const q = parseQr(text)!;
      assert.deepEqual([q.alg, q.base, q.hash, q.signature, q.crcValid], [alg, base, hash, sig, true]);
      assert.ok(QRCode.create(text, { errorCorrectionLevel: 'M' }).version <= QR_VERSION_INTL, 'the symbol stays small');
    }
    for (const bad of ['SM2', 'P384', 'p256', '']) assert.equal(parseQr(`${sm2}*${bad}`), undefined, `unknown algorithm ${bad}`);
  });

  void it('a changed character of the hash or signature is not silently accepted', () => {
    const text = qrText('https://v.example/verify', qrBase(body), hash, sig);
    assert.equal(parseQr(text.replace(/\*([A-Z2-7]+)$/, '*$1A')), undefined, 'one character too many in the signature');
    assert.equal(parseQr(text.replace('qr=01*', 'qr=01**')), undefined, 'one field too many');
    const flipped = parseQr(text.replace(/\*([A-Z2-7])([A-Z2-7]+\*[A-Z2-7]+)$/, (_m, c: string, rest: string) => `*${c === 'A' ? 'B' : 'A'}${rest}`))!;
    assert.notEqual(flipped.hash, hash);
  });
});
