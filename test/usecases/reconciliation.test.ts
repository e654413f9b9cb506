// Statements and ERP reconciliation end to end below HTTP, on SQLite and PostgreSQL: a seeded month with planted
// differences (missing both ways, one amount off by a cent, one date off, a malformed line) is reported exactly;
// statement sums equal the issued invoices' own totals, red invoices included; tenants never see each other's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { AppError } from '../../src/shared/errors.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import type { Tenant } from '../../src/modules/tenants/index.ts';
import type { Reconciliation } from '../../src/modules/reconciliation/storage/reconciliation-repository.ts';
import { parseRange } from '../../src/modules/reconciliation/domain/period.ts';
import { statementCsv } from '../../src/modules/reconciliation/http/present.ts';
import { pgTestUrl, type PgTestDatabase } from '../helpers/pg.ts';
import { OTHER_SELLER, SELLER, draft, useCases, type Kit } from './kit.ts';

const by = { actor: 'apikey:test' };
const code = (c: string) => (e: unknown) => e instanceof AppError && e.code === c;
const cents = (s: string) => BigInt(s.replace('.', ''));
const fmt = (c: bigint) => `${c < 0n ? '-' : ''}${(c < 0n ? -c : c) / 100n}.${String((c < 0n ? -c : c) % 100n).padStart(2, '0')}`;

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`statements and reconciliation (${engine})`, () => {
    let pg: PgTestDatabase | undefined;
    let skip: string | false = false;
    let k: Kit;
    let seller: Tenant;
    let stranger: Tenant;
    const issued: Invoice[] = [];

    async function issue(day: string, overrides: Parameters<typeof draft>[0] = {}): Promise<Invoice> {
      k.clock.set(`${day}T02:00:00.000Z`);
      const r = await k.app.services.invoices.issue(seller, draft(overrides), { replayStatus: 201 });
      const inv = JSON.parse(r.json) as Invoice;
      issued.push(inv);
      return inv;
    }

    async function finished(r: Reconciliation): Promise<Reconciliation> {
      for (let i = 0; i < 400; i++) {
        const now = await k.app.services.reconciliations.get(seller, r.id);
        if (now.status === 'done' || now.status === 'failed') return now;
        await new Promise((res) => setTimeout(res, 25));
      }
      throw new Error('the reconciliation did not finish');
    }

    before(async () => {
      if (engine === 'postgres') {
        pg = await pgTestUrl();
        if (!pg) {
          skip = 'PostgreSQL not reachable';
          return;
        }
      }
      k = await useCases(pg ? { FAPIAO_DATABASE_URL: pg.url } : {});
      seller = (await k.app.services.tenants.create(SELLER)).tenant;
      stranger = (await k.app.services.tenants.create(OTHER_SELLER)).tenant;
      // November 2026: six blue invoices (one 专票 with two rates), one fully red-flushed, one partly; October: one.
      await issue('2026-11-02', { externalId: 'ERP-A' });
      await issue('2026-11-03', { externalId: 'ERP-B', lines: [{ ...draft().lines[0]!, unitPrice: '250.00', amount: '250.00' }] });
      await issue('2026-11-05', { externalId: 'ERP-C' });
      await issue('2026-11-09', { externalId: 'ERP-D', type: 'special', lines: [draft().lines[0]!, { ...draft().lines[0]!, name: '咨询费', taxRate: '0.06', amount: '50.00', unitPrice: '50.00' }] });
      const e = await issue('2026-11-10', { externalId: 'ERP-E' });
      const f = await issue('2026-11-11', { externalId: 'ERP-F', lines: [{ ...draft().lines[0]!, quantity: '2', unitPrice: '100.00', amount: '200.00' }] });
      k.clock.set('2026-11-20T02:00:00.000Z');
      const full = await k.app.services.redLetter.file(seller, { invoiceNumber: e.number, reason: '01' }, { by });
      issued.push(await k.app.services.invoices.get(seller.id, full.form.redNumber!));
      const part = await k.app.services.redLetter.file(seller, { invoiceNumber: f.number, reason: '04', lines: [{ line: 1, amount: '50.00' }] }, { by });
      issued.push(await k.app.services.invoices.get(seller.id, part.form.redNumber!));
      await issue('2026-10-30', { externalId: 'ERP-OCT' });
    });
    after(async () => {
      await k?.close();
      await pg?.drop();
    });

    it('sums a month by type, status and rate, equal to the issued invoices incl. red ones', { skip }, async () => {
      const s = await k.app.services.statements.statement(seller, parseRange({ period: '2026-11' }));
      const nov = issued.filter((i) => i.issueDate.startsWith('2026-11'));
      assert.equal(nov.length, 8);
      const sum = (f: (i: Invoice) => string) => fmt(nov.reduce((a, i) => a + cents(f(i)), 0n));
      assert.deepEqual(s.totals, { count: 8, amount: sum((i) => i.totals.amount), tax: sum((i) => i.totals.tax), total: sum((i) => i.totals.total) });
      assert.deepEqual(s.totals, { count: 8, amount: '750.00', tax: '94.00', total: '844.00' });
      assert.deepEqual(s.byType.map((t) => [t.type, t.label, t.count, t.total]), [['special', '专票', 1, '166.00'], ['normal', '普票', 7, '678.00']]);
      assert.deepEqual(s.byStatus.map((c) => [c.type, c.category, c.count, c.amount]), [
        ['special', 'blue', 1, '150.00'],
        ['normal', 'blue', 3, '450.00'],
        ['normal', 'blue-red-flushed-partial', 1, '200.00'],
        ['normal', 'blue-red-flushed', 1, '100.00'],
        ['normal', 'red', 2, '-150.00'],
      ]);
      assert.deepEqual(s.byRate.map((r) => [r.type, r.kind, r.rate, r.count, r.lines, r.amount, r.tax]), [
        ['special', 'blue', '0.13', 1, 1, '100.00', '13.00'],
        ['special', 'blue', '0.06', 1, 1, '50.00', '3.00'],
        ['normal', 'blue', '0.13', 5, 5, '750.00', '97.50'],
        ['normal', 'red', '0.13', 2, 2, '-150.00', '-19.50'],
      ]);
      assert.deepEqual(s.quota, [{ period: '2026-11', quota: null, used: '750.00', remaining: null }]);
      assert.equal(s.quotaUsedInRange, '750.00');
      // A range of days: October's invoice alone.
      const oct = await k.app.services.statements.statement(seller, parseRange({ from: '2026-10-01', to: '2026-10-31' }));
      assert.deepEqual([oct.period, oct.totals.count, oct.totals.total], ['2026-10', 1, '113.00']);
      // Another tenant's statement of the same month is empty.
      const none = await k.app.services.statements.statement(stranger, parseRange({ period: '2026-11' }));
      assert.deepEqual(none.totals, { count: 0, amount: '0.00', tax: '0.00', total: '0.00' });
      // CSV: red amounts stay numbers.
      const csv = statementCsv(s).split('\r\n');
      assert.equal(csv[0], 'section,from,to,type,category,kind,rate,exemption,count,lines,amount,tax,total,quota,used');
      assert.ok(csv.includes('status,2026-11-01,2026-11-30,normal,red,red,,,2,,-150.00,-19.50,-169.50,,'), csv.join('\n'));
    });

    it('gives the monthly summary per rate, blue and red, with the ledger range; stable once the month is closed', { skip }, async () => {
      k.clock.set('2026-11-30T10:00:00.000Z');
      const open = await k.app.services.statements.monthly(seller, '2026-11');
      assert.equal(open.closed, false);
      assert.deepEqual(open.rates.map((r) => [r.type, r.rate, r.blue.count, r.blue.amount, r.red.count, r.red.amount, r.red.tax]), [
        ['special', '0.13', 1, '100.00', 0, '0.00', '0.00'],
        ['special', '0.06', 1, '50.00', 0, '0.00', '0.00'],
        ['normal', '0.13', 5, '750.00', 2, '-150.00', '-19.50'],
      ]);
      assert.deepEqual(open.totals.map((t) => [t.type, t.blue.count, t.blue.tax, t.red.count]), [['special', 1, '16.00', 0], ['normal', 5, '97.50', 2]]);
      const nov = issued.filter((i) => i.issueDate.startsWith('2026-11')).map((i) => i.ledger.index);
      assert.deepEqual([open.ledger.invoices, open.ledger.firstIndex, open.ledger.lastIndex], [8, Math.min(...nov), Math.max(...nov)]);
      k.clock.set('2026-12-03T01:00:00.000Z');
      const closed = await k.app.services.statements.monthly(seller, '2026-11');
      assert.equal(closed.closed, true);
      assert.equal(closed.digest, open.digest);
      await assert.rejects(k.app.services.statements.monthly(seller, '2026-13'), code('STATEMENT_PERIOD_INVALID'));
    });

    it('reports exactly the planted differences: missing both ways, a cent off, a date off, a malformed line', { skip }, async () => {
      const [a, b, c, , e, f, redE, redF] = issued;
      const lines = [
        'number,externalId,date,amount,tax,buyerTaxId',
        `${a!.number},,${a!.issueDate},100.00,13.00,91440300708461136T`,
        `,ERP-B,${b!.issueDate},250.01,32.50,`, // one cent off
        `${c!.number},,2026-11-06,100.00,13.00,`, // one day off
        // ERP-D (the 专票) is not in their list: missing on theirs
        `${e!.number},,${e!.issueDate},100,13,`,
        `"${f!.number}",,${f!.issueDate},200.00,26.00,`,
        `${redE!.number},,${redE!.issueDate},-100.00,-13.00,`,
        `${redF!.number},,${redF!.issueDate},-50.00,-6.50,`,
        '26319000000000099999,,2026-11-15,10.00,1.30,', // not ours: missing on our side
        `${a!.number},,2026-11-01,1,1,`, // a second row for A
        ',ERP-X,2026-11-15,abc,1.00,', // malformed
      ];
      const r = await k.app.services.reconciliations.upload(seller, Readable.from([Buffer.from(lines.join('\r\n'))]), { format: 'csv', range: parseRange({ period: '2026-11' }), by });
      assert.equal(r.status, 'queued');
      const done = await finished(r);
      assert.equal(done.status, 'done');
      assert.deepEqual(done.totals, {
        rows: 10, matched: 5, mismatch: 2, amountMismatch: 1, taxMismatch: 0, dateMismatch: 1, buyerMismatch: 0,
        missingOurs: 1, missingTheirs: 1, duplicate: 1, malformed: 1,
      });
      const all = await k.app.services.reconciliations.results(seller, r.id, { limit: 100 });
      assert.deepEqual(all.items.map((i) => [i.lineNo, i.outcome]), [
        [2, 'matched'], [3, 'mismatch'], [4, 'mismatch'], [5, 'matched'], [6, 'matched'], [7, 'matched'], [8, 'matched'],
        [9, 'missing-ours'], [10, 'duplicate'], [11, 'malformed'], [null, 'missing-theirs'],
      ]);
      assert.equal(all.items[1]!.differs.amount, true);
      assert.deepEqual([all.items[1]!.theirs.amountCents, all.items[1]!.ours.amountCents], [25001, 25000]);
      assert.deepEqual([all.items[2]!.differs.date, all.items[2]!.ours.date], [true, c!.issueDate]);
      assert.deepEqual([all.items[9]!.error !== null, all.items[9]!.errorField], [true, 'amount']);
      assert.equal(all.items[10]!.ours.number, issued[3]!.number);
      // Filters and paging.
      const dates = await k.app.services.reconciliations.results(seller, r.id, { filter: 'date-mismatch' });
      assert.deepEqual(dates.items.map((i) => i.lineNo), [4]);
      const p1 = await k.app.services.reconciliations.results(seller, r.id, { limit: 4 });
      const p2 = await k.app.services.reconciliations.results(seller, r.id, { limit: 4, cursor: p1.next! });
      assert.deepEqual(p2.items.map((i) => i.lineNo), [6, 7, 8, 9]);
      await assert.rejects(k.app.services.reconciliations.results(seller, r.id, { cursor: 'abc' }), code('CURSOR_INVALID'));
      // Another tenant sees nothing of it.
      await assert.rejects(k.app.services.reconciliations.get(stranger, r.id), code('RECONCILIATION_NOT_FOUND'));
      await assert.rejects(k.app.services.reconciliations.results(stranger, r.id, {}), code('RECONCILIATION_NOT_FOUND'));
      // The upload is audited.
      const audit = await k.app.services.audit.search({ action: 'reconciliation.upload', limit: 10 });
      assert.ok(audit.some((a) => a.target === r.id && a.outcome === 'success'));
    });

    it('reads JSON Lines, and without a period matches against the range of the rows\' dates', { skip }, async () => {
      const [a, b] = issued;
      const body = [
        JSON.stringify({ number: a!.number, date: a!.issueDate, amount: '100.00', tax: '13.00' }),
        JSON.stringify({ externalId: 'ERP-B', date: b!.issueDate, amount: 250, tax: 32.5 }),
        '{"number": 1}',
        'not json',
        '',
      ].join('\n');
      const r = await finished(await k.app.services.reconciliations.upload(seller, Readable.from([body]), { format: 'jsonl', by }));
      assert.deepEqual(r.range, { from: a!.issueDate, to: b!.issueDate });
      assert.deepEqual([r.totals!.matched, r.totals!.malformed, r.totals!.missingTheirs], [2, 2, 0]);
    });

    it('refuses an upload it cannot read, with the reason, and keeps no half-run', { skip }, async () => {
      await assert.rejects(k.app.services.reconciliations.upload(seller, Readable.from(['date,amount\n1,2\n']), { format: 'csv', by }), code('RECONCILIATION_UPLOAD_INVALID'));
      await assert.rejects(k.app.services.reconciliations.upload(seller, Readable.from(['']), { format: 'jsonl', by }), code('RECONCILIATION_UPLOAD_INVALID'));
      assert.throws(() => parseRange({ from: '2026-11-30', to: '2026-11-01' }), code('STATEMENT_PERIOD_INVALID'));
      assert.throws(() => parseRange({ from: '2026-02-30', to: '2026-03-01' }), code('STATEMENT_PERIOD_INVALID'));
      assert.throws(() => parseRange({ period: '2026-11', from: '2026-11-01' }), code('STATEMENT_PERIOD_INVALID'));
    });
  });
}
