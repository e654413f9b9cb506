// A tenant's choices about the documents it hands out (docs/ubl-mapping.md, README "Documents"): what the printed face
// shows in 备注 and how its UBL names payment terms and electronic addresses. None of it is signed: the invoice, its
// XML, hash and signature are the same whatever the settings; they change the PDF/OFD face and the UBL only.
import type { RenderOptions } from './ledger-proof.ts';
import type { FaceOptions } from './layout.ts';
import { DEFAULT_ENDPOINT_SCHEME } from './to-ubl.ts';

export interface DocumentSettings {
  /** 备注 of the PDF and OFD: the buyer's and/or the seller's address, phone, bank and account, as the platform prints them when asked. */
  remarks: { buyerDetails: boolean; sellerDetails: boolean };
  ubl: {
    /** Peppol EAS code under which a party's USCC is its electronic address (BT-34, BT-49). */
    endpointScheme: string;
    /** The seller's own electronic address (e.g. its Peppol participant ID: a GLN under 0088); null: its USCC. */
    sellerEndpoint: { scheme: string; id: string } | null;
    /** BT-20; null: the default text (见票即付), or none when paid. */
    paymentTerms: string | null;
    /** BT-9 as days after the issue date; null: no due date. */
    dueDays: number | null;
    /** The seller is paid at issue (shop sales): BT-113 paid amount = total, amount due 0. */
    paid: boolean;
  };
}

export const DEFAULT_DOCUMENT_SETTINGS: Readonly<DocumentSettings> = Object.freeze({
  remarks: Object.freeze({ buyerDetails: false, sellerDetails: false }),
  ubl: Object.freeze({ endpointScheme: DEFAULT_ENDPOINT_SCHEME, sellerEndpoint: null, paymentTerms: null, dueDays: null, paid: false }),
});

/** A change: any field; null resets a nullable one to its default. */
export interface DocumentSettingsChange {
  remarks?: Partial<DocumentSettings['remarks']>;
  ubl?: Partial<DocumentSettings['ubl']>;
}

export function defaultDocumentSettings(): DocumentSettings {
  return { remarks: { ...DEFAULT_DOCUMENT_SETTINGS.remarks }, ubl: { ...DEFAULT_DOCUMENT_SETTINGS.ubl } };
}

/** `current` with the fields `change` gives (only known fields: what is stored never grows a stray key). */
export function applyDocumentSettings(current: DocumentSettings, change: DocumentSettingsChange): DocumentSettings {
  const pick = <T extends object>(base: T, over: Partial<T> | undefined): T => {
    const out = { ...base };
    for (const k of Object.keys(base) as (keyof T)[]) if (over?.[k] !== undefined) out[k] = over[k];
    return out;
  };
  return { remarks: pick(current.remarks, change.remarks), ubl: pick(current.ubl, change.ubl) };
}

/** Per request: `?buyerDetails=` / `?sellerDetails=` override the tenant's choice for one download. */
export type FaceOverride = FaceOptions;

/** The rendering options of the tenant's settings, with a request's overrides of the face. */
export function renderOptionsOf(s: DocumentSettings, override: FaceOverride = {}): Pick<RenderOptions, 'face' | 'ubl'> {
  const face: FaceOptions = {
    buyerDetails: override.buyerDetails ?? s.remarks.buyerDetails,
    sellerDetails: override.sellerDetails ?? s.remarks.sellerDetails,
  };
  return {
    face,
    ubl: {
      endpointScheme: s.ubl.endpointScheme,
      ...(s.ubl.sellerEndpoint === null ? {} : { sellerEndpoint: { ...s.ubl.sellerEndpoint } }),
      ...(s.ubl.paymentTerms === null ? {} : { paymentTerms: s.ubl.paymentTerms }),
      ...(s.ubl.dueDays === null ? {} : { dueDays: s.ubl.dueDays }),
      ...(s.ubl.paid ? { paid: true } : {}),
    },
  };
}
