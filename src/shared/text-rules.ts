// The characters a text field may hold (docs/architecture.md, "Text fields"). Every free-text field of every request
// (invoice, search, 查验, tenant and admin bodies) follows one of two rules, checked at the HTTP edge by the request
// schemas (modules/invoicing/http/invoice-schemas.ts uses these patterns) and again by the domain for callers that do not come
// through HTTP (the CLI):
//
// - single-line text: any Unicode scalar value except the controls (Cc: U+0000–U+001F, U+007F–U+009F) and the
//   noncharacters (U+FDD0–U+FDEF and the last two code points of every plane, U+FFFE/U+FFFF … U+10FFFE/U+10FFFF);
// - multi-line text (remarks only): the same, plus line feed and carriage return as line breaks.
//
// A lone surrogate (Cs, U+D800–U+DFFF not in a pair) is not a scalar value at all: UTF-8 cannot encode it and RFC 8785
// canonicalisation refuses it. Controls and noncharacters are not allowed in XML 1.0 (§2.2, production Char) or
// PostgreSQL text (NUL), and have no glyph on the printed PDF/OFD form. Tabs are refused too: the form has no tab stops.
//
// With the `u` flag a surrogate class matches lone surrogates only (a pair is read as one astral code point), and
// JSON Schema asks that patterns be read that way (JSON Schema Core 2020-12 §6.4); Ajv compiles them with `u`
// (its option unicodeRegExp, on by default).
import { AppError } from './errors.ts';

const FORBIDDEN = '\\p{Cc}\\p{Cs}\\p{Noncharacter_Code_Point}';

/** One line of text: no controls, lone surrogates or noncharacters. */
export const SINGLE_LINE_TEXT = new RegExp(`^[^${FORBIDDEN}]*$`, 'u');
/** Several lines: as SINGLE_LINE_TEXT, plus LF and CR as line breaks. */
export const MULTI_LINE_TEXT = new RegExp(`^(?:[^${FORBIDDEN}]|[\\n\\r])*$`, 'u');

export const TEXT_RULE_MESSAGE = {
  single: 'Must be text without control characters (line breaks and tabs included), lone surrogates or noncharacters',
  multi: 'Must be text without control characters other than line breaks, lone surrogates or noncharacters',
} as const;

/** True for the `pattern` of a text rule: how a schema error of that pattern is recognised as TEXT_INVALID. */
export function isTextRulePattern(pattern: unknown): boolean {
  return pattern === SINGLE_LINE_TEXT.source || pattern === MULTI_LINE_TEXT.source;
}

/** Whether `s` follows the rule of its field. */
export function isAllowedText(s: string, opts: { multiline?: boolean } = {}): boolean {
  return (opts.multiline ? MULTI_LINE_TEXT : SINGLE_LINE_TEXT).test(s);
}

/** Throws TEXT_INVALID naming the field (never its value) when `s` breaks the rule. */
export function checkText(s: string, field: string, opts: { multiline?: boolean } = {}): void {
  if (!isAllowedText(s, opts)) {
    throw new AppError('TEXT_INVALID', { field, detail: TEXT_RULE_MESSAGE[opts.multiline ? 'multi' : 'single'] });
  }
}
