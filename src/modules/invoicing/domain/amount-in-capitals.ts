// The total with tax (价税合计) in Chinese capitals, as printed on a 数电票 (docs/invoice-rules.md, "Lines and tax math";
// test/vectors/amount-in-capitals.json):
// - 圆 (not 元); 整 after a whole yuan, nothing after 角 or 分; 壹拾 (not 拾) for a leading ten;
// - one 零 for a run of zeros inside the number, also across the 万 and 亿 sections (100100 → 壹拾万零壹佰);
// - a zero at the units place of a section (the 万 or 圆 place) before a non-zero lower digit writes NO 零: the
//   cheque rules allow both forms for 1680.32 and 107000.53, and the vectors use the form without (壹拾万柒仟圆);
// - 角 zero with 分 non-zero writes 零 after 圆 (16409.02 → …圆零贰分), but a zero yuan part is left out entirely
//   (0.05 → 伍分); 0.00 → 零圆整;
// - a negative (red) total is prefixed with the full-width （负数）.
import { formatMoney, parseMoney } from '../../../shared/money.ts';

const DIGITS = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'] as const;
/** Place within a 4-digit section. */
const PLACES = ['', '拾', '佰', '仟'] as const;
/** Section units: ones, 万 (10^4), 亿 (10^8). Twelve integer digits (MONEY_MAX) fit in three sections. */
const SECTIONS = ['', '万', '亿'] as const;

export const NEGATIVE_PREFIX = '（负数）';

function digit(c: string | undefined): string {
  return DIGITS[Number(c ?? '0')] ?? '零';
}

function yuanInCapitals(intDigits: string): string {
  let out = '';
  let zeroPending = false;
  const n = intDigits.length;
  for (let i = 0; i < n; i++) {
    const c = intDigits[i];
    const pos = n - 1 - i;
    if (c === '0') {
      if (out !== '') zeroPending = true;
    } else {
      if (zeroPending) out += '零';
      zeroPending = false;
      out += digit(c) + PLACES[pos % 4];
    }
    if (pos % 4 === 0 && pos > 0) {
      const section = intDigits.slice(Math.max(0, i - 3), i + 1);
      if (/[1-9]/.test(section)) {
        out += SECTIONS[pos / 4];
        // A zero at the section's units place does not carry a 零 into the next section (107000 → 壹拾万柒仟).
        zeroPending = false;
      }
    }
  }
  return out;
}

/** `amountInCapitals("113.00")` → "壹佰壹拾叁圆整". Accepts at most two decimals and |amount| ≤ MONEY_MAX. */
export function amountInCapitals(amount: string): string {
  const value = parseMoney(amount, undefined, true);
  const negative = value.isNegative() && !value.isZero();
  const [intPart = '0', frac = ''] = formatMoney(value.abs()).split('.');
  const jiao = frac[0] ?? '0';
  const fen = frac[1] ?? '0';
  const yuan = intPart.replace(/^0+/, '');
  let text: string;
  if (yuan === '' && jiao === '0' && fen === '0') {
    text = '零圆整';
  } else {
    text = yuan === '' ? '' : `${yuanInCapitals(yuan)}圆`;
    if (jiao === '0' && fen === '0') {
      text += '整';
    } else {
      if (jiao !== '0') text += `${digit(jiao)}角`;
      else if (yuan !== '') text += '零';
      if (fen !== '0') text += `${digit(fen)}分`;
    }
  }
  return negative ? NEGATIVE_PREFIX + text : text;
}
