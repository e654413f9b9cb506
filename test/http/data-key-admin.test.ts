// Key rotation through the admin API on a real app: SM4-GCM chosen by config (FAPIAO_FIELD_ALGORITHM), data-key
// rotation (`POST /admin/v1/tenants/{id}/data-keys/rotate`), the background job moving old rows while the API keeps
// answering, status and progress (`GET …/data-keys`), and RFC 9457 problems for every mistake.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { loadConfig, ConfigError } from '../../src/config/config.ts';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';

const PHONE = '13912345678';
const ID_NUMBER = '11010519491231002X';

interface KeysView {
  tenantId: string;
  keys: { version: number; alg: string; status: string; masterVersion: number; rows: { invoices: number; idempotency: number } | null }[];
  pending: number;
}

describe('data-key rotation: admin API', () => {
  let t: TestApp;
  let admin: FastifyInstance;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const numbers: string[] = [];

  async function issue(n: number, prefix: string): Promise<void> {
    for (let i = 0; i < n; i++) {
      const res = await t.api.inject({
        method: 'POST', url: '/v1/invoices', headers: { ...auth(t.apiKey), 'idempotency-key': `${prefix}-${i}` },
        payload: sampleInvoice({ buyer: { name: '李四', taxId: ID_NUMBER, phone: PHONE, email: `${prefix}${i}@example.com` } }),
      });
      assert.equal(res.statusCode, 201, res.body);
      numbers.push(res.json<{ number: string }>().number);
    }
  }

  async function storedEnvelopes(): Promise<Set<string>> {
    const db = (t.app.storage).db;
    const docs = await db.selectFrom('invoices').select('document').execute();
    const bodies = await db.selectFrom('idempotency_keys').select('body').execute();
    const found = new Set<string>();
    for (const text of [...docs.map((d) => d.document), ...bodies.map((b) => b.body)]) {
      for (const m of text.matchAll(/f1\.([a-z0-9-]+)\.([0-9]+)\./g)) found.add(`${m[1]}/${m[2]}`);
    }
    return found;
  }

  const keys = async (tenantId = t.tenantId) =>
    admin.inject({ method: 'GET', url: `/admin/v1/tenants/${tenantId}/data-keys`, headers: auth(t.adminToken) });

  before(async () => {
    t = await createTestApp({ FAPIAO_FIELD_ALGORITHM: 'sm4-gcm', FAPIAO_LISTEN_ADMIN: '127.0.0.1:0' });
    admin = t.servers.get('admin')!;
  });
  after(async () => {
    await t?.close();
  });

  void it('stores new tenants’ personal data under SM4-GCM when configured, and reads it back', async () => {
    await issue(5, 'a');
    assert.deepEqual([...await storedEnvelopes()], ['sm4-gcm/1']);
    const res = await t.api.inject({ method: 'GET', url: `/v1/invoices/${numbers[0]}`, headers: auth(t.apiKey) });
    assert.equal(res.json<{ buyer: { phone: string; taxId: string } }>().buyer.phone, PHONE);
    assert.equal(res.json<{ buyer: { taxId: string } }>().buyer.taxId, ID_NUMBER);
    const view = (await keys()).json<KeysView>();
    assert.deepEqual(view.keys.map((k) => [k.version, k.alg, k.status, k.rows]), [[1, 'sm4-gcm', 'active', null]]);
  });

  void it('rotates the data key; the job moves older rows while the API serves; search by phone keeps working', async () => {
    const res = await admin.inject({
      method: 'POST', url: `/admin/v1/tenants/${t.tenantId}/data-keys/rotate`, headers: auth(t.adminToken), payload: { algorithm: 'aes-256-gcm' },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json<{ key: { version: number; alg: string } }>().key.version, 2);
    await issue(3, 'b');
    // Reads work at every moment of the move.
    for (let i = 0; i < 100; i++) {
      const view = (await keys()).json<KeysView>();
      const r = await t.api.inject({ method: 'GET', url: `/v1/invoices/${numbers[i % numbers.length]}`, headers: auth(t.apiKey) });
      assert.equal(r.json<{ buyer: { phone: string } }>().buyer.phone, PHONE);
      if (view.pending === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const view = (await keys()).json<KeysView>();
    assert.equal(view.pending, 0);
    assert.deepEqual(view.keys.map((k) => [k.version, k.alg, k.status, k.rows]), [
      [1, 'sm4-gcm', 'retiring', { invoices: 0, idempotency: 0 }],
      [2, 'aes-256-gcm', 'active', null],
    ]);
    assert.deepEqual([...await storedEnvelopes()], ['aes-256-gcm/2']);
    const found = await t.api.inject({ method: 'GET', url: `/v1/invoices?buyerPhone=${encodeURIComponent('+86 139 1234 5678')}&limit=50`, headers: auth(t.apiKey) });
    assert.equal(found.statusCode, 200, found.body);
    assert.equal(found.json<{ items: unknown[] }>().items.length, 8);
    // The idempotent replay answers the original body, now sealed under the new key.
    const replay = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { ...auth(t.apiKey), 'idempotency-key': 'a-0' },
      payload: sampleInvoice({ buyer: { name: '李四', taxId: ID_NUMBER, phone: PHONE, email: 'a0@example.com' } }),
    });
    assert.equal(replay.statusCode, 201, replay.body);
    assert.equal(replay.json<{ number: string }>().number, numbers[0]);
    const audit = await t.app.services.audit.search({ action: 'datakey.rotate', order: 'desc', limit: 5 });
    assert.equal(audit[0]?.actor, 'admin-api');
    assert.equal(audit[0]?.tenantId, t.tenantId);
  });

  void it('rotates with the configured algorithm when the body names none', async () => {
    const res = await admin.inject({ method: 'POST', url: `/admin/v1/tenants/${t.tenantId}/data-keys/rotate`, headers: auth(t.adminToken) });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json<{ key: { version: number; alg: string } }>().key, { ...res.json<{ key: object }>().key, version: 3, alg: 'sm4-gcm' });
  });

  void it('answers problems with stable codes for mistakes', async () => {
    const cases: [string, string, Record<string, string>, unknown, number, string][] = [
      ['POST', `/admin/v1/tenants/${t.tenantId}/data-keys/rotate`, auth(t.adminToken), { algorithm: 'des' }, 400, 'VALIDATION_FAILED'],
      ['POST', `/admin/v1/tenants/${t.tenantId}/data-keys/rotate`, auth(t.adminToken), { extra: 1 }, 400, 'VALIDATION_FAILED'],
      ['POST', '/admin/v1/tenants/t_0000000000000000/data-keys/rotate', auth(t.adminToken), {}, 404, 'TENANT_NOT_FOUND'],
      ['GET', '/admin/v1/tenants/t_0000000000000000/data-keys', auth(t.adminToken), undefined, 404, 'TENANT_NOT_FOUND'],
      ['GET', '/admin/v1/tenants/nope/data-keys', auth(t.adminToken), undefined, 400, 'VALIDATION_FAILED'],
      ['GET', `/admin/v1/tenants/${t.tenantId}/data-keys`, auth('wrong'), undefined, 401, 'UNAUTHENTICATED'],
      ['POST', `/admin/v1/tenants/${t.tenantId}/data-keys/rotate`, {}, {}, 401, 'UNAUTHENTICATED'],
    ];
    for (const [method, url, headers, payload, status, code] of cases) {
      const res = await admin.inject({ method: method as 'GET', url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
      assert.equal(res.statusCode, status, `${method} ${url}: ${res.body}`);
      assert.match(String(res.headers['content-type'] ?? ''), /application\/problem\+json/);
      assert.equal(res.json<{ code: string }>().code, code);
    }
    // The tenant API does not serve admin routes.
    const onApi = await t.api.inject({ method: 'GET', url: `/admin/v1/tenants/${t.tenantId}/data-keys`, headers: auth(t.adminToken) });
    assert.equal(onApi.statusCode, 404);
  });

  void it('refuses a bad algorithm or master-key setting at start, naming the setting and not the value', () => {
    assert.throws(() => loadConfig({ FAPIAO_FIELD_ALGORITHM: 'aes-128-cbc' }), (e: unknown) => e instanceof ConfigError && e.setting === 'FAPIAO_FIELD_ALGORITHM');
    const key = Buffer.alloc(32, 7).toString('base64');
    assert.throws(() => loadConfig({ FAPIAO_MASTER_KEY_PREVIOUS: `x:${key}` }), (e: unknown) =>
      e instanceof ConfigError && e.setting === 'FAPIAO_MASTER_KEY_PREVIOUS' && !e.message.includes(key));
    assert.throws(() => loadConfig({ FAPIAO_MASTER_KEY_PREVIOUS: `1:${key}` }), /must differ from masterKeyVersion/);
    assert.throws(() => loadConfig({ FAPIAO_MASTER_KEY_VERSION: '0' }), (e: unknown) => e instanceof ConfigError && e.setting === 'masterKeyVersion');
    const ok = loadConfig({ FAPIAO_MASTER_KEY_VERSION: '3', FAPIAO_MASTER_KEY_PREVIOUS: `1:${key}, 2:${key}`, FAPIAO_FIELD_ALGORITHM: 'sm4-gcm' });
    assert.deepEqual(ok.previousMasterKeys.map((p) => p.version), [1, 2]);
    assert.equal(ok.fields.algorithm, 'sm4-gcm');
  });
});
