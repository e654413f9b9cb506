// Downloads through the render cache: the same document fetched twice is the same bytes and ETag, counted as a hit in
// /metrics; a red-letter reversal changes the stored state, so the next download is rendered again; a tenant's setting
// change takes effect at the next download; and with FAPIAO_RENDER_CACHE_MB=0 every OFD is signed anew, with the same
// bytes (its package signature's nonce is derived from the key and the signed bytes).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';

for (const mb of ['64', '0']) {
  describe(`downloads with the render cache at ${mb} MB`, () => {
    let t: TestApp;
    let number: string;
    const get = (q: string) => t.api.inject({ method: 'GET', url: `/v1/invoices/${number}?${q}`, headers: { authorization: `Bearer ${t.apiKey}` } });

    before(async () => {
      t = await createTestApp({ FAPIAO_RENDER_CACHE_MB: mb });
      const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice({ buyer: { name: '杭州买方贸易有限公司', taxId: '91440300708461136T', address: '杭州市文三路90号' } }) });
      assert.equal(res.statusCode, 201, res.body);
      number = res.json<{ number: string }>().number;
      await t.app.services.integrator.integrateOnce(true);
    });
    after(async () => t?.close());

    it('answers a document fetched again from the cache, the OFD with the same signature', async () => {
      const a = await get('format=ofd'), b = await get('format=ofd');
      assert.equal(a.statusCode, 200);
      if (mb === '0') {
        assert.equal(a.headers.etag, b.headers.etag, 'signed anew, to the same bytes');
        assert.deepEqual(a.rawPayload, b.rawPayload);
        return;
      }
      assert.equal(a.headers.etag, b.headers.etag);
      assert.deepEqual(a.rawPayload, b.rawPayload);
      const pdf1 = await get('format=pdf'), pdf2 = await get('format=pdf');
      assert.equal(pdf1.headers.etag, pdf2.headers.etag);
      const metrics = (await t.servers.get('metrics')!.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })).body;
      assert.match(metrics, /fapiao_render_cache_requests_total\{result="hit"\} 2/);
      assert.match(metrics, /fapiao_render_cache_requests_total\{result="miss"\} 2/);
      assert.match(metrics, /fapiao_render_cache_bytes [1-9]/);
    });

    it('renders again after a setting change and after a red-letter reversal', async () => {
      const before = await get('format=pdf');
      const patched = await t.api.inject({ method: 'PATCH', url: '/v1/document-settings', headers: { authorization: `Bearer ${t.apiKey}` }, payload: { remarks: { buyerDetails: true } } });
      assert.equal(patched.statusCode, 200);
      const withDetails = await get('format=pdf');
      assert.notEqual(withDetails.headers.etag, before.headers.etag);
      const xml1 = await get('format=xml');
      const filed = await t.api.inject({ method: 'POST', url: '/v1/red-letter-requests', headers: { authorization: `Bearer ${t.apiKey}` }, payload: { invoiceNumber: number, reason: '01' } });
      assert.equal(filed.statusCode, 201, filed.body);
      const xml2 = await get('format=xml');
      assert.notEqual(xml2.body, xml1.body, 'the reversed invoice is rendered with its new status');
      assert.match(xml2.body, /red-flushed/);
    });
  });
}
