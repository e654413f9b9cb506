// Documents of an integrated invoice carry its ledger inclusion proof, and `fapiao verify FILE` checks it offline:
// the leaf hash from the invoice, the RFC 9162 path to the checkpoint's root, the checkpoint's Ed25519 signature.
// The proof in the files is also checked here with code that is not the server's (test/ledger/rfc9162.ts,
// node:crypto), and one changed byte of the proof or of the checkpoint makes verify fail.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { request } from 'undici';
import { runCli, spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';
import { sha, verifyInclusion } from '../ledger/rfc9162.ts';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The <LedgerProof> of an invoice XML, read with regular expressions (not the production parser). */
function proofOf(xml: string): { leafIndex: number; treeSize: number; leafHash: Buffer; path: Buffer[]; checkpoint: string } {
  const p = /<LedgerProof>([\s\S]*)<\/LedgerProof>/.exec(xml);
  assert.ok(p, 'the XML carries a LedgerProof');
  const one = (name: string) => unescape(new RegExp(`<${name}>([^<]*)</${name}>`).exec(p[1]!)![1]!);
  return {
    leafIndex: Number(one('LeafIndex')),
    treeSize: Number(one('TreeSize')),
    leafHash: Buffer.from(one('LeafHash'), 'base64'),
    path: [...p[1]!.matchAll(/<ProofHash>([^<]*)<\/ProofHash>/g)].map((m) => Buffer.from(m[1]!, 'base64')),
    checkpoint: one('Checkpoint'),
  };
}

/** The PDF's compressed XML attachment: offsets of the stream and its inflated text. */
function pdfXml(pdf: Buffer): { start: number; end: number; xml: string } {
  const text = pdf.toString('latin1');
  for (const m of text.matchAll(/stream\r?\n/g)) {
    const start = m.index + m[0].length;
    const end = text.indexOf('endstream', start);
    try {
      const xml = inflateSync(pdf.subarray(start, end)).toString('utf8');
      if (xml.includes('<EInvoice')) return { start, end, xml };
    } catch { /* not deflated */ }
  }
  throw new Error('no XML attachment');
}

/** The PDF with its XML attachment replaced by `xml` (the reader finds the stream by its delimiters). */
function withPdfXml(pdf: Buffer, xml: string): Buffer {
  const { start, end } = pdfXml(pdf);
  return Buffer.concat([pdf.subarray(0, start), deflateSync(Buffer.from(xml, 'utf8')), Buffer.from('\n'), pdf.subarray(end)]);
}

void describe('ledger proofs in documents, checked offline', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-proof-'));
  const files = mkdtempSync(join(tmpdir(), 'fapiao-proof-files-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  let server: Spawned;
  let number: string;
  let leafIndex: number;
  let logKey: string;
  const file = (name: string) => join(files, name);
  const verify = (name: string, ...args: string[]) => runCli(['verify', file(name), '--key', file('keys.json'), ...args], env);

  before(async () => {
    server = await spawnServer(dataDir);
    const headers = { authorization: `Bearer ${server.demoKey}` };
    const res = await request(`${server.url}/v1/invoices`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(sampleInvoice()), dispatcher: server.agent,
    });
    const issued = (await res.body.json()) as { number: string; ledger: { index: number } };
    number = issued.number;
    leafIndex = issued.ledger.index;
    // Two more leaves, so the first one's proof has hashes to change.
    for (let i = 0; i < 2; i++) {
      const more = await request(`${server.url}/v1/invoices`, {
        method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(sampleInvoice()), dispatcher: server.agent,
      });
      assert.equal(more.statusCode, 201);
      await more.body.dump();
    }
    // Integrated within about a second (ledger.checkpointIntervalMs).
    for (let i = 0; ; i++) {
      const p = await request(`${server.url}/v1/ledger/proof/${number}`, { headers, dispatcher: server.agent });
      const body = p.statusCode === 200 ? ((await p.body.json()) as { treeSize: number }) : (await p.body.dump(), undefined);
      if (body && body.treeSize >= leafIndex + 3) break;
      assert.ok(i < 100, 'integrated in time');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const format of ['xml', 'pdf', 'ofd', 'ubl']) {
      const r = await request(`${server.url}/v1/invoices/${number}?format=${format}`, { headers, dispatcher: server.agent });
      assert.equal(r.statusCode, 200);
      writeFileSync(file(`invoice.${format}`), Buffer.from(await r.body.arrayBuffer()));
    }
    const keys = await request(`${server.url}/v1/keys`, { dispatcher: server.agent });
    const text = await keys.body.text();
    writeFileSync(file('keys.json'), text);
    logKey = (JSON.parse(text) as { ledger: { verifierKey: string }[] }).ledger[0]!.verifierKey;
    await server.stop();
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  });

  void it('the XML and the PDF attachment carry a proof an independent RFC 9162 verifier and node:crypto accept', () => {
    const xml = readFileSync(file('invoice.xml'), 'utf8');
    const fromPdf = pdfXml(readFileSync(file('invoice.pdf'))).xml;
    for (const doc of [xml, fromPdf]) {
      const p = proofOf(doc);
      assert.equal(p.leafIndex, leafIndex);
      // The checkpoint: origin, size, base64 root, extension lines, blank line, signature lines.
      const at = p.checkpoint.lastIndexOf('\n\n');
      const body = p.checkpoint.slice(0, at + 1);
      const [origin, size, root] = body.split('\n') as [string, string, string];
      assert.equal(Number(size), p.treeSize);
      assert.ok(verifyInclusion(p.leafIndex, p.treeSize, p.leafHash, p.path, Buffer.from(root, 'base64')), 'RFC 9162 inclusion');
      assert.ok(!verifyInclusion(p.leafIndex, p.treeSize, sha(Buffer.of(0), Buffer.from('x')), p.path, Buffer.from(root, 'base64')), 'another leaf does not');
      const [, name, hexId, b64] = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(logKey)!;
      assert.equal(name, origin);
      const typed = Buffer.from(b64!, 'base64');
      const line = p.checkpoint.slice(at + 2).split('\n').find((l) => l.startsWith(`\u2014 ${name} `))!;
      const raw = Buffer.from(line.split(' ')[2]!, 'base64');
      assert.equal(raw.subarray(0, 4).toString('hex'), hexId);
      assert.equal(createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`), typed])).digest().subarray(0, 4).toString('hex'), hexId);
      const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, typed.subarray(1)]), format: 'der', type: 'spki' });
      assert.ok(nodeVerify(null, Buffer.from(body), key, raw.subarray(4)), 'the checkpoint signature verifies with node:crypto');
    }
    // The OFD and the UBL embed the same XML, proof included.
    assert.match(readFileSync(file('invoice.ofd')).toString('latin1'), /LedgerProof|PK/);
    const ubl = readFileSync(file('invoice.ubl'), 'utf8');
    const signed = Buffer.from(/SignedInvoice[^>]*>([A-Za-z0-9+/=\s]*)</.exec(ubl)![1]!.replace(/\s+/g, ''), 'base64').toString('utf8');
    assert.equal(proofOf(signed).leafIndex, leafIndex);
  });

  for (const format of ['xml', 'pdf', 'ofd', 'ubl']) {
    void it(`fapiao verify checks the proof in the ${format} file, one line per check`, async () => {
      const res = await verify(`invoice.${format}`);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      for (const what of ['hash', 'signature', 'leaf', 'checkpoint', 'inclusion']) assert.match(res.stdout, new RegExp(`^ok\\s+${what}\\s`, 'm'));
      assert.match(res.stdout, new RegExp(`leaf ${leafIndex} is in the tree of \\d+ leaves`));
    });
  }

  void it('takes the log key from --log-key (text or file) and from the data directory', async () => {
    for (const args of [['--log-key', logKey], ['--log-key', (writeFileSync(file('log.vkey'), `${logKey}\n`), file('log.vkey'))]]) {
      const res = await runCli(['verify', file('invoice.pdf'), '--key', file('keys.json'), ...args], env);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.match(res.stdout, /ok\s+checkpoint/);
    }
    const local = await runCli(['verify', file('invoice.xml')], env);
    assert.equal(local.code, 0, local.stdout + local.stderr);
    assert.match(local.stdout, /ok\s+inclusion/);
  });

  void it('fails on a changed proof hash, leaf hash or tree size, in the XML and in the PDF', async () => {
    const xml = readFileSync(file('invoice.xml'), 'utf8');
    const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
    const changes: [string, string, RegExp][] = [];
    const p = proofOf(xml);
    assert.ok(p.path.length > 0, 'a proof with hashes');
    changes.push(['proof-hash', flip(xml, xml.indexOf('<ProofHash>') + 11 + 5), /FAIL\s+inclusion/]);
    changes.push(['leaf-hash', flip(xml, xml.indexOf('<LeafHash>') + 10 + 5), /FAIL\s+leaf/]);
    changes.push(['tree-size', xml.replace(/<TreeSize>(\d+)</, (_, n: string) => `<TreeSize>${Number(n) + 1}<`), /FAIL\s+inclusion/]);
    for (const [what, changed, fails] of changes) {
      assert.notEqual(changed, xml, what);
      writeFileSync(file(`${what}.xml`), changed);
      writeFileSync(file(`${what}.pdf`), withPdfXml(readFileSync(file('invoice.pdf')), changed));
      for (const ext of ['xml', 'pdf']) {
        const res = await verify(`${what}.${ext}`);
        assert.equal(res.code, 1, `${what}.${ext}: ${res.stdout}`);
        assert.match(res.stdout, fails, `${what}.${ext}`);
        assert.match(res.stdout, /ok\s+signature/, 'the invoice itself still verifies');
      }
    }
    // The untouched PDF rebuilt the same way still passes: only the change fails it.
    writeFileSync(file('same.pdf'), withPdfXml(readFileSync(file('invoice.pdf')), xml));
    assert.equal((await verify('same.pdf')).code, 0);
  });

  void it('fails on a forged checkpoint: a changed root, a changed signature, another log key', async () => {
    const xml = readFileSync(file('invoice.xml'), 'utf8');
    const cp = proofOf(xml).checkpoint;
    const [, , root] = cp.split('\n') as [string, string, string];
    const otherRoot = Buffer.from(root, 'base64');
    otherRoot[0] = otherRoot[0]! ^ 1;
    const forgedRoot = xml.replace(`\n${root}\n`, `\n${otherRoot.toString('base64')}\n`);
    const sigAt = xml.indexOf('\u2014 ');
    const lineEnd = xml.indexOf('\n', sigAt);
    const forgedSig = xml.slice(0, lineEnd - 6) + (xml[lineEnd - 6] === 'A' ? 'B' : 'A') + xml.slice(lineEnd - 5);
    for (const [what, changed] of [['root', forgedRoot], ['signature', forgedSig]] as const) {
      assert.notEqual(changed, xml);
      writeFileSync(file(`forged-${what}.xml`), changed);
      writeFileSync(file(`forged-${what}.pdf`), withPdfXml(readFileSync(file('invoice.pdf')), changed));
      for (const ext of ['xml', 'pdf']) {
        const res = await verify(`forged-${what}.${ext}`);
        assert.equal(res.code, 1, `${what}.${ext}: ${res.stdout}`);
        assert.match(res.stdout, /FAIL\s+checkpoint/, `${what}.${ext}`);
      }
    }
    // A key of another log with the same name: the signature is not its.
    const other = await runCli(['ledger', 'witness-key', proofOf(xml).checkpoint.split('\n')[0]!, file('other.key')], env);
    assert.equal(other.code, 0, other.stderr);
    const res = await verify('invoice.xml', '--log-key', other.stdout.trim().split('\n').pop()!);
    assert.equal(res.code, 1, res.stdout);
    assert.match(res.stdout, /FAIL\s+checkpoint/);
  });

  void it('says so when a file carries no proof', async () => {
    const bare = readFileSync(file('invoice.xml'), 'utf8').replace(/<LedgerProof>[\s\S]*<\/LedgerProof>/, '');
    writeFileSync(file('bare.xml'), bare);
    const res = await verify('bare.xml');
    assert.equal(res.code, 0, res.stdout);
    assert.match(res.stdout, /carries no inclusion proof/);
  });
});
