import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
// An Ed25519 implementation other than node:crypto (OpenSSL) checks what ours signs.
import { ed25519 as noble } from '@noble/curves/ed25519';
import { sm2VerifyRaw } from '../../../platform/crypto/sm2.ts';
import { formatAuditHeadExtension, parseCheckpoint } from '../domain/checkpoint.ts';
import { decodeTimestampedSignature } from '../domain/cosignature.ts';
import { parseNote, parseVerifierKey } from '../domain/signed-note.ts';
import { openCheckpoint, signCheckpoint } from './checkpoints.ts';
import { createCosigner } from './cosigner.ts';
import { SM2_TYPE, createSm2NoteSigner, generateNoteKey, signerFromKey, verifierFromKey } from './note-keys.ts';
import { NoteVerificationError, addSignatureLines, openNote, signNote } from './notes.ts';

const examples = JSON.parse(readFileSync(new URL('../../../../test/ledger/fixtures/c2sp-examples.json', import.meta.url), 'utf8'));
const go = examples.goSumdbNote;

const rawKey = (vkey: string): Uint8Array => parseVerifierKey(vkey).typedKey;
const reason = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof NoteVerificationError) return err.reason;
    throw err;
  }
  return 'accepted';
};

describe('Ed25519 note signatures', () => {
  it('verify the example note of the signed-note spec', () => {
    const opened = openNote(examples.signedNote.exampleNote, [verifierFromKey(examples.signedNote.exampleVerifierKey)]);
    assert.equal(opened.text, 'This is an example message.\n');
    assert.equal(opened.verified.length, 1);
  });

  it('sign exactly as the Go reference implementation does', () => {
    const signer = signerFromKey(go.peterSignerKey);
    assert.equal(signer.verifierKey, go.peterVerifierKey);
    assert.equal(signNote(go.text, [signer]), `${go.text}\n${go.peterSignatureLine}\n`);
    // An earlier line of the same key is replaced, not repeated.
    assert.equal(signNote(go.text, [signer], [go.peterSignatureLine]), `${go.text}\n${go.peterSignatureLine}\n`);
    assert.equal(signNote(go.text, [signer], [go.enochSignatureLine]), `${go.text}\n${go.enochSignatureLine}\n${go.peterSignatureLine}\n`);
  });

  it('open notes as golang.org/x/mod/sumdb/note Open does', () => {
    const peter = verifierFromKey(go.peterVerifierKey);
    const enoch = verifierFromKey(go.enochVerifierKey);
    const note = `${go.text}\n${go.peterSignatureLine}\n${go.enochSignatureLine}\n`;
    const one = openNote(note, [peter]);
    assert.deepEqual(one.verified.map((s) => s.name), ['PeterNeumann']);
    assert.deepEqual(one.unverified.map((s) => s.name), ['EnochRoot']);
    assert.deepEqual(openNote(note, [peter, enoch]).verified.map((s) => s.name), ['PeterNeumann', 'EnochRoot']);
    assert.equal(reason(() => openNote(note, [])), 'unverified');
    assert.throws(() => openNote(note, [enoch, peter, enoch]), /share the name and key ID/);
    const sig = `${go.peterSignatureLine}\n`;
    assert.equal(reason(() => openNote(`${go.text}\n${sig.slice(0, 60)}ABCD${sig.slice(60)}`, [peter])), 'invalid-signature');
    // Repeated lines count once; a corrupt line of an unknown key is merely unverified.
    const enochLine = `${go.enochSignatureLine}\n`;
    const messy = openNote(`${go.text}\n${sig}${sig}${enochLine}${enochLine}${enochLine.slice(0, 60)}ABCD${enochLine.slice(60)}`, [peter]);
    assert.equal(messy.verified.length, 1);
    assert.equal(messy.unverified.length, 2);
    assert.equal(reason(() => openNote(`${go.text}\n${sig}${sig.replace('PeterNeumann', 'Bad Name')}`, [peter])), 'malformed');
    // A signature under the right name with another key ID is someone else's key: ignored, not failed.
    assert.equal(reason(() => openNote(`${go.text}\n${sig.replace('x08g', 'xxxx')}`, [peter])), 'unverified');
  });

  it('refuse verifier keys of the wrong length or an unknown type', () => {
    for (const k of go.badVerifierKeys) assert.throws(() => verifierFromKey(k), { name: 'NoteFormatError' }, k);
    assert.throws(() => verifierFromKey(go.badVerifierKeys[1]), /unsupported/);
  });

  it('refuse mangled signer keys', () => {
    const skey: string = go.peterSignerKey;
    assert.doesNotThrow(() => signerFromKey(skey));
    for (let i = 0; i < skey.length; i += 3) {
      for (let j = i + 1; j <= skey.length; j += 5) {
        if (i === 0 && j === skey.length) continue;
        assert.throws(() => signerFromKey(skey.slice(i, j)), { name: 'NoteFormatError' }, skey.slice(i, j));
      }
    }
    for (let i = 0; i < skey.length; i++) {
      const changed = skey.slice(0, i) + String.fromCharCode(skey.charCodeAt(i) + 1) + skey.slice(i + 1);
      assert.throws(() => signerFromKey(changed), { name: 'NoteFormatError' }, changed);
    }
  });
});

describe('signed checkpoints', () => {
  const log = generateNoteKey('fapiao.example/ledger', 'ed25519');
  const gm = generateNoteKey('fapiao.example/ledger', 'sm2');
  const body = {
    origin: 'fapiao.example/ledger',
    size: 1234,
    rootHash: new Uint8Array(32).fill(9),
    extensions: [formatAuditHeadExtension({ seq: 77, hash: 'cd'.repeat(32) })],
  };
  const note = signCheckpoint(body, [signerFromKey(log.signerKey), signerFromKey(gm.signerKey)]);
  const parsed = parseNote(note);
  const text = new Uint8Array(Buffer.from(parsed.text, 'utf8'));

  it('carry an Ed25519 signature that node:crypto and @noble/curves both verify', () => {
    const ed = parsed.signatures.find((s) => s.keyId === parseVerifierKey(log.verifierKey).keyId)!;
    const publicKey = rawKey(log.verifierKey).subarray(1);
    assert.equal(noble.verify(ed.signature, text, publicKey, { zip215: false }), true);
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]), format: 'der', type: 'spki' });
    assert.equal(nodeVerify(null, text, spki, ed.signature), true);
    const tampered = new Uint8Array(text);
    tampered[tampered.length - 2]! ^= 1;
    assert.equal(noble.verify(ed.signature, tampered, publicKey, { zip215: false }), false);
  });

  it('carry an optional SM2 line over the same text', () => {
    const sm = parsed.signatures.find((s) => s.keyId === parseVerifierKey(gm.verifierKey).keyId)!;
    const typedKey = rawKey(gm.verifierKey);
    assert.deepEqual(typedKey.subarray(0, SM2_TYPE.length), SM2_TYPE);
    assert.equal(Buffer.from(typedKey.subarray(1, SM2_TYPE.length)).toString('ascii'), 'fapiao.dev/sm2-sm3');
    const publicKeyHex = Buffer.from(typedKey.subarray(SM2_TYPE.length)).toString('hex');
    assert.equal(sm.signature.length, 64);
    assert.equal(sm2VerifyRaw(publicKeyHex, text, sm.signature), true);
    assert.equal(sm2VerifyRaw(publicKeyHex, text.subarray(1), sm.signature), false);
    // Same name, different types: different key IDs, so neither verifier mistakes the other's line.
    assert.notEqual(parseVerifierKey(gm.verifierKey).keyId, parseVerifierKey(log.verifierKey).keyId);
    const edOnly = openCheckpoint(note, body.origin, [verifierFromKey(log.verifierKey)]);
    assert.equal(edOnly.note.unverified.length, 1, 'a reader without the SM2 key ignores that line');
    const both = openCheckpoint(note, body.origin, [verifierFromKey(log.verifierKey), verifierFromKey(gm.verifierKey)]);
    assert.equal(both.note.verified.length, 2);
    assert.deepEqual(both.checkpoint, parseCheckpoint(parsed.text));
    assert.throws(() => createSm2NoteSigner('bad name', '00'), /key name/);
  });

  it('are refused for another origin, a changed body or a forged line', () => {
    const v = [verifierFromKey(log.verifierKey)];
    assert.equal(reason(() => openCheckpoint(note, 'fapiao.example/other', v)), 'malformed');
    assert.equal(reason(() => openCheckpoint(note.replace('\n1234\n', '\n1235\n'), body.origin, v)), 'invalid-signature');
    const other = generateNoteKey('fapiao.example/ledger', 'ed25519');
    assert.equal(reason(() => openCheckpoint(note, body.origin, [verifierFromKey(other.verifierKey)])), 'unverified');
    assert.throws(() => signCheckpoint(body, [signerFromKey(gm.signerKey)]), /Ed25519/);
  });
});

describe('cosignature/v1', () => {
  const checkpoint = signCheckpoint(
    { origin: 'fapiao.example/ledger', size: 5, rootHash: new Uint8Array(32).fill(1), extensions: [] },
    [signerFromKey(generateNoteKey('fapiao.example/ledger', 'ed25519').signerKey)],
  );
  const { text } = parseNote(checkpoint);

  it('signs "cosignature/v1\\ntime <t>\\n" ‖ body, checked with @noble/curves', () => {
    const key = generateNoteKey('witness.example/w1', 'cosignature/v1');
    const cosigner = signerFromKey(key.signerKey, () => 1_679_315_147_999) as ReturnType<typeof createCosigner>;
    assert.equal(cosigner.type, 'cosignature/v1');
    const { line, timestamp } = cosigner.cosign(text);
    assert.equal(timestamp, 1679315147);
    const sig = parseNote(`${text}\n${line}\n`).signatures[0]!;
    const typedKey = rawKey(key.verifierKey);
    assert.equal(typedKey[0], 0x04);
    const decoded = decodeTimestampedSignature(sig.signature);
    assert.equal(decoded.timestamp, 1679315147);
    const message = Buffer.from(`cosignature/v1\ntime 1679315147\n${text}`, 'utf8');
    assert.equal(noble.verify(decoded.signature, message, typedKey.subarray(1), { zip215: false }), true);
    assert.equal(noble.verify(decoded.signature, Buffer.from(text), typedKey.subarray(1)), false, 'not a plain note signature');

    const withCosig = addSignatureLines(checkpoint, `${line}\n`);
    const opened = openNote(withCosig, [verifierFromKey(key.verifierKey)]);
    assert.equal(opened.verified[0]!.name, 'witness.example/w1');
    assert.equal(addSignatureLines(withCosig, `${line}\n`), withCosig, 'a line already there is not added twice');
    // Rewriting the timestamp breaks the signature.
    const forged = Buffer.from(sig.signature);
    forged.writeBigUInt64BE(1679315148n, 0);
    assert.equal(verifierFromKey(key.verifierKey).verify(new Uint8Array(Buffer.from(text)), forged), false);
  });

  it('refuses to cosign without a clock', () => {
    const key = generateNoteKey('witness.example/w1', 'cosignature/v1');
    assert.throws(() => (signerFromKey(key.signerKey, () => 0) as ReturnType<typeof createCosigner>).cosign(text), /clock/);
  });
});
