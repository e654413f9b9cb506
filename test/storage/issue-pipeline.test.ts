// The issue writer signs the next batch while the previous one commits (modules/invoicing/app/issue-writer.ts, "head
// start"): batch B is numbered from where batch A will end and sent to the signer before A's transaction runs. These
// cases hold A's signatures back until B is queued, then let A commit, fail, or lose a request, on both engines, and
// check that B's invoices carry numbers that continue the series with no gap and signatures that verify over those
// numbers, and that B's early signatures are used only when A committed whole.
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
import { checkInvoice } from '../../src/modules/invoicing/app/seal.ts';
import { chinaYear } from '../../src/shared/china-time.ts';
import { AppError } from '../../src/shared/errors.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import type { IssuedInvoice } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { unitOfWork, type Repositories } from '../../src/repositories.ts';
import { fixedClock, insertTenants, withMethods, wrappedUnitOfWork } from '../helpers/uow-c.ts';

const TENANT = { id: 't-pipe', name: '上海甲科技有限公司', taxId: '91310000775785552L', regionCode: '32', channel: '0' };

function draft(amount: string): InvoiceDraft {
  const input = {
    type: 'normal' as const,
    buyer: { name: '杭州买方贸易有限公司' },
    lines: [{ name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', amount, taxRate: '0.13' }],
    issuer: '张三',
  };
  const { lines, totals } = computeInvoice(input);
  return { type: 'normal', kind: 'blue', seller: { name: TENANT.name, taxId: TENANT.taxId }, buyer: input.buyer, lines, priceIncludesTax: false, totals, issuer: '张三' };
}

const request = (amount: string, key?: string): WriteRequest => ({
  tenantId: TENANT.id, regionCode: TENANT.regionCode, channel: TENANT.channel, draft: draft(amount),
  ...(key ? { idempotency: { key, requestHash: 'h', statusCode: 201 } } : {}),
});

const seqOf = (inv: Invoice) => Number(inv.number.slice(5));
const tick = () => new Promise((r) => setImmediate(r));

for (const fixture of await storageEngines()) {
  describe(`the next batch is signed while the previous one commits: ${fixture.engine}`, { skip: fixture.skip }, () => {
    let storage: StorageEngine;
    let uow: UnitOfWork<Repositories>;
    const key = generateSm2KeyPair();
    const sm2 = createSm2Signer(key.privateKey, key.publicKey);
    const clock = fixedClock('2026-06-15T04:00:00Z');
    const series = seriesKey(chinaYear(clock.now()), TENANT.regionCode, 0);

    before(async () => {
      storage = fixture.open();
      await storage.migrate();
      uow = unitOfWork(storage);
      await insertTenants(uow, clock.now(), [TENANT]);
    });
    after(async () => {
      await storage?.close();
      await fixture.cleanup();
    });

    /**
     * A signer whose first call waits until `release()`; every call's messages are kept (the signed message starts
     * with the QR fields, the invoice number among them), with how many invoices were committed when it was made.
     */
    function heldSigner() {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const calls: { messages: string[] }[] = [];
      let first = true;
      const signer: BatchSigner = {
        keyId: 'k-test',
        publicKey: key.publicKey,
        async sign(messages) {
          calls.push({ messages: messages.map((m) => new TextDecoder().decode(m)) });
          if (first) {
            first = false;
            await held;
          }
          return messages.map((m) => sm2.sign(m));
        },
      };
      return { signer, calls, release };
    }

    /**
     * Queues batch A (3 requests, `aKeys` their idempotency keys), waits until its signing started, queues batch B
     * (4 requests) behind it, then lets A's signatures through. Answers both batches' outcomes.
     */
    async function twoBatches(w: IssueWriter, s: ReturnType<typeof heldSigner>, aKeys: (string | undefined)[] = []) {
      const a = [0, 1, 2].map((i) => w.write(request(`${101 + i}.00`, aKeys[i])));
      while (s.calls.length === 0) await tick();
      const b = [0, 1, 2, 3].map((i) => w.write(request(`${201 + i}.00`)));
      await tick();
      assert.equal(s.calls.length, 1, 'B waits for its turn while A is signed');
      s.release();
      return { a: await Promise.allSettled(a), b: await Promise.allSettled(b) };
    }

    function fulfilled(results: PromiseSettledResult<IssuedInvoice>[]): Invoice[] {
      return results.map((r) => {
        if (r.status === 'rejected') assert.fail(String(r.reason));
        return r.value.invoice;
      });
    }

    /** Every invoice as stored verifies (hash, signature over its number, QR), and the stored rows are the answers. */
    async function assertSealed(invoices: Invoice[]) {
      for (const inv of invoices) {
        const stored = await uow.read.invoices.get(TENANT.id, inv.number);
        assert.ok(stored, `${inv.number} is stored`);
        assert.deepEqual(checkInvoice(stored, key.publicKey), { hashValid: true, signatureValid: true, qrValid: true }, inv.number);
        assert.equal(stored.signature.value, inv.signature.value);
      }
    }

    it('B is signed before A commits and keeps those signatures when A commits whole', async () => {
      const seq0 = await uow.read.series.nextSeq(series);
      const s = heldSigner();
      let signCallsAtAInsert: number | undefined;
      const spy = (tx: Repositories): Repositories => ({
        ...tx,
        invoices: withMethods(tx.invoices, {
          insert: (rows) => {
            signCallsAtAInsert ??= s.calls.length;
            return tx.invoices.insert(rows);
          },
        }),
      });
      const w = new IssueWriter({ uow: wrappedUnitOfWork(storage, spy), quotas: uow.read.quotaUsage, signer: s.signer, clock, verifyUrl: () => 'https://fapiao.example/verify', batchMax: 64 });
      const { a, b } = await twoBatches(w, s);
      const issuedA = fulfilled(a);
      const issuedB = fulfilled(b);
      assert.equal(signCallsAtAInsert, 2, 'B went to the signer before A wrote its rows');
      assert.equal(s.calls.length, 2, 'B was not signed again');
      assert.deepEqual(issuedA.map(seqOf), [seq0, seq0 + 1, seq0 + 2]);
      assert.deepEqual(issuedB.map(seqOf), [seq0 + 3, seq0 + 4, seq0 + 5, seq0 + 6], 'B continues where A ended');
      assert.equal(await uow.read.series.nextSeq(series), seq0 + 7);
      await assertSealed([...issuedA, ...issuedB]);
    });

    it('A fails at commit: B, signed ahead with the numbers after A, is numbered and signed again from where A began', async () => {
      const seq0 = await uow.read.series.nextSeq(series);
      const rows0 = await countRows(storage, 'invoices');
      const s = heldSigner();
      let failed = false;
      // A's transaction fails as the database failing at that moment would: everyone's refusal, not split.
      const failOnce = (tx: Repositories): Repositories => ({
        ...tx,
        invoices: withMethods(tx.invoices, {
          insert: (rows) => {
            if (failed) return tx.invoices.insert(rows);
            failed = true;
            return Promise.reject(new AppError('STORAGE_UNAVAILABLE', { detail: 'injected' }));
          },
        }),
      });
      const w = new IssueWriter({ uow: wrappedUnitOfWork(storage, failOnce), quotas: uow.read.quotaUsage, signer: s.signer, clock, verifyUrl: () => 'https://fapiao.example/verify', batchMax: 64 });
      const { a, b } = await twoBatches(w, s);
      for (const r of a) {
        assert.equal(r.status, 'rejected');
        assert.equal((r.reason as AppError).code, 'STORAGE_UNAVAILABLE');
      }
      assert.equal(s.calls.length, 3, 'B was signed ahead, then again with its real numbers');
      const numberAt = (n: number) => `${series}${String(n).padStart(15, '0')}`;
      assert.ok(s.calls[1]!.messages[0]!.includes(`,${numberAt(seq0 + 3)},`), 'the head start numbered B after A');
      assert.ok(s.calls[2]!.messages[0]!.includes(`,${numberAt(seq0)},`), 'then B was numbered from where A began');
      const issuedB = fulfilled(b);
      assert.deepEqual(issuedB.map(seqOf), [seq0, seq0 + 1, seq0 + 2, seq0 + 3], 'B takes the numbers A did not keep: no gap');
      assert.equal(await uow.read.series.nextSeq(series), seq0 + 4);
      assert.equal(await countRows(storage, 'invoices'), rows0 + 4);
      await assertSealed(issuedB);
    });

    it('A loses one request at commit: B is renumbered to follow the two A kept', async () => {
      const seq0 = await uow.read.series.nextSeq(series);
      const s = heldSigner();
      const failingRow = (tx: Repositories): Repositories => ({
        ...tx,
        idempotency: withMethods(tx.idempotency, {
          rowFor: (record, dataKey) => {
            if (record.key === 'pipe-render-fails') throw new Error('render failed');
            return tx.idempotency.rowFor(record, dataKey);
          },
        }),
      });
      const w = new IssueWriter({ uow: wrappedUnitOfWork(storage, failingRow), quotas: uow.read.quotaUsage, signer: s.signer, clock, verifyUrl: () => 'https://fapiao.example/verify', batchMax: 64 });
      const { a, b } = await twoBatches(w, s, [undefined, 'pipe-render-fails', undefined]);
      assert.equal(a[1]!.status, 'rejected');
      const issuedA = fulfilled([a[0]!, a[2]!]);
      const issuedB = fulfilled(b);
      assert.deepEqual(issuedA.map(seqOf), [seq0, seq0 + 1]);
      assert.deepEqual(issuedB.map(seqOf), [seq0 + 2, seq0 + 3, seq0 + 4, seq0 + 5]);
      assert.equal(await uow.read.series.nextSeq(series), seq0 + 6);
      await assertSealed([...issuedA, ...issuedB]);
    });

    it('the wait limit counts a batch being signed: behind it, a new request is refused while it is too old', async () => {
      const s = heldSigner();
      const shed: number[] = [];
      const w = new IssueWriter({
        uow, quotas: uow.read.quotaUsage, signer: s.signer, clock, verifyUrl: () => 'https://fapiao.example/verify', batchMax: 64,
        maxQueueWaitMs: 30, onShed: () => shed.push(1),
      });
      const a = w.write(request('301.00'));
      while (s.calls.length === 0) await tick();
      assert.equal(w.waiting, 0, 'A left the queue for the signer');
      await new Promise((r) => setTimeout(r, 60));
      // Nothing queued behind the held batch: one batch held up on its own is not overload.
      const b = w.write(request('302.00'));
      assert.equal(w.waiting, 1);
      // Behind a backlog, the held batch's age counts though the queue's own head is new.
      await assert.rejects(w.write(request('303.00')), (err: unknown) => {
        assert.ok(err instanceof AppError && err.code === 'SERVICE_UNAVAILABLE' && err.shed, String(err));
        assert.match(err.detail ?? '', /^the issuing queue is behind \(its oldest request has waited \d+ ms\); retry shortly$/);
        assert.equal(err.headers?.['retry-after'], '1');
        return true;
      });
      assert.equal(shed.length, 1);
      // A batch item was accepted with its batch: never refused by the front door's limits.
      const item = w.write({ ...request('304.00'), admitted: true });
      s.release();
      const [issuedA, issuedB, issuedItem] = await Promise.all([a, b, item]);
      assert.deepEqual([issuedB, issuedItem].map((i) => seqOf(i.invoice)), [seqOf(issuedA.invoice) + 1, seqOf(issuedA.invoice) + 2]);
      // Nothing in the writer any more: the next request is admitted.
      const next = await w.write(request('305.00'));
      assert.equal(seqOf(next.invoice), seqOf(issuedItem.invoice) + 1);
      await assertSealed([issuedA.invoice, issuedB.invoice, issuedItem.invoice, next.invoice]);
    });
  });
}
