import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FORMATS, pickFormat, renderInvoice, type FormatName } from '../../src/modules/documents/domain/negotiate.ts';
import { fromCents, negate, ratePercent, toCents, zhDate } from '../../src/modules/documents/domain/text.ts';
import { blueSpecial, redSpecial } from '../fixtures/sample-invoice.ts';

describe('pickFormat', () => {
  it('explicit ?format= wins over Accept; unknown format → undefined', () => {
    assert.equal(pickFormat('pdf', 'application/json'), 'pdf');
    assert.equal(pickFormat(' UBL ', undefined), 'ubl');
    assert.equal(pickFormat('docx', 'application/json'), undefined);
  });

  it('no Accept, */* and application/* → json', () => {
    assert.equal(pickFormat(), 'json');
    assert.equal(pickFormat(undefined, ''), 'json');
    assert.equal(pickFormat(undefined, '*/*'), 'json');
    assert.equal(pickFormat(undefined, 'application/*'), 'json');
  });

  it('media types map to formats', () => {
    const cases: [string, FormatName][] = [
      ['application/pdf', 'pdf'], ['application/xml', 'xml'], ['text/xml', 'xml'], ['text/*', 'xml'],
      ['application/ofd', 'ofd'], ['application/vnd.oasis.ubl+xml', 'ubl'], ['APPLICATION/PDF', 'pdf'],
    ];
    for (const [accept, want] of cases) assert.equal(pickFormat(undefined, accept), want, accept);
  });

  it('honours q-values, q=0 exclusions and the most specific range', () => {
    assert.equal(pickFormat(undefined, 'application/json;q=0.5, application/pdf'), 'pdf');
    assert.equal(pickFormat(undefined, 'application/pdf;q=0.9, application/ofd;q=0.95'), 'ofd');
    assert.equal(pickFormat(undefined, 'text/html, application/xml;q=0.9, */*;q=0.8'), 'xml');
    assert.equal(pickFormat(undefined, 'application/json;q=0, */*'), 'xml');
    assert.equal(pickFormat(undefined, 'application/pdf, application/json'), 'pdf', 'ties go to the first listed');
    assert.equal(pickFormat(undefined, 'application/*;q=0.1, application/json;q=0'), 'xml');
  });

  it('nothing acceptable → undefined (406)', () => {
    assert.equal(pickFormat(undefined, 'text/html'), undefined);
    assert.equal(pickFormat(undefined, 'image/png, text/csv;q=0.5'), undefined);
    assert.equal(pickFormat(undefined, '*/*;q=0'), undefined);
  });
});

describe('renderInvoice', () => {
  it('renders every format with its content type and filename, identically twice', async () => {
    for (const name of Object.keys(FORMATS) as FormatName[]) {
      const a = await renderInvoice(blueSpecial(), name);
      const b = await renderInvoice(blueSpecial(), name);
      assert.deepEqual(a, b, `${name} is deterministic`);
      assert.ok(a.contentType.startsWith(FORMATS[name].contentType));
      assert.equal(a.filename.startsWith('26442000000000001234.'), true);
      assert.ok(a.body.length > 100);
    }
    const json = await renderInvoice(redSpecial(), 'json');
    assert.equal(json.contentType, 'application/json; charset=utf-8');
    assert.deepEqual(JSON.parse(json.body as string), redSpecial());
    assert.equal((await renderInvoice(redSpecial(), 'ubl')).filename, '26442000000000001301.ubl.xml');
    assert.equal((await renderInvoice(redSpecial(), 'pdf')).contentType, 'application/pdf');
  });
});

describe('decimal-string helpers', () => {
  it('cents, negation and percent without floats', () => {
    assert.equal(toCents('113.5'), 11350n);
    assert.equal(toCents('-0.05'), -5n);
    assert.equal(fromCents(-120005n), '-1200.05');
    assert.throws(() => toCents('1.005'));
    assert.equal(negate('-1.00'), '1.00');
    assert.equal(negate('0.00'), '0.00');
    assert.equal(negate('2'), '-2');
    assert.deepEqual(['0.13', '0.09', '0.015', '0', '0.00', '1'].map((r) => ratePercent(r)), ['13', '9', '1.5', '0', '0', '100']);
    assert.equal(zhDate('2026-01-05'), '2026年01月05日');
  });
});
