// Checking, offline, the ledger inclusion proof an invoice file carries (docs/ledger.md "Proofs in documents"): the
// leaf hash recomputed from the invoice itself (leaf-entry.ts), the RFC 9162 audit path from it to the checkpoint's
// root, and the checkpoint's signature under the log's verifier key. Nothing is read from the server: the file and
// the log's published verifier key (GET /v1/keys `ledger`) are all it takes.
import { parseCheckpoint, type Checkpoint } from '../domain/checkpoint.ts';
import { hashLeaf, verifyInclusion } from '../domain/merkle.ts';
import { encodeLeafEntry, leafEntryForInvoice, type LedgerInvoiceFields } from '../domain/leaf-entry.ts';
import { decodeBase64Strict, hex8 } from '../domain/signed-note.ts';
import type { NoteVerifier } from './note-keys.ts';
import { openNote } from './notes.ts';

/** The proof as documents carry it (documents/domain/ledger-proof.ts has the same shape). */
export interface CarriedProof {
  leafIndex: number;
  treeSize: number;
  leafHash: string;
  inclusionProof: string[];
  checkpoint: string;
}

export interface ProofCheck {
  ok: boolean;
  what: 'leaf' | 'inclusion' | 'checkpoint' | 'witnesses';
  text: string;
}

export interface ProofCheckResult {
  checks: ProofCheck[];
  /** The checkpoint's body, when its signature verified. */
  checkpoint?: Checkpoint;
}

/**
 * The checks of `proof` for `invoice` (with its acknowledged ledger index) under the log's `verifiers`; each check
 * is reported, a failed one does not stop the others. `witnesses`, when given, are verifier keys of cosigners whose
 * cosignatures are counted (each must verify).
 */
export function checkCarriedProof(
  invoice: LedgerInvoiceFields & { ledger?: { index: number } },
  proof: CarriedProof,
  verifiers: readonly NoteVerifier[],
  witnesses: readonly NoteVerifier[] = [],
): ProofCheckResult {
  const checks: ProofCheck[] = [];
  let leafHash: Uint8Array | undefined;
  try {
    leafHash = hashLeaf(encodeLeafEntry(leafEntryForInvoice(invoice)));
  } catch (err) {
    checks.push({ ok: false, what: 'leaf', text: `no leaf entry can be made from the invoice: ${err instanceof Error ? err.message : String(err)}` });
  }
  if (leafHash) {
    const carried = decodeBase64Strict(proof.leafHash);
    const sameHash = carried !== undefined && Buffer.from(carried).equals(Buffer.from(leafHash));
    const sameIndex = invoice.ledger === undefined || invoice.ledger.index === proof.leafIndex;
    checks.push(sameHash && sameIndex
      ? { ok: true, what: 'leaf', text: `leaf ${proof.leafIndex}: SHA-256(0x00 ‖ entry) of the invoice is ${Buffer.from(leafHash).toString('base64')}` }
      : { ok: false, what: 'leaf', text: sameHash ? `the proof is for leaf ${proof.leafIndex}, the invoice was acknowledged at ${invoice.ledger!.index}` : 'the leaf hash of the proof is not the hash of this invoice' });
  }

  let checkpoint: Checkpoint | undefined;
  try {
    const all = [...verifiers, ...witnesses];
    const opened = openNote(proof.checkpoint, all);
    const byLog = opened.verified.filter((s) => verifiers.includes(s.verifier));
    const body = parseCheckpoint(opened.text);
    if (byLog.length === 0) {
      checks.push({ ok: false, what: 'checkpoint', text: 'the checkpoint carries no signature of the log\'s key' });
    } else if (byLog.some((s) => s.name !== body.origin)) {
      checks.push({ ok: false, what: 'checkpoint', text: `signed by the key of another log (${byLog[0]!.name}, origin ${body.origin})` });
    } else {
      checkpoint = body;
      checks.push({ ok: true, what: 'checkpoint', text: `${body.origin} size ${body.size}, root ${Buffer.from(body.rootHash).toString('base64')}, Ed25519 signature of key ${hex8(byLog[0]!.keyId)}` });
    }
    if (witnesses.length > 0) {
      const cosigned = opened.verified.filter((s) => witnesses.includes(s.verifier)).map((s) => s.name);
      checks.push({ ok: cosigned.length > 0, what: 'witnesses', text: cosigned.length > 0 ? `cosigned by ${cosigned.join(', ')}` : 'no cosignature of the given witnesses' });
    }
  } catch (err) {
    checks.push({ ok: false, what: 'checkpoint', text: `the checkpoint does not verify under the log's key: ${err instanceof Error ? err.message : String(err)}` });
  }

  if (checkpoint && leafHash) {
    const path = proof.inclusionProof.map((h) => decodeBase64Strict(h));
    const ok = checkpoint.size === proof.treeSize && path.every((h) => h !== undefined)
      && verifyInclusion(leafHash, proof.leafIndex, proof.treeSize, path, checkpoint.rootHash);
    checks.push(ok
      ? { ok: true, what: 'inclusion', text: `leaf ${proof.leafIndex} is in the tree of ${proof.treeSize} leaves (${path.length} hashes to the checkpoint's root)` }
      : { ok: false, what: 'inclusion', text: checkpoint.size !== proof.treeSize ? `the proof is for size ${proof.treeSize}, the checkpoint has ${checkpoint.size}` : 'the inclusion proof does not lead to the checkpoint\'s root' });
  } else {
    checks.push({ ok: false, what: 'inclusion', text: 'not checked: no verified checkpoint or leaf hash' });
  }
  return checkpoint ? { checks, checkpoint } : { checks };
}
