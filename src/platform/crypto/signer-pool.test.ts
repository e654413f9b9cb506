import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSignerPool } from './signer-pool.ts';
import { generateSm2KeyPair, sm2Verify } from './sm2.ts';
import { createSm2Signer } from './sm2-signer.ts';

const key = generateSm2KeyPair();
const batch = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => new Uint8Array([...randomBytes(40), i & 0xff]));

void describe('signer pool', () => {
  for (const size of [0, 1, 3]) {
    void it(`size ${size}: signs a batch in order, every signature verifies`, async () => {
      const pool = createSignerPool({ size, privateKeyHex: key.privateKey, publicKeyHex: key.publicKey });
      try {
        assert.equal(pool.publicKey, key.publicKey);
        for (const n of [1, 7, 50]) {
          const msgs = batch(n);
          const sigs = await pool.sign(msgs);
          assert.equal(sigs.length, n);
          sigs.forEach((sig, i) => {
            assert.ok(sig instanceof Uint8Array);
            assert.ok(sm2Verify(key.publicKey, msgs[i]!, sig), `message ${i}`);
            if (i > 0) assert.ok(!sm2Verify(key.publicKey, msgs[i - 1]!, sig), 'order kept');
          });
        }
        assert.deepEqual(await pool.sign([]), []);
        // Deterministic nonces: the same bytes again, from whichever worker or inline, and still valid signatures.
        const msgs = batch(5);
        const once = await pool.sign(msgs, { deterministic: true });
        assert.deepEqual(await pool.sign(msgs, { deterministic: true }), once);
        assert.deepEqual(once, msgs.map((m) => createSm2Signer(key.privateKey, key.publicKey).signDeterministic(m)));
        once.forEach((sig, i) => assert.ok(sm2Verify(key.publicKey, msgs[i]!, sig)));
      } finally {
        await pool.close();
      }
      await assert.rejects(pool.sign(batch(1)), /closed/);
    });
  }

  void it('signs with the base-point table in its workers when asked (signing.sm2BaseMul: table), verifiable like the default', async () => {
    const pool = createSignerPool({ size: 2, privateKeyHex: key.privateKey, publicKeyHex: key.publicKey, baseMul: 'table' });
    try {
      const msgs = batch(40);
      const sigs = await pool.sign(msgs);
      sigs.forEach((sig, i) => assert.ok(sm2Verify(key.publicKey, msgs[i]!, sig), `message ${i}`));
      assert.ok(!sm2Verify(key.publicKey, msgs[1]!, sigs[0]!));
    } finally {
      await pool.close();
    }
  });

  void it('handles concurrent batches', async () => {
    const pool = createSignerPool({ size: 2, privateKeyHex: key.privateKey, publicKeyHex: key.publicKey });
    try {
      const batches = Array.from({ length: 6 }, () => batch(9));
      const results = await Promise.all(batches.map((b) => pool.sign(b)));
      results.forEach((sigs, j) => sigs.forEach((sig, i) => assert.ok(sm2Verify(key.publicKey, batches[j]![i]!, sig))));
    } finally {
      await pool.close();
    }
  });

  void it('refuses a mismatched key pair up front', () => {
    assert.throws(() => createSignerPool({ size: 1, privateKeyHex: key.privateKey, publicKeyHex: generateSm2KeyPair().publicKey }), /does not match/);
  });
});
