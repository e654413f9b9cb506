// `fapiao red-letter …` and `fapiao received …` against a data directory: the buyer books an invoice, the seller files
// (02), the buyer lists and confirms (04, red invoice issued); an unbooked invoice needs no confirmation (01); a
// rejection and refused moves exit 1 with the error code. Invoices are issued through the container on the same
// directory (the CLI has no issue command here).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { buildContainer } from '../../src/container.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { runCli } from '../helpers/spawn-server.ts';
import { draft } from '../usecases/kit.ts';

interface Form { id: string; state: string; redNumber?: string }

describe('fapiao red-letter and received', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-rl-cli-'));
  const env = { FAPIAO_DATA_DIR: dataDir, FAPIAO_SIGNER_THREADS: '0' };
  let sellerId: string;
  let buyerId: string;
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  const cli = async (args: string[], expect = 0) => {
    const r = await runCli(args, env);
    assert.equal(r.code, expect, `${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r;
  };
  async function issue(n: number): Promise<string[]> {
    const config = loadConfig({ ...env, FAPIAO_LISTEN_API: '127.0.0.1:0' }, dataDir);
    const app = await buildContainer(config, 'server', { logger: pino({ level: 'silent' }) });
    try {
      const seller = await app.services.tenants.getOrThrow(sellerId);
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push((JSON.parse((await app.services.invoices.issue(seller, draft(), { replayStatus: 201 })).json) as Invoice).number);
      return out;
    } finally {
      await app.close();
    }
  }

  before(async () => {
    await cli(['init']);
    sellerId = (JSON.parse((await cli(['tenant', 'create', '--name', '上海测试科技有限公司', '--tax-id', '91310000775785552L', '--region', '31', '--json'])).stdout) as { tenant: { id: string } }).tenant.id;
    buyerId = (JSON.parse((await cli(['tenant', 'create', '--name', '杭州买方贸易有限公司', '--tax-id', '91440300708461136T', '--region', '33', '--json'])).stdout) as { tenant: { id: string } }).tenant.id;
  });

  it('booked: the seller files (02), the buyer sees it received and confirms (04) with the red invoice', async () => {
    const [number] = await issue(1);
    const listed = await cli(['received', 'list', '--tenant', buyerId]);
    assert.match(listed.stdout, new RegExp(`${number}.*no\\s+no`));
    const booked = await cli(['received', 'book', '--tenant', buyerId, number!]);
    assert.match(booked.stdout, /booked\s+yes/);
    const filed = await cli(['red-letter', 'file', '--tenant', sellerId, '--invoice', number!, '--reason', '02', '--line', '1:quantity=1']);
    assert.match(filed.stdout, /^filed\n/);
    assert.match(filed.stdout, /state\s+02 销方录入待购方确认/);
    assert.match(filed.stdout, /reason\s+02 销货退回/);
    const id = /form\s+(\S+)/.exec(filed.stdout)![1]!;
    const inbox = await cli(['red-letter', 'list', '--tenant', buyerId, '--direction', 'received']);
    assert.match(inbox.stdout, new RegExp(`${id}\\s+${number}\\s+02\\s+received`));
    await cli(['red-letter', 'confirm', '--tenant', sellerId, id], 1);
    const confirmed = JSON.parse((await cli(['red-letter', 'confirm', '--tenant', buyerId, id, '--json'])).stdout) as { form: Form };
    assert.equal(confirmed.form.state, '04');
    assert.match(confirmed.form.redNumber ?? '', /^\d{20}$/);
    const shown = await cli(['red-letter', 'show', '--tenant', sellerId, id]);
    assert.match(shown.stdout, /red invoice\s+\d{20}/);
    assert.match(shown.stdout, /10 → 02\s+file by seller \(cli:/);
    assert.match(shown.stdout, /02 → 04\s+confirm by buyer/);
    const again = await cli(['red-letter', 'confirm', '--tenant', buyerId, id], 1);
    assert.match(again.stderr, /RED_LETTER_TRANSITION_REFUSED/);
    assert.doesNotMatch(again.stderr, /\n\s+at /, 'no stack trace');
  });

  it('not booked: no confirmation needed (01), the red invoice at once; a booked one rejected (05); the seller revokes (08)', async () => {
    const [a, b, c] = await issue(3);
    const direct = JSON.parse((await cli(['red-letter', 'file', '--tenant', sellerId, '--invoice', a!, '--reason', '01', '--json'])).stdout) as { outcome: string; form: Form };
    assert.deepEqual([direct.outcome, direct.form.state], ['created', '01']);
    assert.ok(direct.form.redNumber);
    await cli(['received', 'select', '--tenant', buyerId, b!]);
    const f = JSON.parse((await cli(['red-letter', 'file', '--tenant', sellerId, '--invoice', b!, '--reason', '04', '--json'])).stdout) as { form: Form };
    assert.equal(f.form.state, '02');
    assert.equal((JSON.parse((await cli(['red-letter', 'reject', '--tenant', buyerId, f.form.id, '--json'])).stdout) as { form: Form }).form.state, '05');
    await cli(['received', 'book', '--tenant', buyerId, c!]);
    const g = JSON.parse((await cli(['red-letter', 'file', '--tenant', sellerId, '--invoice', c!, '--reason', '03', '--json'])).stdout) as { form: Form };
    await cli(['red-letter', 'revoke', '--tenant', buyerId, g.form.id], 1);
    assert.equal((JSON.parse((await cli(['red-letter', 'revoke', '--tenant', sellerId, g.form.id, '--json'])).stdout) as { form: Form }).form.state, '08');
    const states = JSON.parse((await cli(['red-letter', 'list', '--tenant', sellerId, '--json'])).stdout) as { items: Form[] };
    assert.ok(states.items.length >= 4);
    const bad = await cli(['red-letter', 'file', '--tenant', sellerId, '--invoice', c!, '--reason', '99'], 1);
    assert.match(bad.stderr, /RED_LETTER_REASON_INVALID.*\/reason/);
    const badLine = await cli(['red-letter', 'file', '--tenant', sellerId, '--invoice', c!, '--reason', '01', '--line', 'x'], 1);
    assert.match(badLine.stderr, /--line x/);
    const stranger = await cli(['received', 'show', '--tenant', sellerId, c!], 1);
    assert.match(stranger.stderr, /INVOICE_NOT_FOUND/);
  });
});
