// What the renderers do with a character a document cannot carry: they write U+FFFD REPLACEMENT CHARACTER in its
// place (Unicode §3.9 / §5.22, the standard stand-in for a character that cannot be represented) instead of failing.
// A renderer is a total function of a stored invoice: every format of every stored invoice can be downloaded.
//
// Since the text rules (shared/text-rules.ts) no new invoice holds such a character; only one stored before them can.
// For such an invoice the XML (and the PDF's embedded XML) no longer reproduces the signed body byte for byte, so an
// offline check of that file reports a hash mismatch; the stored invoice, its JSON and online 查验 still verify.

export const REPLACEMENT = '\ufffd';

/** Not an XML 1.0 Char (§2.2): C0 controls other than tab, LF and CR; lone surrogates; U+FFFE and U+FFFF. */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
/** No glyph on the printed face: every control (line breaks are split off before), lone surrogates, noncharacters. */
const NOT_PRINTABLE = /[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}]/gu;

/** `s` with every character XML 1.0 cannot carry replaced by U+FFFD. */
export function xmlChars(s: string): string {
  return s.replace(NOT_XML_CHAR, REPLACEMENT);
}

/** `s` with every character that cannot be printed on one line of the face replaced by U+FFFD. */
export function printable(s: string): string {
  return s.replace(NOT_PRINTABLE, REPLACEMENT);
}
