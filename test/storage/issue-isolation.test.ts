// All tenants of a region share one issuing batch (modules/invoicing/app/issue-writer.ts), so a failure caused by one request must
// fail that request alone: the others of the batch commit, with consecutive numbers and no number taken by the one
// that failed. Each case injects one failure into one item of a five-item batch of two tenants, on both engines.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { storageEngines, countRows } from '../helpers/storage-engines.ts';
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import type { UnitOfWork } from '../../src/platform/storage/unit-of-work.ts';
import { IssueWriter, type InvoiceDraft, type WriteRequest } from '../../src/modules/invoicing/app/issue-writer.ts';
import type { BatchSigner } from '../../src/shared/clock.ts';
import { computeInvoice } from '../../src/modules/invoicing/domain/tax.ts';
import { generateSm2KeyPair } from '../../src/platform/crypto/sm2.ts';
import { createSm2Signer } from '../../src/platform/crypto/sm2-signer.ts';
import { seriesKey } from '../../src/modules/invoicing/domain/invoice-number.ts';
import { chinaYear } from '../../src/shared/china-time.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import type { IssuedInvoice } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { unitOfWork, type Repositories } from '../../src/repositories.ts';
import { fixedClock, insertTenants, withMethods, wrappedUnitOfWork } from '../helpers/uow-c.ts';

const TENANTS = [
  { id: 't-a', name: '上海甲科技有限公司', taxId: '91310000775785552L', regionCode: '31', channel: '0' },
  { id: 't-b', name: '上海乙贸易有限公司', taxId: '91110000600037341L', regionCode: '31', channel: '0' },
];
const POISON = '毒丸商品';

function draft(tenant: (typeof TENANTS)[number], itemName = '软件开发费', amount = '100.00'): InvoiceDraft {
  const input = {
    type: 'normal' as const,
    buyer: { name: '杭州买方贸易有限公司' },
    lines: [{ name: itemName, taxCode: '3040201000000000000', shortName: '信息技术服务', amount, taxRate: '0.13' }],
    issuer: '张三',
  };
  const { lines, totals } = computeInvoice(input);
  return {
    type: 'normal', kind: 'blue', seller: { name: tenant.name, taxId: tenant.taxId }, buyer: input.buyer,
    lines, priceIncludesTax: false, totals, issuer: '张三',
  };
}

function request(i: number, patch: (r: WriteRequest) => WriteRequest = (r) => r): WriteRequest {
  const tenant = TENANTS[i % 2]!;
  return patch({ tenantId: tenant.id, regionCode: tenant.regionCode, channel: tenant.channel, draft: draft(tenant) });
}

const seqOf = (inv: Invoice) => Number(inv.number.slice(5));

for (const fixture of await storageEngines()) {
  describe(`one failing item fails only its own request: ${fixture.engine}`, { skip: fixture.skip }, () => {
    let storage: StorageEngine;
    let uow: UnitOfWork<Repositories>;
    const key = generateSm2KeyPair();
    const sm2 = createSm2Signer(key.privateKey, key.publicKey);
    const signer: BatchSigner = { keyId: 'k-test', publicKey: key.publicKey, sign: (m) => Promise.resolve(m.map((x) => sm2.sign(x))) };
    // The writer's clock gives the issue time, and so the year of the series.
    const clock = fixedClock('2026-06-15T04:00:00Z');
    const series = seriesKey(chinaYear(clock.now()), '31', 0);

    before(async () => {
      storage = fixture.open();
      await storage.migrate();
      uow = unitOfWork(storage);
      await insertTenants(uow, clock.now(), TENANTS);
    });
    after(async () => {
      await storage?.close();
      await fixture.cleanup();
    });

    /** A writer over the real storage; `wrap` injects a fault into the repositories of its issuing transactions. */
    function writer(deps: { wrap?: (tx: Repositories) => Repositories; signer?: BatchSigner } = {}): IssueWriter {
      return new IssueWriter({
        uow: deps.wrap ? wrappedUnitOfWork(storage, deps.wrap) : uow, quotas: uow.read.quotaUsage, signer: deps.signer ?? signer, clock,
        verifyUrl: () => 'https://fapiao.example/verify', batchMax: 64,
      });
    }

    /** Writes five requests in one tick (one batch); request `culprit` carries the fault. */
    async function batchWithCulprit(w: IssueWriter, culprit: number, patch: (r: WriteRequest) => WriteRequest) {
      const rowsBefore = await countRows(storage, 'invoices');
      const seqBefore = await uow.read.series.nextSeq(series);
      const settled = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => w.write(request(i, i === culprit ? patch : undefined))));
      const culpritResult = settled[culprit]!;
      assert.equal(culpritResult.status, 'rejected', 'the faulty request fails');
      const others = settled.filter((_, i) => i !== culprit);
      for (const s of others) assert.equal(s.status, 'fulfilled', s.status === 'rejected' ? String(s.reason) : '');
      const answered = others.map((s) => (s as PromiseFulfilledResult<IssuedInvoice>).value);
      for (const a of answered) assert.equal(a.json, JSON.stringify(a.invoice), 'each answer is its invoice as committed');
      const issued = answered.map((a) => a.invoice);
      const seqs = issued.map(seqOf).sort((a, b) => a - b);
      assert.deepEqual(seqs, [0, 1, 2, 3].map((k) => seqBefore + k), 'the others take consecutive numbers; the culprit takes none');
      assert.equal(await uow.read.series.nextSeq(series), seqBefore + 4);
      assert.equal(await countRows(storage, 'invoices'), rowsBefore + 4);
      assert.deepEqual(new Set(issued.map((inv) => inv.seller.taxId)), new Set(TENANTS.map((t) => t.taxId)), 'both tenants issued');
      const reason: unknown = culpritResult.reason;
      return reason;
    }

    it('a stored response whose row cannot be built', async () => {
      // The idempotency record (the response as answered) is built for its row inside the issuing transaction, before
      // the first insert; building the culprit's fails there (as its encryption could), which rolls the attempt back.
      const failingRow = (tx: Repositories): Repositories => ({
        ...tx,
        idempotency: withMethods(tx.idempotency, {
          rowFor: (record, dataKey) => {
            if (record.key === 'render-fails') throw new Error('render failed');
            return tx.idempotency.rowFor(record, dataKey);
          },
        }),
      });
      const reason = await batchWithCulprit(writer({ wrap: failingRow }), 2, (r) => ({
        ...r,
        idempotency: { key: 'render-fails', requestHash: 'h', statusCode: 201 },
      }));
      assert.match(String(reason), /render failed/, 'the culprit gets its own error');
      assert.equal(await uow.read.idempotency.get(TENANTS[0]!.id, 'render-fails'), undefined, 'nothing of it was stored');
    });

    it('a text that cannot be canonicalised (a lone surrogate)', async () => {
      const reason = await batchWithCulprit(writer(), 1, (r) => ({ ...r, draft: { ...r.draft, buyer: { name: 'a\ud800b' } } }));
      assert.match(String(reason), /lone surrogate/);
    });

    it('an insert the database refuses for one item', async () => {
      // An insert that refuses any rows containing the poisoned item, as a database refuses a row it cannot store: the
      // whole transaction (series move, ledger, outbox) rolls back with it.
      const refusing = (tx: Repositories): Repositories => ({
        ...tx,
        invoices: withMethods(tx.invoices, {
          insert: (rows) => rows.some((r) => r.invoice.lines.some((l) => l.name.includes(POISON)))
            ? Promise.reject(new Error('insert refused'))
            : tx.invoices.insert(rows),
        }),
      });
      const reason = await batchWithCulprit(writer({ wrap: refusing }), 3, (r) => ({ ...r, draft: draft(TENANTS[1]!, POISON) }));
      assert.match(String(reason), /insert refused/);
    });

    it('a signature that cannot be computed for one item', async () => {
      // The signed message starts with the QR fields, total included: the culprit has a total no other item has.
      const failing: BatchSigner = {
        ...signer,
        sign: (messages) => messages.some((m) => new TextDecoder().decode(m).includes(',878.01,'))
          ? Promise.reject(new Error('signer failed'))
          : signer.sign(messages),
      };
      const reason = await batchWithCulprit(writer({ signer: failing }), 4, (r) => ({ ...r, draft: draft(TENANTS[0]!, '软件开发费', '777.00') }));
      assert.equal((reason as { code?: string }).code, 'SIGNING_KEY_UNAVAILABLE', 'a 503: the request may be retried');
    });

    it('a signature that cannot be used for one item (found after numbering)', async () => {
      // The signer answers the culprit with a malformed DER signature: it fails when its QR code is built, after the
      // batch was numbered; the others are numbered again without it.
      const malformed: BatchSigner = {
        ...signer,
        sign: async (messages) => (await signer.sign(messages)).map((der, i) =>
          new TextDecoder().decode(messages[i]).includes(',991.01,') ? new Uint8Array([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x02, 0x01]) : der),
      };
      const reason = await batchWithCulprit(writer({ signer: malformed }), 1, (r) => ({ ...r, draft: draft(TENANTS[1]!, '软件开发费', '877.00') }));
      assert.ok(reason instanceof TypeError, String(reason));
    });

    it('a line name with NUL that PostgreSQL cannot store', { skip: fixture.engine !== 'postgres' && 'SQLite stores NUL' }, async () => {
      // Past validation (which now refuses it), as a caller of the writer that skipped it would send it.
      const withNul = (d: InvoiceDraft): InvoiceDraft => ({ ...d, lines: d.lines.map((l) => ({ ...l, name: '*信息技术服务*x\u0000y' })) });
      await batchWithCulprit(writer(), 0, (r) => ({ ...r, draft: withNul(r.draft) }));
    });
  });
}
