// The render cache: a document fetched again with nothing changed is the same bytes without a second render; a new
// status, ledger proof, rendering option or signing key is a new render; least recently used entries leave first
// when the bytes run out; concurrent requests share one render; size 0 renders every time.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RenderCache } from '../../src/modules/documents/app/render-cache.ts';
import { renderInvoice, type FormatName, type RenderedInvoice } from '../../src/modules/documents/domain/negotiate.ts';
import type { RenderOptions } from '../../src/modules/documents/domain/ledger-proof.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { blueSpecial, longNormal } from '../fixtures/sample-invoice.ts';

function counting() {
  let calls = 0;
  const render = async (i: Invoice, f: FormatName, o?: RenderOptions): Promise<RenderedInvoice> => {
    calls++;
    return renderInvoice(i, f, o);
  };
  return { render, calls: () => calls };
}

const proof = { leafIndex: 1, treeSize: 2, leafHash: 'AA==', inclusionProof: ['AA=='], checkpoint: 'localhost\n2\nAA==\n' };

describe('render cache', () => {
  it('answers the same bytes without rendering again; any input that changes makes a new render', async () => {
    const r = counting();
    const cache = new RenderCache(64 << 20, r.render);
    const a = await cache.render(blueSpecial(), 'pdf');
    const b = await cache.render(blueSpecial(), 'pdf');
    assert.equal(r.calls(), 1);
    assert.equal(a.body, b.body);
    await cache.render({ ...blueSpecial(), status: 'red-flushed' }, 'pdf');
    await cache.render(blueSpecial(), 'pdf', { ledgerProof: proof });
    await cache.render(blueSpecial(), 'pdf', { ledgerProof: { ...proof, treeSize: 3 } });
    await cache.render(blueSpecial(), 'pdf', { face: { buyerDetails: true } });
    await cache.render(blueSpecial(), 'ubl', { ubl: { paid: true } });
    await cache.render(blueSpecial(), 'ubl');
    await cache.render(blueSpecial(), 'xml');
    assert.equal(r.calls(), 8);
    await cache.render(blueSpecial(), 'pdf', { ledgerProof: proof });
    await cache.render(blueSpecial(), 'ubl', { ubl: { paid: true } });
    assert.equal(r.calls(), 8);
    assert.deepEqual([cache.hits, cache.misses], [3, 8]);
    // JSON is not rendered, so not cached.
    await cache.render(blueSpecial(), 'json');
    await cache.render(blueSpecial(), 'json');
    assert.equal(r.calls(), 10);
  });

  it('shares one render between concurrent requests', async () => {
    const r = counting();
    const cache = new RenderCache(64 << 20, r.render);
    const docs = await Promise.all(Array.from({ length: 8 }, () => cache.render(longNormal(), 'pdf')));
    assert.equal(r.calls(), 1);
    assert.ok(docs.every((d) => d.body === docs[0]!.body));
  });

  it('keeps within its bytes, least recently used out first; 0 keeps nothing', async () => {
    const r = counting();
    const one = Buffer.byteLength((await renderInvoice(blueSpecial(), 'xml')).body) + 256;
    const cache = new RenderCache(one * 8.5, r.render);
    const inv = (n: number): Invoice => ({ ...blueSpecial(), externalId: `ERP-${n}` });
    for (let n = 0; n < 8; n++) await cache.render(inv(n), 'xml');
    await cache.render(inv(0), 'xml'); // now the most recent
    await cache.render(inv(8), 'xml'); // evicts 1, the least recent
    assert.ok(cache.size <= one * 8.5);
    const before = r.calls();
    await cache.render(inv(0), 'xml');
    assert.equal(r.calls(), before, '0 stayed');
    await cache.render(inv(1), 'xml');
    assert.equal(r.calls(), before + 1, '1 was evicted');
    const off = counting();
    const none = new RenderCache(0, off.render);
    await none.render(blueSpecial(), 'xml');
    await none.render(blueSpecial(), 'xml');
    assert.equal(off.calls(), 2);
    assert.equal(none.size, 0);
  });
});
