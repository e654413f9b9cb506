import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkParties, checkSeller } from './party-rules.ts';
import type { IssueInvoiceInput, Party } from '../../../shared/invoice.ts';
import { AppError } from '../../../shared/errors.ts';

const USCC = '91110000600037341L';
const ID = '11010519491231002X';
const PILOT = '91350100M0001TGQXM'; // legal, fails the checksum (test/vectors/uscc.json)

function input(type: 'special' | 'normal', buyer: Partial<Party>, extra: Partial<IssueInvoiceInput> = {}): IssueInvoiceInput {
  return { type, buyer: { name: '某某科技有限公司', ...buyer }, lines: [], issuer: '张三', ...extra };
}

function failure(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AppError);
    assert.equal(e.code, e.errors?.[0]?.code);
    return (e.errors ?? []).map((x) => `${x.code} ${x.path}`);
  }
  assert.fail('expected an AppError');
}

void describe('checkParties', () => {
  void it('a special invoice needs a buyer USCC', () => {
    assert.deepEqual(checkParties(input('special', { taxId: USCC })), { buyerTaxIdKind: 'uscc' });
    assert.deepEqual(failure(() => checkParties(input('special', {}))), ['BUYER_TAX_ID_REQUIRED /buyer/taxId']);
    assert.deepEqual(failure(() => checkParties(input('special', { taxId: '' }))), ['BUYER_TAX_ID_REQUIRED /buyer/taxId']);
    assert.deepEqual(failure(() => checkParties(input('special', { taxId: ID }))), ['TAX_ID_INVALID /buyer/taxId']);
    assert.deepEqual(failure(() => checkParties(input('special', { taxId: '91110000600037341K' }))), ['TAX_ID_CHECKSUM /buyer/taxId']);
  });
  void it('accepts a listed pilot-region code', () => {
    assert.deepEqual(failure(() => checkParties(input('special', { taxId: PILOT }))), ['TAX_ID_CHECKSUM /buyer/taxId']);
    assert.deepEqual(checkParties(input('special', { taxId: PILOT }), { taxIdExceptions: [PILOT] }), { buyerTaxIdKind: 'uscc' });
  });
  void it('a normal invoice takes a name alone, a USCC or an ID-card number', () => {
    assert.deepEqual(checkParties(input('normal', { name: '张三' })), {});
    assert.deepEqual(checkParties(input('normal', { name: '张三', taxId: ID })), { buyerTaxIdKind: 'id-card' });
    assert.deepEqual(checkParties(input('normal', { taxId: USCC })), { buyerTaxIdKind: 'uscc' });
    assert.deepEqual(failure(() => checkParties(input('normal', { taxId: '123' }))), ['TAX_ID_INVALID /buyer/taxId']);
  });
  void it('requires the buyer name and the issuer, limits lengths, refuses control characters', () => {
    assert.deepEqual(failure(() => checkParties(input('normal', { name: ' ' }))), ['VALIDATION_FAILED /buyer/name']);
    assert.deepEqual(failure(() => checkParties({ ...input('normal', {}), buyer: undefined as unknown as Party })), ['VALIDATION_FAILED /buyer']);
    assert.deepEqual(
      failure(() =>
        checkParties(
          input('normal', { name: '名'.repeat(101), address: '地'.repeat(201), email: 'not-an-email', phone: '1\u00002' }, { remarks: '备'.repeat(231), issuer: '' }),
        ),
      ),
      [
        'VALIDATION_FAILED /buyer/name',
        'VALIDATION_FAILED /buyer/address',
        'TEXT_INVALID /buyer/phone',
        'VALIDATION_FAILED /buyer/email',
        'VALIDATION_FAILED /remarks',
        'VALIDATION_FAILED /issuer',
      ],
    );
    assert.deepEqual(checkParties(input('normal', { name: '名'.repeat(100) }, { remarks: '第一行\n第二行' })), {});
  });
  void it('refuses the seller as buyer unless allowed', () => {
    const self = input('special', { name: '上海测试科技有限公司', taxId: '91310000775785552L' });
    assert.deepEqual(failure(() => checkParties(self, { sellerTaxId: '91310000775785552L' })), ['BUYER_IS_SELLER /buyer/taxId']);
    assert.deepEqual(checkParties(self, { sellerTaxId: '91310000775785552L', allowBuyerIsSeller: true }), { buyerTaxIdKind: 'uscc' });
    assert.deepEqual(checkParties(self, { sellerTaxId: '91440300708461136T' }), { buyerTaxIdKind: 'uscc' });
  });
  void it('collects errors of several fields under the first code', () => {
    assert.deepEqual(failure(() => checkParties(input('special', { name: '' }, { issuer: '' }))), [
      'VALIDATION_FAILED /buyer/name',
      'BUYER_TAX_ID_REQUIRED /buyer/taxId',
      'VALIDATION_FAILED /issuer',
    ]);
  });
});

void describe('checkSeller', () => {
  void it('needs a name and a USCC', () => {
    checkSeller({ name: '销方', taxId: USCC });
    assert.deepEqual(failure(() => checkSeller({ name: '销方' })), ['VALIDATION_FAILED /seller/taxId']);
    assert.deepEqual(failure(() => checkSeller({ name: '销方', taxId: ID })), ['TAX_ID_INVALID /seller/taxId']);
  });
});
