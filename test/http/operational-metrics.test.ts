// The operational metrics on /metrics, with the values real work gives them: the issuing pipeline (batch size,
// signing and commit time, queue depth), failed authentications and bans, the ledger's checkpoint age and leaves, the
// webhook deliveries due, the data directory's disk, and the TLS certificate each listener loaded and its failed
// handshakes (a real TLS 1.1 hello against a listening server). On PostgreSQL also the pool and the start time of the
// database server behind it (a switch-over changes it).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { PG_SKIP_REASON, pgTestUrl } from '../helpers/pg.ts';

const pgDb = await pgTestUrl();

/** Samples of the exposition text: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`operational metrics (${engine})`, { skip: engine === 'postgres' && !pgDb ? PG_SKIP_REASON : false }, () => {
    let t: TestApp;
    const scrape = async () => samples((await t.servers.get('metrics')!.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })).body);

    before(async () => {
      t = await createTestApp(engine === 'postgres' ? { FAPIAO_DATABASE_URL: pgDb!.url } : {});
    });
    after(async () => {
      await t?.close();
      if (engine === 'postgres') await pgDb?.drop();
    });

    it('counts issuing batches, failed authentications and bans; shows the ledger, the outbox and the disk', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() });
        assert.equal(res.statusCode, 201);
      }
      const bad = await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: { authorization: 'Bearer fk_live_not-a-key' } });
      assert.equal(bad.statusCode, 401);
      await t.app.services.bans.ban({ target: '203.0.113.7', reason: 'manual', actor: 'ops' });
      // On PostgreSQL the node's own integrator may hold the lease ('busy'): try until the checkpoint covers the three.
      let m = await scrape();
      for (let i = 0; i < 100 && m.get('fapiao_ledger_checkpoint_size') !== 3; i++) {
        await t.app.services.integrator.integrateOnce(true);
        await new Promise((r) => setTimeout(r, 20));
        m = await scrape();
      }
      assert.ok(m.get('fapiao_issue_batch_size_count')! >= 1);
      assert.equal(m.get('fapiao_issue_batch_size_sum'), 3);
      assert.ok(m.get('fapiao_issue_signing_seconds_count')! >= 1);
      assert.ok(m.get('fapiao_issue_commit_seconds_sum')! > 0);
      assert.equal(m.get('fapiao_issue_queue_depth'), 0);
      assert.equal(m.get('fapiao_auth_failures_total{listener="api"}'), 1);
      assert.equal(m.get('fapiao_bans_total{reason="manual"}'), 1);
      assert.equal(m.get('fapiao_ledger_leaves'), 3);
      assert.equal(m.get('fapiao_ledger_checkpoint_size'), 3);
      assert.ok(m.get('fapiao_ledger_checkpoint_age_seconds')! >= 0);
      assert.equal(m.get('fapiao_webhook_deliveries_due'), 0);
      assert.equal(m.get('fapiao_webhook_oldest_due_seconds'), 0);
      assert.equal(m.get('fapiao_webhook_dead_letters_total'), 0);
      assert.ok(m.get('fapiao_data_dir_free_bytes')! > 0 && m.get('fapiao_data_dir_free_bytes')! <= m.get('fapiao_data_dir_size_bytes')!);
      if (engine === 'postgres') {
        assert.ok(m.get('fapiao_db_pool_connections{state="total"}')! >= 1);
        assert.ok(m.get('fapiao_db_pool_connections{state="waiting"}')! >= 0);
        const started = m.get('fapiao_db_server_start_time_seconds')!;
        assert.ok(started > 1.6e9 && started <= Date.now() / 1000, String(started));
      } else {
        assert.ok(![...m.keys()].some((k) => k.startsWith('fapiao_db_pool_connections') || k.startsWith('fapiao_db_server_start_time_seconds')), 'no PostgreSQL samples on SQLite');
      }
    });

    it('shows each TLS listener\'s certificate expiry and counts a refused handshake', async () => {
      const cert = new X509Certificate(readFileSync(join(t.dataDir, 'tls', 'server.pem')));
      const api = t.servers.get('api')!;
      await api.listen({ host: '127.0.0.1', port: 0 });
      try {
        const port = (api.server.address() as AddressInfo).port;
        await new Promise<void>((resolve) => {
          const s = connect({ host: '127.0.0.1', port, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0', rejectUnauthorized: false });
          s.on('error', () => resolve());
          s.on('secureConnect', () => {
            s.destroy();
            resolve();
          });
        });
        let m = await scrape();
        for (let i = 0; i < 50 && (m.get('fapiao_tls_handshake_failures_total{listener="api"}') ?? 0) < 1; i++) {
          await new Promise((r) => setTimeout(r, 20));
          m = await scrape();
        }
        assert.equal(m.get('fapiao_tls_handshake_failures_total{listener="api"}'), 1);
        assert.equal(m.get('fapiao_tls_certificate_expiry_timestamp_seconds{listener="api"}'), Math.floor(Date.parse(cert.validTo) / 1000));
      } finally {
        await api.close();
      }
    });
  });
}
