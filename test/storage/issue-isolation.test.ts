// All tenants of a region share one issuing batch (modules/invoicing/app/issue-writer.ts), so a failure caused by one request must
// fail that request alone: the others of the batch commit, with consecutive numbers and no number taken by the one
// that failed. Each case injects one failure into one item of a five-item batch of two tenants, on both engines.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { storageEngines, countRows } from '../helpers/storage-engines.ts';
import type { KyselyStorage } from '../../src/platform/storage/kysely-storage.ts';
import { IssueWriter, type InvoiceDraft, type WriteRequest } from '../../src/modules/invoicing/app/issue-writer.ts';
import { systemClock, type BatchSigner } from '../../src/shared/clock.ts';
import { computeInvoice } from '../../src/modules/invoicing/domain/tax.ts';
import { generateSm2KeyPair } from '../../src/platform/crypto/sm2.ts';
import { createSm2Signer } from '../../src/platform/crypto/sm2-signer.ts';
import { seriesKey } from '../../src/modules/invoicing/domain/invoice-number.ts';
import { chinaYear } from '../../src/shared/china-time.ts';
import type { Invoice } from '../../src/modules/invoicing/domain/invoice.ts';
import type { InvoiceRepository } from '../../src/platform/storage/storage.ts';

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
  return patch({ tenantId: tenant.id, regionCode: tenant.regionCode, channel: tenant.channel, draft: draft(tenant), render: (inv) => JSON.stringify(inv) });
}

const seqOf = (inv: Invoice) => Number(inv.number.slice(5));

for (const fixture of await storageEngines()) {
  describe(`one failing item fails only its own request: ${fixture.engine}`, { skip: fixture.skip }, () => {
    let storage: KyselyStorage;
    const key = generateSm2KeyPair();
    const sm2 = createSm2Signer(key.privateKey, key.publicKey);
    const signer: BatchSigner = { keyId: 'k-test', publicKey: key.publicKey, sign: (m) => Promise.resolve(m.map((x) => sm2.sign(x))) };
    const series = seriesKey(chinaYear(new Date()), '31', 0);

    before(async () => {
      storage = fixture.open();
      await storage.migrate();
      for (const t of TENANTS) await storage.tenants.create(t);
    });
    after(async () => {
      await storage?.close();
      await fixture.cleanup();
    });

    function writer(deps: { invoices?: InvoiceRepository; signer?: BatchSigner } = {}): IssueWriter {
      return new IssueWriter({
        invoices: deps.invoices ?? storage.invoices, quotas: storage.tenants, signer: deps.signer ?? signer, clock: systemClock,
        verifyUrl: () => 'https://fapiao.example/verify', batchMax: 64,
      });
    }

    /** Writes five requests in one tick (one batch); request `culprit` carries the fault. */
    async function batchWithCulprit(w: IssueWriter, culprit: number, patch: (r: WriteRequest) => WriteRequest) {
      const rowsBefore = await countRows(storage, 'invoices');
      const seqBefore = await storage.invoices.nextSeq(series);
      const settled = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => w.write(request(i, i === culprit ? patch : undefined))));
      const culpritResult = settled[culprit]!;
      assert.equal(culpritResult.status, 'rejected', 'the faulty request fails');
      const others = settled.filter((_, i) => i !== culprit);
      for (const s of others) assert.equal(s.status, 'fulfilled', s.status === 'rejected' ? String(s.reason) : '');
      const issued = others.map((s) => (s as PromiseFulfilledResult<Invoice>).value);
      const seqs = issued.map(seqOf).sort((a, b) => a - b);
      assert.deepEqual(seqs, [0, 1, 2, 3].map((k) => seqBefore + k), 'the others take consecutive numbers; the culprit takes none');
      assert.equal(await storage.invoices.nextSeq(series), seqBefore + 4);
      assert.equal(await countRows(storage, 'invoices'), rowsBefore + 4);
      assert.deepEqual(new Set(issued.map((inv) => inv.seller.taxId)), new Set(TENANTS.map((t) => t.taxId)), 'both tenants issued');
      const reason: unknown = culpritResult.reason;
      return reason;
    }

    it('a response that cannot be rendered', async () => {
      const reason = await batchWithCulprit(writer(), 2, (r) => ({
        ...r,
        // The response is rendered for the idempotency record, inside the issuing transaction.
        idempotency: { key: 'render-fails', requestHash: 'h' },
        render: () => { throw new Error('render failed'); },
      }));
      assert.match(String(reason), /render failed/, 'the culprit gets its own error');
    });

    it('a text that cannot be canonicalised (a lone surrogate)', async () => {
      const reason = await batchWithCulprit(writer(), 1, (r) => ({ ...r, draft: { ...r.draft, buyer: { name: 'a\ud800b' } } }));
      assert.match(String(reason), /lone surrogate/);
    });

    it('an insert the database refuses for one item', async () => {
      // Storage that refuses any batch containing the poisoned item, as a database refuses a row it cannot store.
      const refusing: InvoiceRepository = Object.create(storage.invoices) as InvoiceRepository;
      refusing.commitIssueBatch = (batch) => {
        if (batch.items.some((i) => i.invoice.lines.some((l) => l.name.includes(POISON)))) {
          return Promise.reject(new Error('insert refused'));
        }
        return storage.invoices.commitIssueBatch(batch);
      };
      await batchWithCulprit(writer({ invoices: refusing }), 3, (r) => ({ ...r, draft: draft(TENANTS[1]!, POISON) }));
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

    it('a line name with NUL that PostgreSQL cannot store', { skip: fixture.engine !== 'postgres' && 'SQLite stores NUL' }, async () => {
      // Past validation (which now refuses it), as a caller of the writer that skipped it would send it.
      const withNul = (d: InvoiceDraft): InvoiceDraft => ({ ...d, lines: d.lines.map((l) => ({ ...l, name: '*信息技术服务*x\u0000y' })) });
      await batchWithCulprit(writer(), 0, (r) => ({ ...r, draft: withNul(r.draft) }));
    });
  });
}
