import assert from 'node:assert/strict';
import { blueSpecial, redSpecial, longNormal } from '../test/fixtures/sample-invoice.ts';
import { invoiceToXml, parseInvoiceXml } from '../src/formats/to-xml.ts';
for (const inv of [blueSpecial(), redSpecial(), longNormal()]) {
  const x = invoiceToXml(inv);
  assert.deepStrictEqual(parseInvoiceXml(x), inv);
}
const b = blueSpecial(); b.remarks = ' a\r\n\tb <x> & "y" \r'; b.buyer.address = ''; 
assert.deepStrictEqual(parseInvoiceXml(invoiceToXml(b)), b);
console.log(invoiceToXml(redSpecial()));
