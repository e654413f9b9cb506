import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isPersonalTaxId, maskAddress, maskBankAccount, maskEmail, maskIdNumber, maskInvoice, maskName, maskParty, maskPhone } from './masking.ts';
import type { Invoice } from '../../../shared/invoice.ts';

void describe('masking (invoice-rules.md, "Parties")', () => {
  void it('masks the reference examples', () => {
    assert.equal(maskPhone('13812345678'), '138****5678');
    assert.equal(maskIdNumber('110101199003071234'), '110101********1234');
    assert.equal(maskBankAccount('6222021234567891234'), '6222 **** **** 1234');
    assert.equal(maskBankAccount('6222 0212 3456 7891 234'), '6222 **** **** 1234');
    assert.equal(maskEmail('zhang.san@example.com'), 'z*******@example.com');
    assert.equal(maskAddress('云南省昆明市五华区人民中路1号'), '云南省昆明市****');
    assert.equal(maskName('张三'), '张*');
    assert.equal(maskName('欧阳娜娜'), '欧***');
  });
  void it('hides short values entirely', () => {
    assert.equal(maskPhone('110'), '****');
    assert.equal(maskIdNumber('1234'), '****');
    assert.equal(maskBankAccount('1234'), '**** ****');
    assert.equal(maskEmail('nobody'), '*******');
    assert.equal(maskAddress('北京'), '北****');
    assert.equal(maskName('张'), '*');
  });
  void it('masks a party: personal fields always, name and ID number for a natural person', () => {
    const company = { name: '某某科技有限公司', taxId: '91110000600037341L', address: '北京市海淀区中关村大街1号', phone: '010-12345678', bankName: '工商银行', bankAccount: '6222021234567891234', email: 'ap@example.com' };
    assert.deepEqual(maskParty(company), {
      name: '某某科技有限公司',
      taxId: '91110000600037341L',
      address: '北京市海淀区****',
      phone: '010****5678',
      bankName: '工商银行',
      bankAccount: '6222 **** **** 1234',
      email: 'a*******@example.com',
    });
    assert.deepEqual(maskParty({ name: '张三', taxId: '11010519491231002X' }), { name: '张*', taxId: '110105********002X' });
    assert.deepEqual(maskParty({ name: '李四' }, { isIndividual: true }), { name: '李*' });
    // A sole trader (个体工商户) with a USCC: the code stays visible.
    assert.deepEqual(maskParty({ name: '王五', taxId: '91110000600037341L' }, { isIndividual: true }), { name: '王*', taxId: '91110000600037341L' });
  });
  void it('shows a tax ID whole only when it is stored in plaintext: a valid USCC that is not an ID-card number', () => {
    const pilot = '91350100M0001TGQXM'; // legal, fails the checksum (test/vectors/uscc.json): encrypted at rest
    assert.equal(isPersonalTaxId(pilot), true);
    assert.equal(isPersonalTaxId('91110000600037341L'), false);
    assert.equal(isPersonalTaxId('11010519491231002X'), true);
    assert.deepEqual(maskParty({ name: '某某公司', taxId: pilot }), { name: '某某公司', taxId: '913501********GQXM' });
  });
  void it('masks an invoice\'s buyer and keeps every other key in place', () => {
    const invoice = { number: '1', buyer: { name: '张三', taxId: '11010519491231002X', phone: '13812345678' }, seller: { name: '卖方' }, status: 'normal' } as unknown as Invoice;
    const masked = maskInvoice(invoice);
    assert.deepEqual(Object.keys(masked), Object.keys(invoice));
    assert.deepEqual(masked.buyer, { name: '张*', taxId: '110105********002X', phone: '138****5678' });
    assert.equal(invoice.buyer.phone, '13812345678');
  });
});
