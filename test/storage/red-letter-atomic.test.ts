// A form that needs no confirmation (01) commits in the issuing transaction of its red invoice: a failure in that
// transaction leaves neither the form nor its history, audit entry, events or red invoice, and leaves the blue invoice
// as it was; filing again then works. On SQLite and on PostgreSQL.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { buildContainer, type ServerContainer } from '../../src/container.ts';
import type { Repositories } from '../../src/repositories.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import type { Tenant } from '../../src/modules/tenants/index.ts';
import { PG_SKIP_REASON, pgTestUrl, type PgTestDatabase } from '../helpers/pg.ts';
import { duringTransactions, withMethods } from '../helpers/uow-c.ts';
import { SELLER, draft } from '../usecases/kit.ts';

const by = { actor: 'apikey:atomic' };
const OUTSIDE_BUYER = { name: '外部买方有限公司', taxId: '915300007194052520' };
const pgDb: PgTestDatabase | undefined = await pgTestUrl();

class Injected extends Error {}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`a form in 01 and its red invoice commit together: ${engine}`, { skip: engine === 'postgres' && !pgDb ? PG_SKIP_REASON : false }, () => {
    let dir: string;
    let app: ServerContainer;
    let seller: Tenant;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'fapiao-rl-atomic-'));
      const url = engine === 'sqlite' ? `sqlite:${join(dir, 'fapiao.db')}` : pgDb!.url;
      const config = loadConfig({ FAPIAO_DATA_DIR: dir, FAPIAO_DATABASE_URL: url, FAPIAO_SIGNER_THREADS: '0', FAPIAO_LISTEN_API: '127.0.0.1:0' }, dir);
      app = await buildContainer(config, 'server', { logger: pino({ level: 'silent' }) });
      await app.start();
      seller = (await app.services.tenants.create(SELLER)).tenant;
    });
    after(async () => {
      await app?.close();
      if (engine === 'postgres') await pgDb?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function counts(blue: string) {
      const db = app.storage.db;
      const forms = await db.selectFrom('red_letter_forms').select('id').where('blue_number', '=', blue).execute();
      const ids = forms.map((f) => f.id);
      const moves = ids.length === 0 ? [] : await db.selectFrom('red_letter_transitions').select('form_id').where('form_id', 'in', ids).execute();
      const events = await db.selectFrom('outbox_events').select('type').where('payload', 'like', `%${blue}%`).where('type', '!=', 'invoice.issued').execute();
      const audits = ids.length === 0 ? [] : await db.selectFrom('audit_events').select('action').where('target', 'in', ids).execute();
      const reds = await db.selectFrom('invoices').select('number').where('original_number', '=', blue).execute();
      return { forms: ids.length, moves: moves.length, events: events.length, audits: audits.length, reds: reds.length };
    }

    for (const where of ['the invoice.issue audit entry', 'the blue status'] as const) {
      it(`a failure at ${where} in the red invoice's transaction leaves no form; filing again works`, async () => {
        const inv = JSON.parse((await app.services.invoices.issue(seller, draft({ buyer: OUTSIDE_BUYER }), { replayStatus: 201 })).json) as Invoice;
        const key = `atomic-${where.replace(/[^a-z]+/g, '-')}`;
        const before = await counts(inv.number);
        let failed = 0;
        const fault = (tx: Repositories): Repositories => ({
          ...tx,
          audit: withMethods(tx.audit, {
            append: (entries) => {
              if (where === 'the invoice.issue audit entry' && entries.some((e) => e.action === 'invoice.issue' && e.tenantId === seller.id)) {
                failed++;
                throw new Injected('audit append failed');
              }
              return tx.audit.append(entries);
            },
          }),
          invoices: withMethods(tx.invoices, {
            setStatus: (tenantId, number, status) => {
              if (where === 'the blue status') {
                failed++;
                throw new Injected('status update failed');
              }
              return tx.invoices.setStatus(tenantId, number, status);
            },
          }),
        });
        await assert.rejects(duringTransactions(app.uow, fault, () =>
          app.services.redLetter.file(seller, { invoiceNumber: inv.number, reason: '01' }, { by, idempotencyKey: key })), Injected);
        assert.equal(failed, 1);
        // Nothing of the filing is left, and the blue invoice is untouched.
        assert.deepEqual(await counts(inv.number), before);
        assert.deepEqual(before, { forms: 0, moves: 0, events: 0, audits: 0, reds: 0 });
        assert.equal((await app.services.invoices.get(seller.id, inv.number)).status, 'normal');
        assert.equal(await app.uow.read.redLetter.findByIdempotencyKey(seller.id, key), undefined);

        // Filing again (the same key) files and issues, once.
        const { outcome, form } = await app.services.redLetter.file(seller, { invoiceNumber: inv.number, reason: '01' }, { by, idempotencyKey: key });
        assert.equal(outcome, 'created');
        assert.equal(form.state, '01');
        assert.ok(form.redNumber);
        const red = await app.services.invoices.get(seller.id, form.redNumber);
        assert.deepEqual([red.kind, red.originalNumber, red.redLetterFormId], ['red', inv.number, form.id]);
        assert.equal((await app.services.invoices.get(seller.id, inv.number)).status, 'red-flushed');
        assert.deepEqual(await counts(inv.number), { forms: 1, moves: 1, events: 2, audits: 1, reds: 1 });
        const { history } = await app.services.redLetter.get(seller, form.id);
        assert.deepEqual(history.map((h) => [h.from, h.to, h.action]), [['10', '01', 'file']]);
        // The red invoice took the next number: the failed attempt left no gap.
        assert.equal(BigInt(red.number) - BigInt(inv.number), 1n);
      });
    }
  });
}
