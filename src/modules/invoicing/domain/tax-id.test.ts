import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { idCardCheckChar, isValidIdCardNumber, isValidUscc, usccCheckChar, validateTaxId } from './tax-id.ts';
import { AppError } from '../../../shared/errors.ts';

interface UsccVectors {
  valid: string[];
  invalid: { code: string; why: string }[];
  legalButFailsChecksum: string[];
}
// The vectors of docs/invoice-rules.md (test/vectors/uscc.json), kept in the repo so the test is self-contained.
const v = JSON.parse(readFileSync(new URL('../../../../test/vectors/uscc.json', import.meta.url), 'utf8')) as UsccVectors;

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AppError);
    assert.equal(e.errors?.[0]?.path, '/buyer/taxId');
    return e.code;
  }
  return 'no error';
}

// 11010519491231002X is the sample number printed in GB 11643-1999.
const ID = '11010519491231002X';

void describe('USCC (GB 32100-2015)', () => {
  for (const c of v.valid) {
    void it(`valid ${c}`, () => {
      assert.equal(isValidUscc(c), true);
      assert.equal(usccCheckChar(c.slice(0, 17)), c[17]);
      assert.equal(validateTaxId(c), 'uscc');
    });
  }
  for (const { code: c, why } of v.invalid) {
    void it(`invalid ${c} (${why})`, () => {
      assert.equal(isValidUscc(c), false);
      assert.notEqual(code(() => validateTaxId(c)), 'no error');
    });
  }
  void it('a wrong check character is TAX_ID_CHECKSUM, a bad shape TAX_ID_INVALID', () => {
    assert.equal(code(() => validateTaxId('91110000600037341K')), 'TAX_ID_CHECKSUM');
    assert.equal(code(() => validateTaxId('91110000600O37341L')), 'TAX_ID_INVALID');
    assert.equal(code(() => validateTaxId('9111000060003734L')), 'TAX_ID_INVALID');
    assert.equal(code(() => validateTaxId('915300007194052521')), 'TAX_ID_CHECKSUM');
  });
  for (const c of v.legalButFailsChecksum) {
    void it(`exception ${c} is accepted only when listed`, () => {
      assert.equal(isValidUscc(c), false);
      assert.equal(code(() => validateTaxId(c)), 'TAX_ID_CHECKSUM');
      assert.equal(validateTaxId(c, { exceptions: v.legalButFailsChecksum }), 'uscc');
    });
  }
  void it('usccCheckChar refuses characters outside the alphabet', () => {
    assert.throws(() => usccCheckChar('9111000060003734I'), AppError);
    assert.throws(() => usccCheckChar('short'), AppError);
  });
});

void describe('ID-card number (GB 11643)', () => {
  void it('accepts the standard sample and computes its check character', () => {
    assert.equal(idCardCheckChar(ID.slice(0, 17)), 'X');
    assert.equal(isValidIdCardNumber(ID), true);
    assert.equal(validateTaxId(ID), 'id-card');
  });
  void it('rejects a wrong check character, lower-case x, impossible dates', () => {
    assert.equal(isValidIdCardNumber('110105194912310021'), false);
    assert.equal(isValidIdCardNumber('11010519491231002x'), false);
    const withDate = (d: string): string => {
      const first = `110105${d}002`;
      return first + idCardCheckChar(first);
    };
    assert.equal(isValidIdCardNumber(withDate('20000229')), true);
    assert.equal(isValidIdCardNumber(withDate('19000229')), false);
    assert.equal(isValidIdCardNumber(withDate('19491301')), false);
    assert.equal(isValidIdCardNumber(withDate('18991231')), false);
    assert.equal(code(() => validateTaxId('110105194912310021')), 'TAX_ID_INVALID');
  });
  void it('is refused where only a USCC is accepted', () => {
    assert.equal(code(() => validateTaxId(ID, { kinds: ['uscc'] })), 'TAX_ID_INVALID');
  });
  void it('uses the given field', () => {
    assert.throws(() => validateTaxId('x', { field: '/seller/taxId' }), (e: AppError) => e.errors?.[0]?.path === '/seller/taxId');
  });
});
