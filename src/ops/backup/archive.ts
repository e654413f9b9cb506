// The backup archive: one file, encrypted and authenticated under a key derived from the master key.
//
//   header (72 bytes, plaintext, authenticated as part of every chunk's AAD):
//     magic "FAPIAOBK" (8) ‖ format version u32 ‖ master key version u32 ‖ HKDF salt (32) ‖ nonce prefix (8) ‖
//     key check (16)
//   chunks: length u32 (high bit: last chunk) ‖ AES-256-GCM ciphertext (≤ 1 MiB) ‖ tag (16)
//
// The archive key is HKDF-SHA256 (RFC 5869) of the master key with the header's random salt and the info string
// ARCHIVE_INFO, distinct from every other use of the master key. Each chunk's IV is the nonce prefix ‖ the chunk
// number; its AAD is the header ‖ chunk number ‖ last flag, so chunks cannot be reordered, dropped, or the archive cut
// short at a chunk boundary unnoticed (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár, 2015). The
// key check (HKDF with its own info string) tells a wrong master key apart from a damaged archive.
// A master key in an HSM (platform/crypto/pkcs11-master-key.ts) cannot feed HKDF: its input keying material is then
// the token's AES-GCM encryption of 32 zero bytes under the first 12 bytes of the salt as IV, with HSM_IKM_AAD (the
// ciphertext is AES-CTR keystream, a PRF of the key and the salt); a fresh random salt per archive never repeats an
// IV, and no sealed secret uses this AAD.
//
// The plaintext is: manifest length u32 ‖ manifest JSON ‖ each file's bytes in manifest order. Reading and writing
// go a chunk at a time, so a large database never sits in memory.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { isMasterKeyCipher, type MasterKey } from '../../platform/crypto/key-store.ts';

export const ARCHIVE_MAGIC = Buffer.from('FAPIAOBK', 'ascii');
export const ARCHIVE_FORMAT = 1;
export const HEADER_BYTES = 72;
export const CHUNK_BYTES = 1 << 20;
const TAG_BYTES = 16;
const LAST = 0x8000_0000;
const ARCHIVE_INFO = 'fapiao backup archive v1: AES-256-GCM chunk key';
const CHECK_INFO = 'fapiao backup archive v1: key check';

/** A backup could not be written or restored; the message is for the operator, never holds key material. */
export class BackupError extends Error {
  override name = 'BackupError';
}

interface Keys {
  key: Buffer;
  check: Buffer;
}

const HSM_IKM_AAD = Buffer.from('fapiao backup archive v1: HSM key material', 'utf8');

function deriveKeys(key: MasterKey, salt: Buffer): Keys {
  const masterKey = isMasterKeyCipher(key) ? Buffer.from(key.encrypt(salt.subarray(0, 12), Buffer.alloc(32), HSM_IKM_AAD).subarray(0, 32)) : key;
  return {
    key: Buffer.from(hkdfSync('sha256', masterKey, salt, ARCHIVE_INFO, 32)),
    check: Buffer.from(hkdfSync('sha256', masterKey, salt, CHECK_INFO, 16)),
  };
}

function chunkIv(prefix: Buffer, n: number): Buffer {
  const iv = Buffer.alloc(12);
  prefix.copy(iv, 0);
  iv.writeUInt32BE(n, 8);
  return iv;
}

function chunkAad(header: Buffer, n: number, last: boolean): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt32BE(n, 0);
  tail[4] = last ? 1 : 0;
  return Buffer.concat([header, tail]);
}

/** Writes the archive to an open file, a chunk at a time. */
export class ArchiveWriter {
  private readonly header: Buffer;
  private readonly key: Buffer;
  private readonly prefix: Buffer;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private n = 0;
  bytesWritten = 0;

  private constructor(private readonly out: FileHandle, masterKey: MasterKey, masterKeyVersion: number) {
    const salt = randomBytes(32);
    this.prefix = randomBytes(8);
    const keys = deriveKeys(masterKey, salt);
    this.key = keys.key;
    const head = Buffer.alloc(HEADER_BYTES);
    ARCHIVE_MAGIC.copy(head, 0);
    head.writeUInt32BE(ARCHIVE_FORMAT, 8);
    head.writeUInt32BE(masterKeyVersion, 12);
    salt.copy(head, 16);
    this.prefix.copy(head, 48);
    keys.check.copy(head, 56);
    this.header = head;
  }

  static async open(out: FileHandle, masterKey: MasterKey, masterKeyVersion: number): Promise<ArchiveWriter> {
    const w = new ArchiveWriter(out, masterKey, masterKeyVersion);
    await w.raw(w.header);
    return w;
  }

  private async raw(buf: Buffer): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.out.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    this.bytesWritten += buf.length;
  }

  private async seal(plain: Buffer, last: boolean): Promise<void> {
    if (this.n > 0xffff_ffff) throw new BackupError('archive too large: chunk counter exhausted');
    const cipher = createCipheriv('aes-256-gcm', this.key, chunkIv(this.prefix, this.n), { authTagLength: TAG_BYTES });
    cipher.setAAD(chunkAad(this.header, this.n, last));
    const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE((plain.length | (last ? LAST : 0)) >>> 0, 0);
    await this.raw(Buffer.concat([len, body]));
    this.n++;
  }

  async write(data: Uint8Array): Promise<void> {
    let buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    while (buf.length > 0) {
      // A full chunk is sealed only once more data follows: the last chunk must carry the last flag.
      if (this.pendingBytes === CHUNK_BYTES) await this.flush(false);
      const take = Math.min(buf.length, CHUNK_BYTES - this.pendingBytes);
      this.pending.push(Buffer.from(buf.subarray(0, take)));
      this.pendingBytes += take;
      buf = buf.subarray(take);
    }
  }

  private async flush(last: boolean): Promise<void> {
    const plain = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.seal(plain, last);
  }

  /** Seals the last chunk (possibly empty). */
  async end(): Promise<void> {
    await this.flush(true);
  }
}

const TAMPERED = 'the archive is damaged or was altered (authentication failed); nothing was restored';

/** Reads and authenticates an archive a chunk at a time; every byte it hands out has passed its chunk's tag. */
export class ArchiveReader {
  private n = 0;
  private pos = HEADER_BYTES;
  private buffered: Buffer = Buffer.alloc(0);
  private sawLast = false;

  private constructor(private readonly input: FileHandle, private readonly header: Buffer, private readonly key: Buffer, readonly masterKeyVersion: number, private readonly size: number) {}

  static async open(input: FileHandle, masterKey: MasterKey): Promise<ArchiveReader> {
    const { size } = await input.stat();
    const header = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await input.read(header, 0, HEADER_BYTES, 0);
    if (bytesRead < HEADER_BYTES || !header.subarray(0, 8).equals(ARCHIVE_MAGIC)) throw new BackupError('not a Fapiao backup archive (bad magic or too short)');
    const format = header.readUInt32BE(8);
    if (format !== ARCHIVE_FORMAT) throw new BackupError(`unsupported backup archive format ${format} (this server reads format ${ARCHIVE_FORMAT})`);
    const masterKeyVersion = header.readUInt32BE(12);
    const keys = deriveKeys(masterKey, header.subarray(16, 48));
    if (!timingSafeEqual(keys.check, header.subarray(56, 72))) {
      throw new BackupError(`the master key does not open this archive (it was written under master key version ${masterKeyVersion}, or its header was altered); nothing was restored`);
    }
    return new ArchiveReader(input, header, keys.key, masterKeyVersion, size);
  }

  private async readAt(len: number): Promise<Buffer> {
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await this.input.read(buf, got, len - got, this.pos + got);
      if (bytesRead === 0) throw new BackupError('the archive is truncated; nothing was restored');
      got += bytesRead;
    }
    this.pos += len;
    return buf;
  }

  private async nextChunk(): Promise<boolean> {
    if (this.sawLast) return false;
    const lenField = (await this.readAt(4)).readUInt32BE(0);
    const last = (lenField & LAST) !== 0;
    const len = lenField & ~LAST;
    if (len > CHUNK_BYTES) throw new BackupError(TAMPERED);
    const body = await this.readAt(len + TAG_BYTES);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, chunkIv(this.header.subarray(48, 56), this.n), { authTagLength: TAG_BYTES });
      decipher.setAAD(chunkAad(this.header, this.n, last));
      decipher.setAuthTag(body.subarray(len));
      plain = Buffer.concat([decipher.update(body.subarray(0, len)), decipher.final()]);
    } catch {
      throw new BackupError(`${TAMPERED} (chunk ${this.n})`);
    }
    this.n++;
    if (last) {
      this.sawLast = true;
      if (this.pos !== this.size) throw new BackupError(`${TAMPERED} (bytes after the last chunk)`);
    }
    this.buffered = this.buffered.length === 0 ? plain : Buffer.concat([this.buffered, plain]);
    return true;
  }

  /** Exactly `len` plaintext bytes (len ≤ a few chunks' worth), or a truncation error. */
  async read(len: number): Promise<Buffer> {
    while (this.buffered.length < len) {
      if (!(await this.nextChunk())) throw new BackupError(`${TAMPERED} (the content ends early)`);
    }
    const out = this.buffered.subarray(0, len);
    this.buffered = this.buffered.subarray(len);
    return out;
  }

  /** Streams `len` plaintext bytes to `sink` in chunk-sized pieces. */
  async pipe(len: number, sink: (piece: Buffer) => Promise<void>): Promise<void> {
    let left = len;
    while (left > 0) {
      if (this.buffered.length === 0 && !(await this.nextChunk())) throw new BackupError(`${TAMPERED} (the content ends early)`);
      const take = Math.min(left, this.buffered.length);
      const piece = this.buffered.subarray(0, take);
      this.buffered = this.buffered.subarray(take);
      left -= take;
      await sink(piece);
    }
  }

  /** Checks that the plaintext ends here and the last chunk was authenticated. */
  async finish(): Promise<void> {
    while (!this.sawLast) await this.nextChunk();
    if (this.buffered.length !== 0) throw new BackupError(`${TAMPERED} (content after the last file)`);
  }

  /** How far through the archive file, for progress. */
  get position(): { done: number; total: number } {
    return { done: this.pos, total: this.size };
  }
}
