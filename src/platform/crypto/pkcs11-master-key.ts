// The master key in an HSM over PKCS#11 (OASIS PKCS#11 v2.40 / 3.0): an AES-256 secret key object created in the
// token as sensitive and non-extractable, so it never leaves it; key-store.ts seals and opens with AES-256-GCM
// (CKM_AES_GCM, 96-bit IV, 128-bit tag, the envelope header and label as AAD) run inside the token by C_Encrypt and
// C_Decrypt. The envelope is the same as under the file key, so a rotation moves secrets between providers.
//
// One key object per master-key version, found by its label `<keyLabel>-v<version>` (CKA_ID holds the version in
// ASCII too). One logged-in session is opened at start-up and reused; PKCS#11 calls are synchronous and Node runs
// them one at a time on the main thread, so the session is never used concurrently. A call failing because the
// session or the token went away (CKR_SESSION_*, CKR_DEVICE_*, CKR_TOKEN_NOT_PRESENT, CKR_USER_NOT_LOGGED_IN) opens a
// new session and is tried once more. Data keys and signing keys are unwrapped once and cached by their users, so
// the HSM is not on the per-request path.
//
// The binding is pkcs11js (compiled from source by npm, an optional dependency), loaded only when the provider is
// configured, so a machine without a compiler still runs the file provider.
import { createRequire } from 'node:module';
import type * as Pkcs11Js from 'pkcs11js';
import { AppError } from '../../shared/errors.ts';
import { MasterKeyUnavailableError, type MasterKeyCipher } from './key-store.ts';

type Binding = typeof Pkcs11Js;
type Handle = Buffer;

export interface Pkcs11Options {
  /** Path of the PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so). */
  module: string;
  /** Slot ID; or tokenLabel. */
  slot?: number;
  tokenLabel?: string;
  /** The user PIN (read from a file or the environment by the caller). Never logged or put in an error. */
  pin: string;
  /** Key objects are labelled `<keyLabel>-v<version>`. */
  keyLabel: string;
}

/** The label of the key object of a master-key version. */
export function hsmKeyLabel(keyLabel: string, version: number): string {
  return `${keyLabel}-v${version}`;
}

let binding: Binding | undefined;

// One initialised library per module path in this process, shared by every Pkcs11Token on it: C_Initialize may run
// once per process (CKR_CRYPTOKI_ALREADY_INITIALIZED), and C_Finalize ends every session, so the last user finalises.
const libraries = new Map<string, { lib: Pkcs11Js.PKCS11; users: number }>();

function acquireLibrary(p11: Binding, module: string): Pkcs11Js.PKCS11 {
  const known = libraries.get(module);
  if (known) {
    known.users++;
    return known.lib;
  }
  const lib = new p11.PKCS11();
  try {
    lib.load(module);
  } catch (e) {
    throw new AppError('CONFIG_INVALID', { detail: `hsm.module: the PKCS#11 library ${module} does not load`, cause: e });
  }
  try {
    lib.C_Initialize();
  } catch (e) {
    if (pkcs11ErrorCode(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      throw new AppError('CONFIG_INVALID', { detail: `hsm.module: ${module} does not initialise (${pkcs11ErrorCode(e) ?? 'unknown error'})`, cause: e });
    }
  }
  libraries.set(module, { lib, users: 1 });
  return lib;
}

function releaseLibrary(module: string): void {
  const known = libraries.get(module);
  if (!known || --known.users > 0) return;
  libraries.delete(module);
  try {
    known.lib.C_Finalize();
  } catch {
    // Nothing left to release.
  }
}

/** The pkcs11js binding, or an error saying it is missing (it is an optional dependency with a native build). */
export function loadPkcs11Binding(): Binding {
  if (binding) return binding;
  try {
    // createRequire: the binding is CommonJS with a native addon; this loads it the same from TypeScript and compiled JS.
    binding = createRequire(import.meta.url)('pkcs11js') as Binding;
    return binding;
  } catch (e) {
    throw new AppError('CONFIG_INVALID', {
      detail: 'masterKeyProvider is pkcs11 but the pkcs11js module is not installed or did not build (npm install pkcs11js; it needs g++ and make)',
      cause: e,
    });
  }
}

/** The PKCS#11 return-value name of an error thrown by pkcs11js ('CKR_PIN_INCORRECT'), if it is one. */
export function pkcs11ErrorCode(e: unknown): string | undefined {
  const m = e instanceof Error ? /\b(CKR_[A-Z_]+)\b/.exec(e.message) : null;
  return m?.[1];
}

const RECONNECT = /^CKR_(SESSION_[A-Z_]+|DEVICE_[A-Z_]+|TOKEN_NOT_PRESENT|TOKEN_NOT_RECOGNIZED|USER_NOT_LOGGED_IN|CRYPTOKI_NOT_INITIALIZED)$/;

/** A logged-in session on one token, reopened when the token drops it. */
export class Pkcs11Token {
  private readonly p11: Binding;
  private readonly lib: Pkcs11Js.PKCS11;
  private session: Handle | undefined;
  private slot: Handle | undefined;
  private readonly keys = new Map<number, Handle>();
  private released = false;
  /** How many sessions were opened (1 + reconnections): for tests and doctor. */
  sessionsOpened = 0;

  constructor(private readonly opts: Pkcs11Options) {
    this.p11 = loadPkcs11Binding();
    this.lib = acquireLibrary(this.p11, opts.module);
  }

  /** Initialises the library, finds the slot, opens a session and logs in; startup errors name the setting at fault. */
  open(): void {
    if (this.released) throw new MasterKeyUnavailableError('the HSM session was closed');
    this.slot = this.findSlot();
    const session = this.lib.C_OpenSession(this.slot, this.p11.CKF_SERIAL_SESSION | this.p11.CKF_RW_SESSION);
    try {
      this.lib.C_Login(session, this.p11.CKU_USER, this.opts.pin);
    } catch (e) {
      const code = pkcs11ErrorCode(e);
      if (code !== 'CKR_USER_ALREADY_LOGGED_IN') {
        this.lib.C_CloseSession(session);
        const why = code === 'CKR_PIN_INCORRECT' || code === 'CKR_PIN_INVALID' || code === 'CKR_PIN_LEN_RANGE'
          ? 'the PIN is wrong (hsm.pinFile or FAPIAO_HSM_PIN)'
          : code === 'CKR_PIN_LOCKED' ? 'the user PIN is locked; unlock it with the security officer PIN' : `login failed (${code ?? 'unknown error'})`;
        // No cause: the binding's message is safe, but nothing from the login call is kept, on principle.
        throw new AppError('CONFIG_INVALID', { detail: `HSM token: ${why}` });
      }
    }
    this.session = session;
    this.keys.clear();
    this.sessionsOpened++;
  }

  private findSlot(): Handle {
    const slots = this.lib.C_GetSlotList(true);
    if (this.opts.slot !== undefined) {
      const wanted = this.opts.slot;
      const slot = slots.find((s) => s.readUIntLE(0, Math.min(s.length, 6)) === wanted);
      if (!slot) throw new AppError('CONFIG_INVALID', { detail: `hsm.slot: no token in slot ${wanted}` });
      return slot;
    }
    const label = this.opts.tokenLabel;
    for (const s of slots) {
      if (this.lib.C_GetTokenInfo(s).label.trim() === label) return s;
    }
    throw new AppError('CONFIG_INVALID', { detail: `hsm.tokenLabel: no token labelled ${JSON.stringify(label)}` });
  }

  /** Runs `fn` with the session; reopens the session once when the token dropped it. */
  private withSession<T>(fn: (session: Handle) => T): T {
    try {
      if (!this.session) this.open();
      return fn(this.session!);
    } catch (e) {
      if (e instanceof AppError || !RECONNECT.test(pkcs11ErrorCode(e) ?? '')) throw e;
      this.dropSession();
      try {
        this.open();
        return fn(this.session!);
      } catch (again) {
        throw new MasterKeyUnavailableError(`the HSM does not answer (${pkcs11ErrorCode(again) ?? 'unknown error'})`, { cause: again });
      }
    }
  }

  private dropSession(): void {
    const s = this.session;
    this.session = undefined;
    this.keys.clear();
    if (s) {
      try {
        this.lib.C_CloseSession(s);
      } catch {
        // Already gone: that is why it is being dropped.
      }
    }
  }

  private template(version: number): Pkcs11Js.Template {
    return [
      { type: this.p11.CKA_CLASS, value: this.p11.CKO_SECRET_KEY },
      { type: this.p11.CKA_KEY_TYPE, value: this.p11.CKK_AES },
      { type: this.p11.CKA_LABEL, value: hsmKeyLabel(this.opts.keyLabel, version) },
    ];
  }

  private find(session: Handle, version: number): Handle[] {
    this.lib.C_FindObjectsInit(session, this.template(version));
    try {
      return this.lib.C_FindObjects(session, 2);
    } finally {
      this.lib.C_FindObjectsFinal(session);
    }
  }

  private keyHandle(session: Handle, version: number): Handle {
    const cached = this.keys.get(version);
    if (cached) return cached;
    const found = this.find(session, version);
    if (found.length === 0) {
      throw new AppError('MASTER_KEY_UNAVAILABLE', {
        detail: `the HSM token has no key labelled ${hsmKeyLabel(this.opts.keyLabel, version)} (fapiao keys hsm-init --version ${version} makes one)`,
      });
    }
    if (found.length > 1) throw new AppError('CONFIG_INVALID', { detail: `the HSM token has more than one key labelled ${hsmKeyLabel(this.opts.keyLabel, version)}` });
    this.keys.set(version, found[0]!);
    return found[0]!;
  }

  /** Whether the token holds the key of `version`. */
  hasKey(version: number): boolean {
    return this.withSession((s) => this.find(s, version).length > 0);
  }

  /**
   * Generates the AES-256 key of `version` inside the token: a token object, private, sensitive, not extractable, for
   * encrypt/decrypt only. Refuses when a key with that label exists.
   */
  createKey(version: number): void {
    this.withSession((s) => {
      if (this.find(s, version).length > 0) {
        throw new AppError('CONFIG_INVALID', { detail: `the HSM token already has a key labelled ${hsmKeyLabel(this.opts.keyLabel, version)}` });
      }
      const p = this.p11;
      this.lib.C_GenerateKey(s, { mechanism: p.CKM_AES_KEY_GEN }, [
        ...this.template(version),
        { type: p.CKA_ID, value: Buffer.from(String(version), 'ascii') },
        { type: p.CKA_VALUE_LEN, value: 32 },
        { type: p.CKA_TOKEN, value: true },
        { type: p.CKA_PRIVATE, value: true },
        { type: p.CKA_SENSITIVE, value: true },
        { type: p.CKA_EXTRACTABLE, value: false },
        { type: p.CKA_ENCRYPT, value: true },
        { type: p.CKA_DECRYPT, value: true },
        { type: p.CKA_WRAP, value: false },
        { type: p.CKA_UNWRAP, value: false },
        { type: p.CKA_SIGN, value: false },
        { type: p.CKA_VERIFY, value: false },
        { type: p.CKA_DERIVE, value: false },
      ]);
    });
  }

  /** What the token says of the key of `version`: CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE, CKA_VALUE_LEN. */
  keyAttributes(version: number): { sensitive: boolean; extractable: boolean; neverExtractable: boolean; valueLen: number } {
    return this.withSession((s) => {
      const p = this.p11;
      const attrs = this.lib.C_GetAttributeValue(s, this.keyHandle(s, version), [
        { type: p.CKA_SENSITIVE }, { type: p.CKA_EXTRACTABLE }, { type: p.CKA_NEVER_EXTRACTABLE }, { type: p.CKA_VALUE_LEN },
      ]);
      const bool = (i: number) => (attrs[i]!.value)[0] === 1;
      const len = attrs[3]!.value;
      return { sensitive: bool(0), extractable: bool(1), neverExtractable: bool(2), valueLen: len.readUIntLE(0, Math.min(len.length, 6)) };
    });
  }

  /** Asks the token for the key's value (CKA_VALUE): a non-extractable sensitive key must refuse. Returns the CKR code. */
  tryReadKeyValue(version: number): string {
    return this.withSession((s) => {
      try {
        this.lib.C_GetAttributeValue(s, this.keyHandle(s, version), [{ type: this.p11.CKA_VALUE }]);
        return 'CKR_OK';
      } catch (e) {
        return pkcs11ErrorCode(e) ?? 'unknown';
      }
    });
  }

  private gcm(iv: Uint8Array, aad: Uint8Array): Pkcs11Js.Mechanism {
    const parameter: Pkcs11Js.AesGCM = { type: this.p11.CK_PARAMS_AES_GCM, iv: Buffer.from(iv), aad: Buffer.from(aad), ivBits: iv.length * 8, tagBits: 128 };
    return { mechanism: this.p11.CKM_AES_GCM, parameter };
  }

  /**
   * Imports a known AES-256 key as the key of `version` (sensitive, not extractable from then on). For tests that
   * compare the token's AES-GCM with Node's, and for moving a key between tokens; production keys are generated.
   */
  importKey(version: number, value: Uint8Array): void {
    this.withSession((s) => {
      const p = this.p11;
      this.lib.C_CreateObject(s, [
        ...this.template(version),
        { type: p.CKA_ID, value: Buffer.from(String(version), 'ascii') },
        { type: p.CKA_VALUE, value: Buffer.from(value) },
        { type: p.CKA_TOKEN, value: true },
        { type: p.CKA_PRIVATE, value: true },
        { type: p.CKA_SENSITIVE, value: true },
        { type: p.CKA_EXTRACTABLE, value: false },
        { type: p.CKA_ENCRYPT, value: true },
        { type: p.CKA_DECRYPT, value: true },
      ]);
    });
  }

  encrypt(version: number, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    return this.withSession((s) => {
      this.lib.C_EncryptInit(s, this.gcm(iv, aad), this.keyHandle(s, version));
      return new Uint8Array(this.lib.C_Encrypt(s, Buffer.from(plaintext), Buffer.alloc(plaintext.length + 16)));
    });
  }

  decrypt(version: number, iv: Uint8Array, data: Uint8Array, aad: Uint8Array): Uint8Array {
    return this.withSession((s) => {
      this.lib.C_DecryptInit(s, this.gcm(iv, aad), this.keyHandle(s, version));
      return new Uint8Array(this.lib.C_Decrypt(s, Buffer.from(data), Buffer.alloc(data.length)));
    });
  }

  /** The master key of `version` as key-store.ts uses it; checks now that the token holds it. */
  masterKey(version: number): MasterKeyCipher {
    this.withSession((s) => this.keyHandle(s, version));
    return {
      provider: 'pkcs11',
      encrypt: (iv, plaintext, aad) => this.encrypt(version, iv, plaintext, aad),
      decrypt: (iv, data, aad) => this.decrypt(version, iv, data, aad),
    };
  }

  /** A description for `fapiao doctor`: library, slot and token label (never the PIN). */
  describe(): { module: string; slot: number; tokenLabel: string; manufacturer: string; model: string } {
    return this.withSession(() => {
      const info = this.lib.C_GetTokenInfo(this.slot!);
      return {
        module: this.opts.module, slot: this.slot!.readUIntLE(0, Math.min(this.slot!.length, 6)), tokenLabel: info.label.trim(),
        manufacturer: info.manufacturerID.trim(), model: info.model.trim(),
      };
    });
  }

  /**
   * Closes the session and, for the library's last user, finalises it. No C_Logout: the login belongs to the
   * application, not the session (PKCS#11 §5.6), so it would log out other tokens' sessions; it ends with the last one.
   */
  close(): void {
    this.dropSession();
    if (!this.released) {
      this.released = true;
      releaseLibrary(this.opts.module);
    }
  }
}
