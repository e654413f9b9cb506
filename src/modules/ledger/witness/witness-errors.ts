// What the witness answers when it refuses, with the status codes tlog-witness prescribes
// (https://c2sp.org/tlog-witness "add-checkpoint"). A 409 carries the known size as `text/x.tlog.size`, as the
// protocol requires; every other refusal is an RFC 9457 problem with a stable code. The generic codes are those of
// the server's registry (src/shared/errors.ts, statuses in src/platform/http/error-status.ts); the WITNESS_* codes are the witness's own and are listed in docs/ledger.md.
import { ERRORS } from '../../../shared/errors.ts';
import { httpStatusOf } from '../../../platform/http/error-status.ts';

export const WITNESS_ERRORS = {
  WITNESS_REQUEST_MALFORMED: { status: 400, title: 'The add-checkpoint body is not an old size, proof lines and a checkpoint' },
  WITNESS_CHECKPOINT_MALFORMED: { status: 400, title: 'The checkpoint is not a well-formed signed note and checkpoint body' },
  WITNESS_OLD_SIZE_TOO_LARGE: { status: 400, title: 'The old size is larger than the checkpoint size' },
  WITNESS_UNKNOWN_LOG: { status: 404, title: 'The witness is not configured for this log origin' },
  WITNESS_SIGNATURE_INVALID: { status: 403, title: 'The checkpoint carries no valid signature of the log' },
  WITNESS_SIZE_CONFLICT: { status: 409, title: 'The old size is not the size the witness last cosigned' },
  WITNESS_PROOF_INVALID: { status: 422, title: 'The consistency proof does not verify' },
  WITNESS_ROOT_MISMATCH: { status: 422, title: 'The checkpoint has the cosigned size but another root hash' },
  WITNESS_EMPTY_TREE_ROOT: { status: 422, title: 'A checkpoint of size zero must have the root hash of the empty tree' },
} as const satisfies Record<string, { status: number; title: string }>;

type GenericCode = 'NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'PAYLOAD_TOO_LARGE' | 'REQUEST_TIMEOUT' | 'INTERNAL';
export type WitnessErrorCode = keyof typeof WITNESS_ERRORS | GenericCode;

export function witnessErrorEntry(code: WitnessErrorCode): { status: number; title: string } {
  return code in WITNESS_ERRORS
    ? WITNESS_ERRORS[code as keyof typeof WITNESS_ERRORS]
    : { status: httpStatusOf(code as GenericCode), title: ERRORS[code as GenericCode].title };
}

export interface WitnessErrorOptions {
  detail?: string;
  /** For WITNESS_SIZE_CONFLICT: the size the witness last cosigned. */
  knownSize?: number;
  headers?: Record<string, string>;
}

export class WitnessError extends Error {
  override readonly name = 'WitnessError';
  readonly status: number;
  readonly detail: string | undefined;
  readonly knownSize: number | undefined;
  readonly headers: Record<string, string>;
  constructor(
    readonly code: WitnessErrorCode,
    options: WitnessErrorOptions = {},
  ) {
    super(options.detail ?? witnessErrorEntry(code).title);
    this.status = witnessErrorEntry(code).status;
    this.detail = options.detail;
    this.knownSize = options.knownSize;
    this.headers = options.headers ?? {};
  }
}

/** RFC 9457 problem details for a refusal (the same members as the server's problems, src/platform/http/problem-details.ts). */
export function witnessProblem(err: WitnessError, instance: string): Record<string, unknown> {
  const entry = witnessErrorEntry(err.code);
  return {
    type: `https://fapiao.dev/problems/${err.code.toLowerCase().replaceAll('_', '-')}`,
    title: entry.title,
    status: entry.status,
    ...(err.detail !== undefined ? { detail: err.detail } : {}),
    code: err.code,
    instance,
  };
}
