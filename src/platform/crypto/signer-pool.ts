// Invoice signing off the event loop. An SM2 signature costs ~0.5 ms of CPU per invoice, so the issuing path
// (docs/design.md §1) signs each batch in parallel on worker threads while the main thread keeps serving requests and
// committing the previous batch. The private key travels to each worker once, in workerData, at start; requests carry
// only messages and the algorithm. The keys of the international profile (ECDSA-P256, Ed25519: intl-signing.ts)
// travel the same way, or once per worker when added later (addKey), before any request that needs them.
//
// From the build (dist/, `npm start`) this module is JavaScript and the worker is dist's sign-worker.js, started directly.
// From the sources (tsx: tests, development) the worker is TypeScript: a worker does not inherit the main thread's
// module hooks, and on Node 20 `execArgv: ['--import', 'tsx']` does not help either (the worker still fails with
// 'Unknown file extension ".ts"'). So there the worker is a tiny eval'd bootstrap that loads sign-worker.ts through
// tsx's tsImport(), with tsx's location resolved here, so it works whatever the process's working directory is.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { createSm2Signer, type Sm2BaseMul } from './sm2-signer.ts';
import { createIntlSigner, type IntlAlgorithm } from './intl-signing.ts';
import type { InstallKey, IntlKey, SignRequest, SignResponse, SignWorkerData } from './sign-worker.ts';
import type { SigningAlgorithm } from '../../shared/signing.ts';

export type { IntlKey } from './sign-worker.ts';

export interface SignerPoolOptions {
  /** Worker threads; 0 signs inline on the calling thread. Default: available cores − 1 (at least 1). */
  size?: number;
  privateKeyHex: string;
  publicKeyHex: string;
  /** false forces the pure-JS signer (default: OpenSSL's constant-time k·G). */
  native?: boolean;
  /** How SM2's k·G is computed (sm2-signer.ts; default 'openssl'); wins over `native`. */
  baseMul?: Sm2BaseMul;
  /** Keys of the international profile, one per algorithm (more can be added: addKey). */
  keys?: IntlKey[];
}

export interface SignerPool {
  readonly size: number;
  readonly publicKey: string;
  /**
   * Signatures under the key of `opts.alg` (default SM2), in the order of `messages`. `deterministic` (SM2): k derived from the key and the message (RFC 6979 with
   * HMAC-SM3, sm2-signer.ts), so the same message gets the same signature; otherwise k is random.
   */
  sign(messages: Uint8Array[], opts?: SignOptions): Promise<Uint8Array[]>;
  /**
   * Installs the key of an international algorithm on every thread (replacing one of the same algorithm); signing
   * requests made after it use it. Throws when the private key does not belong to the public key.
   */
  addKey(key: IntlKey): void;
  /** The algorithms `sign` has a key for (SM2 always). */
  algorithms(): SigningAlgorithm[];
  close(): Promise<void>;
}

export interface SignOptions {
  /** SM2 only (Ed25519 is deterministic anyway; deterministic ECDSA is refused). */
  deterministic?: boolean;
  /** Default SM2: DER. ECDSA-P256: DER; Ed25519: 64 bytes R‖S (sign-worker.ts). */
  alg?: SigningAlgorithm;
}

interface Pending {
  resolve: (sigs: Uint8Array[]) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Messages in flight on this worker: work goes to the least loaded. */
  load: number;
}

/** True when this module runs compiled (dist/*.js), false under tsx (src/*.ts). */
const COMPILED = import.meta.url.endsWith('.js');
const WORKER_URL = new URL(COMPILED ? './sign-worker.js' : './sign-worker.ts', import.meta.url);

function startWorker(workerData: SignWorkerData): Worker {
  if (COMPILED) return new Worker(WORKER_URL, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => m.tsImport(${JSON.stringify(WORKER_URL.href)}, ${JSON.stringify(import.meta.url)}));`;
  return new Worker(code, { eval: true, workerData });
}

export function createSignerPool(options: SignerPoolOptions): SignerPool {
  const size = options.size ?? Math.max(1, availableParallelism() - 1);
  // Validates the key pair in the caller, so a bad key fails here rather than in N workers.
  const inline = createSm2Signer(options.privateKeyHex, options.publicKeyHex, {
    ...(options.native === undefined ? {} : { native: options.native }), ...(options.baseMul ? { baseMul: options.baseMul } : {}),
  });
  // Checked here as well (createIntlSigner compares the private key's public key with the one given).
  const intl = new Map<IntlAlgorithm, { key: IntlKey; signer: ReturnType<typeof createIntlSigner> }>();
  const putKey = (key: IntlKey): void => {
    intl.set(key.alg, { key, signer: createIntlSigner(key.alg, key.privateKeyHex, key.publicKeyHex) });
  };
  for (const k of options.keys ?? []) putKey(k);
  const algorithms = (): SigningAlgorithm[] => ['SM2', ...intl.keys()];
  if (size === 0) {
    let closed = false;
    const signInline = (m: Uint8Array, opts: SignOptions): Uint8Array => {
      const alg = opts.alg ?? 'SM2';
      if (alg === 'SM2') return opts.deterministic ? inline.signDeterministic(m) : inline.sign(m);
      const k = intl.get(alg);
      if (!k) throw new Error(`signing failed: no ${alg} key`);
      if (opts.deterministic && alg === 'ECDSA-P256') throw new Error('signing failed: deterministic ECDSA is not offered');
      return k.signer.sign(m);
    };
    return {
      size,
      publicKey: inline.publicKey,
      sign: (messages, opts = {}) => {
        if (closed) return Promise.reject(new Error('signer pool is closed'));
        try {
          return Promise.resolve(messages.map((m) => signInline(m, opts)));
        } catch (e) {
          return Promise.reject(e instanceof Error ? e : new Error('signing failed'));
        }
      },
      addKey: putKey,
      algorithms,
      close: () => {
        closed = true;
        return Promise.resolve();
      },
    };
  }

  const data: SignWorkerData = { privateKeyHex: options.privateKeyHex, publicKeyHex: inline.publicKey };
  if (options.native !== undefined) data.native = options.native;
  if (options.baseMul) data.baseMul = options.baseMul;
  // A worker started later (a crashed one's replacement) gets every key added so far.
  const currentData = (): SignWorkerData => ({ ...data, keys: [...intl.values()].map((k) => k.key) });
  let nextId = 1;
  let closing = false;
  let crashes: number[] = [];
  let failed: Error | undefined;

  const spawn = (): Slot => {
    const worker = startWorker(currentData());
    const slot: Slot = { worker, pending: new Map(), load: 0 };
    worker.on('message', (res: SignResponse) => {
      const p = slot.pending.get(res.id);
      if (!p) return;
      slot.pending.delete(res.id);
      if ('error' in res) p.reject(new Error(`signing failed: ${res.error}`));
      else p.resolve(res.signatures);
    });
    const failAll = (reason: string): void => {
      for (const p of slot.pending.values()) p.reject(new Error(reason));
      slot.pending.clear();
      slot.load = 0;
      // A crashed worker is replaced so the pool keeps its size; a closing pool lets it go. Workers that keep dying
      // (e.g. the loader cannot be found) put the pool in a failed state instead of a respawn loop.
      const i = slots.indexOf(slot);
      if (i < 0 || closing) return;
      const now = Date.now();
      crashes = crashes.filter((t) => now - t < 10_000);
      crashes.push(now);
      if (crashes.length > 2 * size) failed = new Error(`signer pool failed: ${reason}`);
      else slots[i] = spawn();
    };
    worker.on('error', (e) => failAll(`signer worker failed: ${e.message}`));
    worker.on('exit', (code) => {
      if (slot.pending.size > 0 || !closing) failAll(`signer worker exited (code ${code})`);
    });
    // Idle workers must not keep the process alive (close() still terminates them); see send().
    worker.unref();
    return slot;
  };
  const slots: Slot[] = Array.from({ length: size }, spawn);

  const send = (slot: Slot, messages: Uint8Array[], opts: SignOptions): Promise<Uint8Array[]> =>
    new Promise<Uint8Array[]>((resolve, reject) => {
      const id = nextId++;
      slot.load += messages.length;
      // Referenced only while it owes an answer, so a pending sign() keeps the process alive and an idle pool does not.
      if (slot.pending.size === 0) slot.worker.ref();
      const done = (): void => {
        slot.load -= messages.length;
        if (slot.pending.size === 0) slot.worker.unref();
      };
      slot.pending.set(id, {
        resolve: (s) => {
          done();
          resolve(s);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      slot.worker.postMessage({
        id, messages, ...(opts.deterministic ? { deterministic: true } : {}), ...(opts.alg && opts.alg !== 'SM2' ? { alg: opts.alg } : {}),
      } satisfies SignRequest);
    });

  return {
    size,
    publicKey: inline.publicKey,
    async sign(messages, opts = {}) {
      if (closing) throw new Error('signer pool is closed');
      if (failed) throw failed;
      if (messages.length === 0) return [];
      // Contiguous chunks keep the reassembly trivial; the least-loaded workers get them.
      const order = [...slots].sort((a, b) => a.load - b.load);
      const chunks = Math.min(order.length, messages.length);
      const per = Math.ceil(messages.length / chunks);
      const parts: Promise<Uint8Array[]>[] = [];
      if (opts.alg && opts.alg !== 'SM2' && !intl.has(opts.alg)) throw new Error(`signing failed: no ${opts.alg} key`);
      for (let i = 0, c = 0; i < messages.length; i += per, c++) parts.push(send(order[c]!, messages.slice(i, i + per), opts));
      return (await Promise.all(parts)).flat();
    },
    addKey(key) {
      putKey(key);
      // Messages to a worker are handled in order: every request sent after this one finds the key.
      for (const s of slots) s.worker.postMessage({ install: key } satisfies InstallKey);
    },
    algorithms,
    async close() {
      closing = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
