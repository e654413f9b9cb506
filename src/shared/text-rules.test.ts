import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkText, isAllowedText, isTextRulePattern, MULTI_LINE_TEXT, SINGLE_LINE_TEXT } from './text-rules.ts';
import { AppError } from './errors.ts';

/** The rule written out by code point, independently of the regular expressions (Unicode 15, PropList.txt). */
function forbidden(cp: number, multiline: boolean): boolean {
  if (multiline && (cp === 0x0a || cp === 0x0d)) return false;
  const control = cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f);
  const surrogate = cp >= 0xd800 && cp <= 0xdfff;
  const noncharacter = (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;
  return control || surrogate || noncharacter;
}

describe('text rules', () => {
  it('allows exactly the code points the rule allows, in every plane', () => {
    for (const multiline of [false, true]) {
      const wrong: string[] = [];
      for (let cp = 0; cp <= 0x10ffff; cp++) {
        // A surrogate code point on its own is a lone surrogate in a JavaScript string.
        const s = `a${String.fromCodePoint(cp)}b`;
        if (isAllowedText(s, { multiline }) === forbidden(cp, multiline)) wrong.push(cp.toString(16));
        if (wrong.length > 5) break;
      }
      assert.deepEqual(wrong, [], `multiline=${multiline}`);
    }
  });

  it('reads surrogate pairs as one character and refuses unpaired or reversed halves', () => {
    assert.ok(isAllowedText('发票😀'));
    assert.ok(isAllowedText('\ud83d\ude00'));
    for (const s of ['\ud800', 'x\udc00', '\udc00\ud800', '\ud83d']) assert.equal(isAllowedText(s), false, JSON.stringify(s));
  });

  it('allows line breaks only in multi-line text', () => {
    for (const s of ['第一行\n第二行', 'a\r\nb', 'a\rb']) {
      assert.equal(isAllowedText(s), false);
      assert.equal(isAllowedText(s, { multiline: true }), true);
    }
    assert.equal(isAllowedText('a\tb', { multiline: true }), false, 'no tabs: the printed form has no tab stops');
    assert.ok(isAllowedText(''));
  });

  it('throws TEXT_INVALID naming the field, never the value', () => {
    const value = '北京市朝阳区某某路1号\u0000';
    assert.throws(() => checkText(value, '/buyer/address'), (e: unknown) => {
      assert.ok(e instanceof AppError);
      assert.equal(e.code, 'TEXT_INVALID');
      assert.deepEqual(e.errors?.map((x) => x.path), ['/buyer/address']);
      assert.ok(!JSON.stringify({ m: e.message, errors: e.errors }).includes('朝阳区'));
      return true;
    });
  });

  it('recognises its own patterns (how a schema error becomes TEXT_INVALID)', () => {
    assert.ok(isTextRulePattern(SINGLE_LINE_TEXT.source));
    assert.ok(isTextRulePattern(MULTI_LINE_TEXT.source));
    assert.equal(isTextRulePattern('^[0-9]{19}$'), false);
  });
});
