import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { auditHeadOf, formatAuditHeadExtension, formatCheckpoint, parseCheckpoint } from './checkpoint.ts';
import { cosignatureMessage, decodeTimestampedSignature, encodeTimestampedSignature, parseCosignatureMessage } from './cosignature.ts';
import {
  MAX_NOTE_SIGNATURES,
  computeKeyId,
  formatNote,
  formatSignatureLine,
  formatVerifierKey,
  isValidKeyName,
  parseNote,
  parseVerifierKey,
} from './signed-note.ts';

// Examples from the C2SP specifications and golang.org/x/mod/sumdb/note, with their sources, in the fixture.
const examples = JSON.parse(readFileSync(new URL('../../../../test/ledger/fixtures/c2sp-examples.json', import.meta.url), 'utf8'));

describe('signed notes: the format', () => {
  it('parses the examples of the spec', () => {
    const q = parseNote(examples.signedNote.quasimodo);
    // The text keeps its own blank line: the signatures start after the *last* blank line.
    assert.equal(q.text, 'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n');
    assert.equal(q.signatures.length, 1);
    assert.equal(q.signatures[0]!.name, 'quasimodo.example/salvatore');
    assert.equal(q.signatures[0]!.signature.length, 64);

    const foo = parseNote(examples.signedNote.exampleNote);
    assert.equal(foo.text, 'This is an example message.\n');
    const vkey = parseVerifierKey(examples.signedNote.exampleVerifierKey);
    assert.equal(vkey.name, 'example.com/foo');
    assert.equal(vkey.keyId, 0x530d903a);
    assert.equal(vkey.typedKey[0], 0x01);
    assert.equal(vkey.typedKey.length, 33);
    assert.equal(foo.signatures[0]!.keyId, 0x530d903a, 'the signature names the key by its ID');
    assert.equal(formatVerifierKey(vkey.name, vkey.typedKey), examples.signedNote.exampleVerifierKey);

    const go = examples.goSumdbNote;
    assert.equal(parseVerifierKey(go.peterVerifierKey).keyId, 0xc74f20a3);
    assert.equal(parseVerifierKey(go.enochVerifierKey).keyId, 0xaf0cfe78);
    const both = parseNote(`${go.text}\n${go.peterSignatureLine}\n${go.enochSignatureLine}\n`);
    assert.deepEqual(
      both.signatures.map((s) => [s.name, s.keyId]),
      [
        ['PeterNeumann', 0xc74f20a3],
        ['EnochRoot', 0xaf0cfe78],
      ],
    );
  });

  it('computes key IDs as SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4]', () => {
    const vkey = parseVerifierKey(examples.signedNote.exampleVerifierKey);
    assert.equal(computeKeyId('example.com/foo', vkey.typedKey), 0x530d903a);
    assert.notEqual(computeKeyId('example.com/bar', vkey.typedKey), 0x530d903a);
    assert.notEqual(computeKeyId('example.com/foo', Uint8Array.from([0x04, ...vkey.typedKey.subarray(1)])), 0x530d903a);
  });

  it('formats what it parses, byte for byte', () => {
    for (const n of [examples.signedNote.quasimodo, examples.signedNote.exampleNote, examples.checkpoint.note, examples.cosignature.cosignedNote]) {
      const p = parseNote(n);
      assert.equal(formatNote(p.text, p.signatures.map((s) => s.line)), n);
      assert.deepEqual(
        p.signatures.map((s) => formatSignatureLine(s.name, s.keyId, s.signature)),
        p.signatures.map((s) => s.line),
      );
    }
  });

  it('refuses malformed notes', () => {
    const { text, peterSignatureLine: sig } = examples.goSumdbNote;
    const good = `${text}\n${sig}\n`;
    assert.doesNotThrow(() => parseNote(good));
    const bad: [string | Uint8Array, string][] = [
      [text, 'no signatures'],
      [`${text}\n`, 'a blank line and nothing after'],
      [`${text}\n${sig}`, 'a signature line without its newline'],
      [`\x01${text}\n${sig}\n`, 'a control character'],
      [`${text.replace('\n', '\r\n')}\n${sig}\n`, 'a carriage return'],
      [`${text}\t\n${sig}\n`, 'a tab'],
      [Buffer.concat([Buffer.from([0xff]), Buffer.from(good)]), 'invalid UTF-8'],
      [`\ud800${good}`, 'a lone surrogate'],
      [`${text}\n— Bad Name ${sig.split(' ')[2]}\n`, 'a space in the key name'],
      [`${text}\n— Bad+Name ${sig.split(' ')[2]}\n`, 'a plus in the key name'],
      [`${text}\n—  ${sig.split(' ')[2]}\n`, 'an empty key name'],
      [`${text}\n${sig}\nUnexpected line.\n`, 'a line that is not a signature'],
      [`${text}\n- PeterNeumann ${sig.split(' ')[2]}\n`, 'a hyphen for the em dash'],
      [`${text}\n—PeterNeumann ${sig.split(' ')[2]}\n`, 'no space after the dash'],
      [`${text}\n— PeterNeumann  ${sig.split(' ')[2]}\n`, 'two spaces'],
      [`${text}\n— PeterNeumann ${sig.split(' ')[2]} \n`, 'a trailing space'],
      [`${text}\n— PeterNeumann ${sig.split(' ')[2]!.replace('=', '')}\n`, 'missing base64 padding'],
      [`${text}\n— PeterNeumann x08g\n`, 'a signature of three bytes'],
      [`${text}\n— PeterNeumann AAAAAA==\n`, 'a key ID and no signature'],
      [`${text}\n— PeterNeumann AAAAAAB=\n`, 'non-canonical base64 (non-zero trailing bits)'],
      [`${text}\n${sig}\n\n`, 'a blank line at the end'],
      [`${text}\n${`${sig}\n`.repeat(MAX_NOTE_SIGNATURES + 1)}`, 'too many signatures'],
    ];
    for (const [note, what] of bad) assert.throws(() => parseNote(note), { name: 'NoteFormatError' }, what);
    // The spec requires accepting at least 16 signatures.
    assert.equal(parseNote(`${text}\n${`${sig}\n`.repeat(16)}`).signatures.length, 16);
  });

  it('validates key names as the spec says', () => {
    assert.ok(isValidKeyName('example.com/log42'));
    assert.ok(isValidKeyName('税务.example/账本'));
    for (const n of ['', 'a b', 'a+b', 'a\u00a0b', 'a\u3000b', 'a\u2028b', 'a\tb']) assert.equal(isValidKeyName(n), false, JSON.stringify(n));
  });

  it('refuses malformed verifier keys', () => {
    const vkey: string = examples.goSumdbNote.peterVerifierKey;
    assert.doesNotThrow(() => parseVerifierKey(vkey));
    // As golang.org/x/mod/sumdb/note TestNewVerifier: no proper substring and no one-byte change is a key.
    for (let i = 0; i <= vkey.length; i++) {
      for (let j = i + 1; j <= vkey.length; j++) {
        if (i === 0 && j === vkey.length) continue;
        assert.throws(() => parseVerifierKey(vkey.slice(i, j)), { name: 'NoteFormatError' }, vkey.slice(i, j));
      }
    }
    for (let i = 0; i < vkey.length; i++) {
      const changed = vkey.slice(0, i) + String.fromCharCode(vkey.charCodeAt(i) + 1) + vkey.slice(i + 1);
      assert.throws(() => parseVerifierKey(changed), { name: 'NoteFormatError' }, changed);
    }
    assert.throws(() => parseVerifierKey(vkey.replace('c74f20a3', 'C74F20A3')), /malformed/, 'the key ID is lower-case hex');
  });
});

describe('checkpoints', () => {
  it('parse the spec example', () => {
    const c = parseCheckpoint(parseNote(examples.checkpoint.note).text);
    assert.equal(c.origin, 'example.com/behind-the-sofa');
    assert.equal(c.size, 20852163);
    assert.equal(Buffer.from(c.rootHash).toString('base64'), 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
    assert.deepEqual(c.extensions, []);
    assert.equal(formatCheckpoint(c), parseNote(examples.checkpoint.note).text);
  });

  it('carry the audit head as one extension line', () => {
    const head = { seq: 42, hash: 'ab'.repeat(32) };
    const text = formatCheckpoint({ origin: 'fapiao.example/ledger', size: 7, rootHash: new Uint8Array(32), extensions: [formatAuditHeadExtension(head)] });
    assert.equal(text, `fapiao.example/ledger\n7\n${'A'.repeat(43)}=\nfapiao-audit-head 42 ${'ab'.repeat(32)}\n`);
    const c = parseCheckpoint(text);
    assert.deepEqual(auditHeadOf(c), head);
    assert.deepEqual(auditHeadOf({ ...c, extensions: [formatAuditHeadExtension({ seq: 0, hash: '0'.repeat(64) })] }), { seq: 0, hash: '0'.repeat(64) });
    assert.equal(auditHeadOf({ ...c, extensions: ['other-extension 1'] }), undefined);
    for (const ext of [
      ['fapiao-audit-head 42'],
      [`fapiao-audit-head 042 ${'ab'.repeat(32)}`],
      [`fapiao-audit-head 42 ${'AB'.repeat(32)}`],
      [`fapiao-audit-head 42 ${'ab'.repeat(31)}`],
      [`fapiao-audit-head 0 ${'ab'.repeat(32)}`],
      [`fapiao-audit-head 42  ${'ab'.repeat(32)}`],
      [formatAuditHeadExtension(head), formatAuditHeadExtension(head)],
    ]) {
      assert.throws(() => auditHeadOf({ ...c, extensions: ext }), { name: 'CheckpointFormatError' }, ext.join(' | '));
    }
  });

  it('refuse malformed bodies', () => {
    const root = 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=';
    assert.doesNotThrow(() => parseCheckpoint(`o\n0\n${root}\n`));
    for (const text of [
      `o\n1\n${root}`,
      `o\n1\n`,
      `\n1\n${root}\n`,
      `o\n01\n${root}\n`,
      `o\n-1\n${root}\n`,
      `o\n+1\n${root}\n`,
      `o\n1.0\n${root}\n`,
      `o\n 1\n${root}\n`,
      `o\n9007199254740992\n${root}\n`,
      `o\n1\n${root.slice(0, -1)}\n`,
      `o\n1\n${root.slice(4)}\n`,
      `o\n1\n${Buffer.alloc(33).toString('base64')}\n`,
      `o\n1\n${root}\n\n`,
      `o\n1\n${root}\next\n\nmore\n`,
      `o\n1\n${root}\r\n`,
    ]) {
      assert.throws(() => parseCheckpoint(text), { name: 'CheckpointFormatError' }, JSON.stringify(text));
    }
    assert.throws(() => formatCheckpoint({ origin: 'has space', size: 1, rootHash: new Uint8Array(32), extensions: [] }));
    assert.throws(() => formatCheckpoint({ origin: 'o', size: 1, rootHash: new Uint8Array(32), extensions: [''] }));
  });
});

describe('cosignature/v1', () => {
  it('decodes the spec example: key ID, then a big-endian timestamp, then the Ed25519 signature', () => {
    const note = parseNote(examples.cosignature.cosignedNote);
    const cosig = note.signatures.find((s) => s.name === 'witness.example.com/w1')!;
    const { timestamp, signature } = decodeTimestampedSignature(cosig.signature);
    assert.equal(timestamp, 1679315147);
    assert.equal(signature.length, 64);
    assert.equal(Buffer.from(cosignatureMessage(note.text, timestamp)).toString('utf8'), examples.cosignature.signedMessage);
    assert.deepEqual(parseCosignatureMessage(examples.cosignature.signedMessage), { timestamp, checkpointText: note.text });
    assert.deepEqual(encodeTimestampedSignature(timestamp, signature), cosig.signature);
  });

  it('refuses malformed timestamped signatures', () => {
    assert.throws(() => decodeTimestampedSignature(new Uint8Array(71)));
    assert.throws(() => decodeTimestampedSignature(new Uint8Array(73)));
    assert.throws(() => decodeTimestampedSignature(Uint8Array.from([0xff, ...new Uint8Array(71)])), /range/);
    assert.throws(() => encodeTimestampedSignature(-1, new Uint8Array(64)));
    assert.throws(() => cosignatureMessage('no newline', 1));
    assert.equal(parseCosignatureMessage('cosignature/v1\ntime 01\nx\n'), undefined);
    assert.equal(parseCosignatureMessage('cosignature/v2\ntime 1\nx\n'), undefined);
  });
});
