import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeInvoice, computeTotals, negateForRed, normaliseRate } from './tax.ts';
import type { IssueInvoiceInput, LineInput } from '../../../shared/invoice.ts';
import { AppError } from '../../../shared/errors.ts';

const SOFTWARE = '3040201010000000000'; // 软件开发服务 → *信息技术服务*
const MEAL = '3070401000000000000'; // 餐饮服务

function invoice(lines: Partial<LineInput>[], priceIncludesTax = false): IssueInvoiceInput {
  return {
    type: 'normal',
    buyer: { name: '某某公司' },
    issuer: '张三',
    priceIncludesTax,
    lines: lines.map((l) => ({ name: '软件开发费', taxCode: SOFTWARE, amount: '100.00', taxRate: '0.13', ...l })),
  };
}

/** Runs computeInvoice expecting an AppError; returns [code, paths]. */
function failure(input: IssueInvoiceInput, opts = {}): [string, string[]] {
  try {
    computeInvoice(input, opts);
  } catch (e) {
    assert.ok(e instanceof AppError, String(e));
    return [e.code, (e.errors ?? []).map((x) => `${x.code} ${x.path}`)];
  }
  assert.fail('expected an AppError');
}

void describe('computeInvoice: examples checked by hand', () => {
  void it('100.00 at 13% → 13.00 tax, 113.00 total', () => {
    const { lines, totals } = computeInvoice(invoice([{}]));
    assert.deepEqual(lines, [
      { lineNo: 1, kind: 'item', name: '*信息技术服务*软件开发费', taxCode: SOFTWARE, taxRate: '0.13', amount: '100.00', tax: '13.00', total: '113.00' },
    ]);
    assert.deepEqual(totals, { amount: '100.00', tax: '13.00', total: '113.00', totalInCapitals: '壹佰壹拾叁圆整' });
  });

  void it('113.00 including tax at 13% → 100.00 + 13.00', () => {
    const { lines, totals } = computeInvoice(invoice([{ amount: '113.00' }], true));
    assert.equal(lines[0]?.amount, '100.00');
    assert.equal(lines[0]?.tax, '13.00');
    assert.equal(totals.total, '113.00');
  });

  void it('10.00 including tax at 13% → 8.85 + 1.15 (8.849… rounds up)', () => {
    const { lines } = computeInvoice(invoice([{ amount: '10.00' }], true));
    assert.deepEqual([lines[0]?.amount, lines[0]?.tax], ['8.85', '1.15']);
  });

  // Each product ends in an exact 5 after an even digit: banker's rounding would round down, half-up rounds up.
  for (const [amount, rate, tax] of [
    ['12.50', '0.01', '0.13'], // 0.125
    ['0.50', '0.05', '0.03'], // 0.025
    ['2.50', '0.09', '0.23'], // 0.225
    ['20.75', '0.06', '1.25'], // 1.245
    ['20.50', '0.03', '0.62'], // 0.615
    ['14.50', '0.13', '1.89'], // 1.885
  ] as const) {
    void it(`rounds half up: ${amount} × ${rate} → ${tax}`, () => {
      assert.equal(computeInvoice(invoice([{ amount, taxRate: rate }])).lines[0]?.tax, tax);
    });
  }

  void it('normalises rate spellings and refuses rates not in use or not allowed', () => {
    assert.equal(normaliseRate('0.130'), '0.13');
    assert.equal(normaliseRate('0.00'), '0');
    assert.equal(normaliseRate('13%'), undefined);
    assert.equal(computeInvoice(invoice([{ taxRate: '0.060' }])).lines[0]?.taxRate, '0.06');
    assert.equal(computeInvoice(invoice([{ taxRate: '0.0' }])).lines[0]?.taxRate, '0');
    assert.deepEqual(failure(invoice([{ taxRate: '0.17' }])), ['TAX_RATE_NOT_ALLOWED', ['TAX_RATE_NOT_ALLOWED /lines/0/taxRate']]);
    assert.deepEqual(failure(invoice([{}]), { allowedRates: ['0.06', '0.030'] }), ['TAX_RATE_NOT_ALLOWED', ['TAX_RATE_NOT_ALLOWED /lines/0/taxRate']]);
    assert.equal(computeInvoice(invoice([{ taxRate: '0.03' }]), { allowedRates: ['0.06', '0.030'] }).lines[0]?.tax, '3.00');
    assert.throws(() => computeInvoice(invoice([{}]), { allowedRates: ['0.17'] }), RangeError);
  });

  void it('exempt and not-taxable lines carry rate 0 and tax 0.00', () => {
    const { lines, totals } = computeInvoice(invoice([
      { taxRate: undefined, taxExemption: 'exempt', name: '餐费', taxCode: MEAL },
      { taxRate: '0', taxExemption: 'non-taxable', amount: '5.00' },
    ]));
    assert.deepEqual(lines.map((l) => [l.name, l.taxRate, l.taxExemption, l.tax]), [
      ['*餐饮服务*餐费', '0', 'exempt', '0.00'],
      ['*信息技术服务*软件开发费', '0', 'non-taxable', '0.00'],
    ]);
    assert.equal(totals.total, '105.00');
    assert.equal(failure(invoice([{ taxExemption: 'exempt' }]))[0], 'TAX_RATE_NOT_ALLOWED');
    assert.equal(failure(invoice([{ taxRate: undefined }]))[1][0], 'VALIDATION_FAILED /lines/0/taxRate');
  });

  void it('checks quantity × unit price against the amount within 0.01', () => {
    const ok = computeInvoice(invoice([{ quantity: '3', unitPrice: '33.33' }])).lines[0];
    assert.deepEqual([ok?.quantity, ok?.unitPrice, ok?.amount], ['3', '33.33', '100.00']);
    assert.deepEqual(failure(invoice([{ quantity: '3', unitPrice: '33.33', amount: '100.01' }])), ['AMOUNT_MISMATCH', ['AMOUNT_MISMATCH /lines/0/amount']]);
    assert.equal(computeInvoice(invoice([{ quantity: '3', unitPrice: '33.3333333333333' }])).lines[0]?.unitPrice, '33.3333333333333');
    assert.equal(failure(invoice([{ quantity: '3', unitPrice: '33.33333333333333' }]))[1][0], 'QUANTITY_INVALID /lines/0/unitPrice');
    assert.equal(failure(invoice([{ quantity: '0' }]))[1][0], 'QUANTITY_INVALID /lines/0/quantity');
    assert.equal(failure(invoice([{ quantity: '1e2' }]))[1][0], 'QUANTITY_INVALID /lines/0/quantity');
    assert.equal(computeInvoice(invoice([{ quantity: '2.50', unitPrice: '40.000' }])).lines[0]?.quantity, '2.5');
  });

  void it('derives the unit price excl. tax, at most 13 decimals, consistent with the stored amount', () => {
    assert.equal(computeInvoice(invoice([{ quantity: '3' }])).lines[0]?.unitPrice, '33.3333333333333');
    const incl = computeInvoice(invoice([{ quantity: '3', unitPrice: '37.67', amount: '113.00' }], true)).lines[0];
    assert.deepEqual([incl?.amount, incl?.unitPrice], ['100.00', '33.3333333333333']);
    // No quantity: the 含税 price is divided by (1 + rate).
    assert.equal(computeInvoice(invoice([{ unitPrice: '113', amount: '113.00' }], true)).lines[0]?.unitPrice, '100');
  });

  void it('checks a supplied tax per line (0.06) and over the invoice (1.27), and stores its own', () => {
    const line = computeInvoice(invoice([{ tax: '12.94' }])).lines[0];
    assert.equal(line?.tax, '13.00');
    assert.deepEqual(failure(invoice([{ tax: '12.93' }])), ['TAX_MISMATCH', ['TAX_MISMATCH /lines/0/tax']]);
    assert.deepEqual(failure(invoice([{}, { tax: '13.07' }])), ['TAX_MISMATCH', ['TAX_MISMATCH /lines/1/tax']]);
    const many = Array.from({ length: 26 }, () => ({ tax: '12.95' })); // 26 × 0.05 = 1.30
    assert.deepEqual(failure(invoice(many)), ['TAX_TOTAL_MISMATCH', ['TAX_TOTAL_MISMATCH /lines']]);
    assert.equal(computeInvoice(invoice(many.slice(0, 25))).totals.tax, '325.00'); // 1.25 is within
  });

  void it('issues a discount as a negative line right after its line', () => {
    const { lines, totals } = computeInvoice(invoice([{ discount: '12.50', taxRate: '0.01' }, { name: '维护费', amount: '50.00' }]));
    assert.deepEqual(lines.map((l) => [l.lineNo, l.kind, l.name, l.taxCode, l.taxRate, l.amount, l.tax, l.total]), [
      [1, 'item', '*信息技术服务*软件开发费', SOFTWARE, '0.01', '100.00', '1.00', '101.00'],
      [2, 'discount', '*信息技术服务*软件开发费', SOFTWARE, '0.01', '-12.50', '-0.13', '-12.63'],
      [3, 'item', '*信息技术服务*维护费', SOFTWARE, '0.13', '50.00', '6.50', '56.50'],
    ]);
    assert.deepEqual(totals, { amount: '137.50', tax: '7.37', total: '144.87', totalInCapitals: '壹佰肆拾肆圆捌角柒分' });
    const incl = computeInvoice(invoice([{ amount: '113.00', discount: '13.00' }], true)).lines[1];
    assert.deepEqual([incl?.amount, incl?.tax, incl?.total], ['-11.50', '-1.50', '-13.00']);
    assert.equal(failure(invoice([{ discount: '100.01' }]))[1][0], 'DISCOUNT_INVALID /lines/0/discount');
    assert.equal(failure(invoice([{ discount: '0.00' }]))[1][0], 'DISCOUNT_INVALID /lines/0/discount');
    assert.equal(failure(invoice([{ discount: '-1.00' }]))[1][0], 'AMOUNT_INVALID /lines/0/discount');
    assert.deepEqual(failure(invoice([{ discount: '100.00' }])), ['TOTAL_NOT_POSITIVE', ['TOTAL_NOT_POSITIVE /lines']]);
  });

  void it('prints *简称*名称 from the name, shortName or the tax-code table', () => {
    const names = computeInvoice(invoice([{ name: '*软件*定制开发' }, { shortName: '软件' }, { name: '住宿费', taxCode: '3070402000000000000' }])).lines.map((l) => l.name);
    assert.deepEqual(names, ['*软件*定制开发', '*软件*软件开发费', '*住宿服务*住宿费']);
    assert.deepEqual(failure(invoice([{ taxCode: '1090511030000000000' }])), ['SHORT_NAME_REQUIRED', ['SHORT_NAME_REQUIRED /lines/0/shortName']]);
    assert.equal(computeInvoice(invoice([{ taxCode: '1090511030000000000', shortName: '电子计算机', name: '笔记本电脑' }])).lines[0]?.name, '*电子计算机*笔记本电脑');
    assert.equal(failure(invoice([{ name: '*坏名字' }]))[1][0], 'VALIDATION_FAILED /lines/0/name');
    assert.equal(failure(invoice([{ name: ' ' }]))[1][0], 'VALIDATION_FAILED /lines/0/name');
    assert.equal(failure(invoice([{ shortName: 'a*b' }]))[1][0], 'VALIDATION_FAILED /lines/0/shortName');
    assert.equal(failure(invoice([{ name: '名'.repeat(95) }]))[1][0], 'VALIDATION_FAILED /lines/0/name');
  });

  void it('refuses bad tax codes, amounts and texts with the field at fault', () => {
    assert.deepEqual(failure(invoice([{ taxCode: '304020101000000000' }])), ['TAX_CODE_INVALID', ['TAX_CODE_INVALID /lines/0/taxCode']]);
    for (const amount of ['1.005', '-1.00', '0.00', '1e2', ' 1.00', '', '.5']) {
      assert.equal(failure(invoice([{ amount }]))[1][0], 'AMOUNT_INVALID /lines/0/amount', amount);
    }
    assert.equal(failure(invoice([{ amount: 100 as unknown as string }]))[1][0], 'AMOUNT_INVALID /lines/0/amount');
    assert.equal(failure(invoice([{ amount: '1000000000000.00' }]))[1][0], 'AMOUNT_TOO_LARGE /lines/0/amount');
    assert.deepEqual(failure(invoice([{ amount: '999999999999.99', taxRate: '0' }, { amount: '0.01', taxRate: '0' }])), ['AMOUNT_TOO_LARGE', ['AMOUNT_TOO_LARGE /lines']]);
    assert.equal(failure(invoice([{ unit: '个'.repeat(21) }]))[1][0], 'VALIDATION_FAILED /lines/0/unit');
    assert.deepEqual(failure({ ...invoice([]), lines: [] }), ['LINES_EMPTY', ['LINES_EMPTY /lines']]);
  });

  void it('collects the errors of every line into one AppError with the code of the first', () => {
    const [code, errors] = failure(invoice([{}, { amount: 'x', taxCode: '1' }, { taxRate: '0.2' }]));
    assert.equal(code, 'TAX_CODE_INVALID');
    assert.deepEqual(errors, ['TAX_CODE_INVALID /lines/1/taxCode', 'AMOUNT_INVALID /lines/1/amount', 'TAX_RATE_NOT_ALLOWED /lines/2/taxRate']);
  });
});

void describe('negateForRed', () => {
  void it('negates amounts, taxes and quantities; a discount line turns positive', () => {
    const blue = computeInvoice(invoice([{ quantity: '2', discount: '10.00' }, { amount: '0.50', taxRate: '0.05' }]));
    const red = negateForRed(blue.lines, blue.totals);
    assert.deepEqual(red.lines.map((l) => [l.lineNo, l.kind, l.quantity, l.unitPrice, l.amount, l.tax, l.total]), [
      [1, 'item', '-2', '50', '-100.00', '-13.00', '-113.00'],
      [2, 'discount', undefined, undefined, '10.00', '1.30', '11.30'],
      [3, 'item', undefined, undefined, '-0.50', '-0.03', '-0.53'],
    ]);
    assert.deepEqual(red.totals, { amount: '-90.50', tax: '-11.73', total: '-102.23', totalInCapitals: '（负数）壹佰零贰圆贰角叁分' });
    assert.deepEqual(red.totals, computeTotals(red.lines));
    assert.equal(negateForRed(red.lines, red.totals).lines[0]?.quantity, '2');
  });
});
