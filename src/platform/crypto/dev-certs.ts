// A development PKI, made by `fapiao init` so every listener can speak TLS from the first run: a CA, a server
// certificate for local names and addresses, and client certificates for the mutual-TLS partner listener.
// ECDSA P-256 with SHA-256 through WebCrypto (fast, accepted by every TLS stack). Profiles follow RFC 5280: the CA
// has basicConstraints cA=TRUE (critical) and keyUsage keyCertSign|cRLSign; leaves have cA=FALSE, keyUsage
// digitalSignature and one extendedKeyUsage. Server certificates last 397 days, the CA/Browser Forum's maximum,
// so browsers that import the dev CA also accept the server certificate.
import { webcrypto, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

const crypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;
export const CA_DAYS = 3652;
export const LEAF_DAYS = 397;

/** A certificate and its private key, both PEM (the key as PKCS#8 "PRIVATE KEY"). */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface DevPki {
  ca: PemPair;
  server: PemPair;
}

export interface CertOptions {
  /** Validity start (default: now − 1 h, to absorb clock skew). */
  notBefore?: Date;
  days?: number;
}

/** Positive 127-bit serial, as RFC 5280 §4.1.2.2 asks (≤ 20 octets, unpredictable). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

function validity(options: CertOptions, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const notBefore = options.notBefore ?? new Date(Date.now() - 3_600_000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + (options.days ?? defaultDays) * DAY) };
}

async function keyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function newKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
}

/** RFC 4514 attribute values: escape the characters that would change the name's structure. */
function cn(value: string): string {
  return `CN=${value.replace(/([,+"\\<>;=])/g, '\\$1').replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ')}`;
}

export async function createDevCa(commonName = 'Fapiao Development CA', options: CertOptions = {}): Promise<PemPair> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `${cn(commonName)}, O=Fapiao (development only)`,
    ...validity(options, CA_DAYS),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

interface LoadedCa {
  cert: x509.X509Certificate;
  key: CryptoKey;
}

async function loadCa(ca: PemPair): Promise<LoadedCa> {
  const cert = new x509.X509Certificate(ca.certPem);
  const der = x509.PemConverter.decodeFirst(ca.keyPem);
  const key = await crypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
  return { cert, key };
}

async function issueLeaf(ca: PemPair, subject: string, extensions: x509.Extension[], options: CertOptions): Promise<PemPair> {
  const issuer = await loadCa(ca);
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: issuer.cert.subject,
    ...validity(options, LEAF_DAYS),
    signingAlgorithm: SIGNING,
    publicKey: keys.publicKey,
    signingKey: issuer.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ...extensions,
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

/** A server certificate (serverAuth) for DNS names and IP addresses, signed by `ca`. */
export async function createServerCert(ca: PemPair, hosts: readonly string[], options: CertOptions = {}): Promise<PemPair> {
  if (hosts.length === 0) throw new TypeError('a server certificate needs at least one host');
  // RFC 6125 / CA/B Forum: names go in subjectAltName; the CN only repeats the first one for old tools.
  const names = hosts.map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }));
  return issueLeaf(
    ca,
    cn(hosts[0]!),
    [new x509.SubjectAlternativeNameExtension(names, false), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false)],
    options,
  );
}

/** A client certificate (clientAuth) for mutual TLS; the partner listener maps its subject CN to a tenant. */
export async function createClientCert(ca: PemPair, commonName: string, options: CertOptions = {}): Promise<PemPair> {
  return issueLeaf(ca, cn(commonName), [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false)], options);
}

/** A fresh development CA and a server certificate for `hosts`. */
export async function createDevPki(hosts: readonly string[] = ['localhost', '127.0.0.1', '::1']): Promise<DevPki> {
  const ca = await createDevCa();
  return { ca, server: await createServerCert(ca, hosts) };
}
