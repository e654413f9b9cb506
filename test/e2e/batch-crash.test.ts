// A batch survives kill -9: `fapiao serve` is killed while it issues a batch of a few hundred invoices and restarted
// on the same data directory; the batch then completes with every item issued exactly once (one invoice per
// externalId, the item naming it) and the series has no gap (consecutive sequence numbers).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';

// Small writer batches so that the kill lands mid-batch; a short lease so the restarted node takes the items soon.
const ENV = { FAPIAO_BATCH_MAX: '4', FAPIAO_BATCHES_LEASE_SEC: '2', FAPIAO_BATCHES_IDLE_POLL_MS: '100' };
const N = 300;

interface View { status: string; progress: { issued: number; pending: number; failed: number; invalid: number }; items: { externalId: string; status: string; number?: string }[]; nextCursor?: string }

describe('batch issuance across a crash', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-e2e-batch-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('completes after kill -9 mid-batch with no duplicate and no gap', async () => {
    const first = await spawnServer(dataDir, ENV);
    const headers = { authorization: `Bearer ${first.demoKey!}` };
    const view = async (s: Spawned, id: string, cursor?: string): Promise<View> => {
      const res = await request(`${s.url}/v1/invoice-batches/${id}?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { headers, dispatcher: s.agent });
      assert.equal(res.statusCode, 200);
      return (await res.body.json()) as View;
    };
    let second: Spawned | undefined;
    try {
      const body = Array.from({ length: N }, (_, i) => JSON.stringify(sampleInvoice({ externalId: `crash-${i}` }))).join('\n');
      const res = await request(`${first.url}/v1/invoice-batches`, {
        method: 'POST', headers: { ...headers, 'content-type': 'application/x-ndjson' }, body, dispatcher: first.agent,
      });
      assert.equal(res.statusCode, 202);
      const { id } = (await res.body.json()) as { id: string };
      for (;;) {
        if ((await view(first, id)).progress.issued >= 10) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      first.proc.kill('SIGKILL');
      await first.stop('SIGKILL');
      const db = new Database(join(dataDir, 'fapiao.db'), { readonly: true });
      const atKill = (db.prepare("select count(*) as n from invoice_batch_items where state = 'issued'").get() as { n: number }).n;
      db.close();
      assert.ok(atKill > 0 && atKill < N, `the kill landed mid-batch (${atKill} of ${N} issued)`);

      second = await spawnServer(dataDir, ENV);
      const deadline = Date.now() + 60_000;
      while ((await view(second, id)).status !== 'completed') {
        assert.ok(Date.now() < deadline, 'the batch completes after the restart');
        await new Promise((r) => setTimeout(r, 100));
      }
      const items: View['items'] = [];
      let cursor: string | undefined;
      do {
        const page = await view(second, id, cursor);
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      assert.equal(items.length, N);
      assert.ok(items.every((i) => i.status === 'issued' && i.number), 'every item issued');
      assert.equal(new Set(items.map((i) => i.number)).size, N, 'no invoice named twice');

      const check = new Database(join(dataDir, 'fapiao.db'), { readonly: true });
      const rows = check.prepare("select number, external_id from invoices where external_id like 'crash-%'").all() as { number: string; external_id: string }[];
      const all = (check.prepare('select number from invoices order by number').all() as { number: string }[]).map((r) => r.number);
      check.close();
      assert.equal(rows.length, N, 'one invoice per externalId');
      const byExternal = new Map(rows.map((r) => [r.external_id, r.number]));
      for (const i of items) assert.equal(byExternal.get(i.externalId), i.number);
      const seqs = all.map((n) => Number(n.slice(5)));
      seqs.forEach((s, k) => assert.equal(s, seqs[0]! + k, `no gap in the series at ${all[k]}`));
      process.stdout.write(`# ${atKill} of ${N} items issued at kill -9; the rest after restart\n`);
    } finally {
      if (second) assert.equal(await second.stop('SIGTERM'), 0);
      if (first.proc.exitCode === null && first.proc.signalCode === null) await first.stop('SIGKILL');
    }
  });
});
