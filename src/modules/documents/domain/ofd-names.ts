// The names an OFD package of an invoice uses, shared by the writer (to-ofd.ts) and the reader (app/invoice-file.ts),
// so reading a file back does not load the writer (its fonts and renderer).

/** Where the signed invoice XML sits in the archive. */
export const OFD_INVOICE_XML = 'Doc_0/Attachs/invoice.xml';

/** Where the package signature sits in the archive (GB/T 33190 §18). */
export const OFD_SIGNATURES = 'Doc_0/Signs/Signatures.xml';
export const OFD_SIGNATURE = 'Doc_0/Signs/Sign_0/Signature.xml';
export const OFD_SIGNED_VALUE = 'Doc_0/Signs/Sign_0/SignedValue.dat';
/** SM2 signature with SM3 (GM/T 0006) and SM3 (GB/T 32905) object identifiers, as GB/T 38540 writes them. */
export const OID_SM2_SM3 = '1.2.156.10197.1.501';
export const OID_SM3 = '1.2.156.10197.1.401';

/** DocInfo CustomData naming the key of the package signature when it is not the invoice's signing key. */
export const OFD_PACKAGE_KEY = '签章密钥';
