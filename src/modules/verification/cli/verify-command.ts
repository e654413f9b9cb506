// `fapiao verify <file|number>`: checks an invoice offline — hash, signature under the published key (SM2, or
// ECDSA-P256 / Ed25519 by the key's algorithm), QR, for
// an OFD or UBL file that the document shows the number, date and total of the signed invoice it carries, for a PDF
// that its pages show them, the total in capitals and the signed QR (`pdf`: documents/app/pdf-face.ts), for an OFD
// its package signature (`ofd-signature`: SM3 of every part, SM2 under the invoice's key), and for a
// file that carries its ledger inclusion proof: the leaf hash recomputed from the invoice, the proof against the
// checkpoint's root and the checkpoint's signature under the log's verifier key (docs/ledger.md "Proofs in documents").
// The readers (PDF, XML), the SM2 code and the HTTP client are imported when the command runs (cli/main.ts).
import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { Config } from '../../../config/config.ts';
import type { Invoice } from '../../../shared/invoice.ts';
import { openAdmin } from '../../../cli/admin-context.ts';
import { withProgress } from '../../../cli/progress.ts';
import type { SigningAlgorithm } from '../../../shared/signing.ts';

interface PublishedKey {
  keyId: string;
  /** Absent in a hand-written list: SM2. */
  alg?: SigningAlgorithm;
  publicKey: string;
}

/** The signing keys, and the ledger's verifier keys (signed-note vkeys) where the source has them. */
interface Published {
  keys: PublishedKey[];
  ledger: string[] | undefined;
}

type KeysJson = { keys?: PublishedKey[]; ledger?: { verifierKey: string }[] };

async function keysFromFile(path: string): Promise<Published> {
  const text = readFileSync(path, 'utf8').trim();
  if (/^04[0-9a-fA-F]{128}$/.test(text)) return { keys: [{ keyId: '*', publicKey: text.toLowerCase() }], ledger: undefined };
  if (text.startsWith('-----BEGIN PUBLIC KEY-----')) {
    const { publicKeyFromSpki } = await import('../../../platform/crypto/signatures.ts');
    const key = publicKeyFromSpki(text);
    if (!key) throw new Error(`${path}: not an SM2, P-256 or Ed25519 public key`);
    return { keys: [{ keyId: '*', ...key }], ledger: undefined };
  }
  const parsed = JSON.parse(text) as KeysJson | PublishedKey[];
  const keys = Array.isArray(parsed) ? parsed : (parsed.keys ?? []);
  if (keys.length === 0) throw new Error(`${path}: no keys (expected the JSON of GET /v1/keys, a hex SM2 public key or a PEM public key)`);
  return { keys, ledger: Array.isArray(parsed) ? undefined : parsed.ledger?.map((k) => k.verifierKey) };
}

async function keysFromServer(url: string, caPath?: string): Promise<Published> {
  const { Agent, request } = await import('undici');
  const dispatcher = caPath ? new Agent({ connect: { ca: readFileSync(caPath) } }) : undefined;
  const res = await request(new URL('/v1/keys', url), dispatcher ? { dispatcher } : {});
  if (res.statusCode !== 200) throw new Error(`GET /v1/keys answered ${res.statusCode}`);
  const body = (await res.body.json()) as KeysJson;
  return { keys: body.keys ?? [], ledger: (body.ledger ?? []).map((k) => k.verifierKey) };
}

/** `--log-key`: a vkey (`<name>+<hex id>+<base64>`) or a file of them, one a line. */
function logKeysOf(arg: string): string[] {
  const text = /^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/.test(arg.trim()) ? arg : readFileSync(arg, 'utf8');
  const keys = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (keys.length === 0) throw new Error(`${arg}: no verifier key`);
  return keys;
}

export function verifyCommand(loadConfig: () => Readonly<Config>): Command {
  return new Command('verify')
    .description('check an invoice offline: a JSON, XML, PDF, OFD or UBL file as served, or a number in the local database')
    .argument('<file|number>')
    .option('--key <file>', 'public keys: the JSON of GET /v1/keys, one hex SM2 public key, or one PEM public key (SM2, P-256, Ed25519)')
    .option('--server <url>', 'fetch the public keys from this server once')
    .option('--ca <pem>', 'CA certificate to trust for --server (e.g. data/tls/ca.pem)')
    .option('--log-key <vkey|file>', 'the ledger\'s verifier key (GET /v1/keys `ledger`), or a file of them; default: from --key, --server or the data directory')
    .action(async (target: string, o: { key?: string; server?: string; ca?: string; logKey?: string }) => {
      let invoice: Invoice;
      let source: string;
      let fileChecks: { ok: boolean; what: string; text: string }[] = [];
      let keyChecks: ((keyOf: (keyId: string) => string | undefined) => { ok: boolean; what: string; text: string }[]) | undefined;
      let keys: PublishedKey[] | undefined;
      let logKeys: string[] | undefined = o.logKey ? logKeysOf(o.logKey) : undefined;
      let proof: import('../../documents/index.ts').LedgerProof | undefined;
      const [{ isInvoiceNumber, checkInvoice }, { readInvoiceFile }, ledger] = await withProgress('loading', () =>
        Promise.all([import('../../invoicing/index.ts'), import('../../documents/index.ts'), import('../../ledger/index.ts')]),
      );
      if (existsSync(target)) {
        const read = await readInvoiceFile(readFileSync(target));
        invoice = read.invoice;
        fileChecks = read.checks;
        keyChecks = read.keyChecks;
        proof = read.proof;
        source = `${read.kind} file ${target}`;
      } else if (isInvoiceNumber(target)) {
        const ctx = await openAdmin(loadConfig());
        try {
          const found = await ctx.services.lookup.findInvoice(target);
          if (!found) throw new Error(`no invoice ${target} in the local database`);
          invoice = found;
          keys = o.key || o.server ? undefined : await ctx.services.lookup.publicKeys();
        } finally {
          await ctx.close();
        }
        source = 'local database';
      } else {
        throw new Error(`${String(target)}: no such file, and not a 20-digit invoice number`);
      }
      let published: Published | undefined;
      if (o.key) published = await keysFromFile(o.key);
      else if (o.server) published = await withProgress(`fetching the public keys from ${o.server}`, () => keysFromServer(o.server!, o.ca));
      if (published) {
        keys = published.keys;
        logKeys ??= published.ledger;
      }
      if (!keys || (proof && !logKeys)) {
        const ctx = await openAdmin(loadConfig());
        try {
          keys ??= await ctx.services.lookup.publicKeys();
          if (proof && !logKeys) logKeys = (await ctx.services.ledgerKeys.list()).map((k) => k.verifierKey);
        } finally {
          await ctx.close();
        }
      }
      const key = keys.find((k) => k.keyId === invoice.signature?.keyId) ?? (keys.length === 1 && keys[0]!.keyId === '*' ? keys[0] : undefined);
      const out = (ok: boolean, what: string, text: string) => process.stdout.write(`${ok ? 'ok  ' : 'FAIL'}  ${what.padEnd(10)} ${text}\n`);
      process.stdout.write(`invoice ${invoice.number} · ${invoice.type} · ${invoice.kind} · ${invoice.issueDate} · total ${invoice.totals?.total} (${source})\n`);
      if (!key) {
        out(false, 'key', `no published key ${invoice.signature?.keyId ?? '(none)'}; pass --key or --server`);
        process.exitCode = 1;
        return;
      }
      const alg = key.alg ?? 'SM2';
      const check = checkInvoice(invoice, { alg, publicKey: key.publicKey });
      out(check.hashValid, 'hash', check.hashValid ? `SM3 of the canonical body is ${invoice.hash}` : 'the body does not match its SM3 hash: the invoice was changed');
      out(check.signatureValid, 'signature', check.signatureValid
        ? `${invoice.signature.alg} under key ${invoice.signature.keyId}`
        : `does not verify under key ${invoice.signature?.keyId} (${alg}; the invoice names ${String(invoice.signature?.alg)})`);
      out(check.qrValid, 'qr', check.qrValid ? 'fields, hash and signature in the QR match the invoice' : 'the QR does not match the invoice');
      const all = keys;
      // The OFD package signature is SM2 (GB/T 38540): only an SM2 key can be its key.
      const sm2Key = (k: PublishedKey | undefined) => (k && (k.alg ?? 'SM2') === 'SM2' ? k.publicKey : undefined);
      fileChecks = [...fileChecks, ...(keyChecks?.((id) => (key.keyId === '*' ? sm2Key(key) : sm2Key(all.find((k) => k.keyId === id)))) ?? [])];
      for (const c of fileChecks) out(c.ok, c.what, c.text);
      let ledgerOk = true;
      if (proof) {
        const verifiers = (logKeys ?? []).map((k) => ledger.verifierFromKey(k));
        const r = ledger.checkCarriedProof(invoice, proof, verifiers);
        for (const c of r.checks) out(c.ok, c.what, c.text);
        ledgerOk = r.checks.every((c) => c.ok);
      } else if (source !== 'local database') {
        process.stdout.write(`      ${'ledger'.padEnd(10)} the file carries no inclusion proof (rendered before the invoice was integrated): GET /v1/ledger/proof/${invoice.number}\n`);
      }
      if (!check.hashValid || !check.signatureValid || !check.qrValid || fileChecks.some((c) => !c.ok) || !ledgerOk) process.exitCode = 1;
    });
}
