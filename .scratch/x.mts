import { create } from 'xmlbuilder2';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
const doc = create({ version: '1.0', encoding: 'UTF-8' }).ele('EInvoice').ele('A').txt('  a\r\nb <&> "q" \'  ').up().ele('B').txt('').up().ele('C').ele('D').txt('1.00').up().up().ele('E').txt('x\u0001').up();
let xml = '';
try { xml = doc.end({ prettyPrint: true }); } catch (e) { console.log('ERR', (e as Error).message); xml = create().ele('EInvoice').ele('A').txt('  a\r\nb <&> "q" \'  ').up().ele('B').txt('').up().ele('C').ele('D').txt('1.00').up().up().end({prettyPrint:true}); }
console.log(xml);
const p = new XMLParser({ parseTagValue: false, trimValues: false, isArray: (n) => n === 'D' });
console.log(JSON.stringify(p.parse(xml)), XMLValidator.validate(xml));
