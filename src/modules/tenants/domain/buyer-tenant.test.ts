import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buyerTenantAmong, receivesFrom, type TaxIdHolder } from './buyer-tenant.ts';

const h = (id: string, createdAt: string): TaxIdHolder => ({ id, taxId: '91440300708461136T', createdAt });
const a = h('a', '2026-01-01T00:00:00.000Z');
const b = h('b', '2026-02-01T00:00:00.000Z');
const c = h('c', '2026-03-01T00:00:00.000Z');

describe('the buyer tenant of an invoice', () => {
  it('is the earliest created holder of the buyer tax ID other than the seller', () => {
    assert.equal(buyerTenantAmong([c, b, a], 'seller'), 'a');
    assert.equal(buyerTenantAmong([c, b, a], 'a'), 'b');
    assert.equal(buyerTenantAmong([a], 'a'), undefined);
    assert.equal(buyerTenantAmong([], 'x'), undefined);
    // Same creation time: by id.
    assert.equal(buyerTenantAmong([h('y', a.createdAt), h('x', a.createdAt)], 'z'), 'x');
  });

  it('receivesFrom agrees with buyerTenantAmong for every seller', () => {
    const holders = [c, a, b];
    for (const seller of ['a', 'b', 'c', 'other']) {
      const buyer = buyerTenantAmong(holders, seller);
      for (const t of ['a', 'b', 'c']) {
        const from = receivesFrom(holders, t);
        const receives = from !== undefined && ('onlySeller' in from ? from.onlySeller === seller : from.allSellersExcept !== seller);
        assert.equal(receives, buyer === t, `seller ${seller}, tenant ${t}`);
      }
    }
  });
});
