// The access log is JSON lines with Elastic Common Schema names, written by the production logger (createLogger),
// and every answer names its request: a caller's X-Request-Id is kept (and echoed) when it is plain visible ASCII,
// anything else is replaced by an id of ours, so a log line cannot be forged through the header.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/container.ts';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';

void describe('access log and request ids', () => {
  let t: TestApp;
  const lines: string[] = [];
  before(async () => {
    t = await createTestApp({}, { logger: createLogger('debug', { write: (line: string) => void lines.push(line) }) });
  });
  after(() => t.close());

  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

  void it('writes ECS fields for a request, with the path but never the query', async () => {
    const res = await t.api.inject({
      method: 'GET', url: '/v1/invoices?buyerTaxId=91440300708461136T', headers: { authorization: `Bearer ${t.apiKey}`, 'x-request-id': 'erp-4711' },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-request-id'], 'erp-4711');
    const rec = records().find((r) => r['http.request.id'] === 'erp-4711' && r.message === 'request');
    assert.ok(rec, 'an access-log line for the request');
    assert.equal(typeof rec['@timestamp'], 'string');
    assert.ok(!Number.isNaN(Date.parse(rec['@timestamp'] as string)));
    assert.equal(rec['log.level'], 'debug');
    assert.equal(rec['service.name'], 'fapiao');
    assert.equal(rec['http.request.method'], 'GET');
    assert.equal(rec['url.path'], '/v1/invoices');
    assert.equal(rec['http.response.status_code'], 200);
    assert.equal(rec['client.ip'], '127.0.0.1');
    assert.equal(rec['organization.id'], t.tenantId);
    assert.equal(typeof rec['event.duration'], 'number');
    assert.ok(!lines.join('').includes('91440300708461136T'), 'the query (a buyer tax ID) is not logged');
  });

  void it('replaces a request id that is not plain visible ASCII, and names it in the problem', async () => {
    for (const bad of ['a b', 'x'.repeat(129), '日志', '']) {
      const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json', 'x-request-id': bad }, payload: sampleInvoice({ lines: [] }) });
      assert.equal(res.statusCode, 422);
      const id = res.headers['x-request-id'] as string;
      assert.match(id, /^[0-9a-f-]{36}$/, `${JSON.stringify(bad)} is replaced`);
      assert.equal(res.json<{ requestId: string }>().requestId, id);
      assert.ok(records().some((r) => r['http.request.id'] === id && r['http.response.status_code'] === 422 && r['log.level'] === 'info'));
    }
  });
});
