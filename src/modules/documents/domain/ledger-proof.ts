// The ledger's inclusion proof as a document carries it (docs/ledger.md "Proofs in documents"): the invoice's leaf
// index, the tree size and the RFC 9162 audit path to the root of a signed checkpoint, and that checkpoint's note
// text, so the file alone shows that the invoice is in the public log. Not covered by the invoice signature: the
// proof is checked on its own (the leaf hash recomputed from the invoice, the path, the checkpoint's signature).
import type { FaceOptions } from './layout.ts';
import type { UblOptions } from './to-ubl.ts';

export interface LedgerProof {
  leafIndex: number;
  treeSize: number;
  /** Base64 RFC 9162 leaf hash, as in GET /v1/ledger/proof. */
  leafHash: string;
  /** Base64 hashes, leaf to root. */
  inclusionProof: string[];
  /** The signed checkpoint note (C2SP tlog-checkpoint), newline-terminated lines. */
  checkpoint: string;
}

export interface RenderOptions {
  /** Party details printed in 备注 of the PDF and OFD (layout.ts FaceOptions). */
  face?: FaceOptions;
  /** The UBL's payment terms and electronic addresses (to-ubl.ts UblOptions; the proof comes from ledgerProof). */
  ubl?: Omit<UblOptions, 'ledgerProof'>;
  /** The inclusion proof of an integrated invoice; absent before integration. */
  ledgerProof?: LedgerProof;
  /**
   * Signs the OFD package (GB/T 38540 signature, to-ofd.ts): the DER SM2 signature of a message by the key `keyId`
   * (the active signing key). When it is not the key that signed the invoice, the package names it.
   */
  ofdSigner?: OfdSigner;
}

export interface OfdSigner {
  keyId: string;
  sign(message: Uint8Array): Promise<Uint8Array>;
}
