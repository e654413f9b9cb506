import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { centsToMoney, fitsQuota, periodOfIssueDate, quotaCharge, quotaPeriod, remainingCents } from './issuing-quota.ts';

void describe('issuing quota', () => {
  void it('counts by the natural month in China Standard Time, not UTC', () => {
    assert.equal(quotaPeriod(new Date('2026-11-30T15:59:59.999Z')), '2026-11');
    assert.equal(quotaPeriod(new Date('2026-11-30T16:00:00.000Z')), '2026-12', '00:00 on 1 December in Shanghai');
    assert.equal(quotaPeriod(new Date('2026-12-31T16:00:00.000Z')), '2027-01');
    assert.equal(periodOfIssueDate('2026-12-01'), '2026-12');
  });

  void it('charges the amount excluding VAT in exact cents', () => {
    assert.equal(quotaCharge('600.00'), 60000n);
    assert.equal(quotaCharge('0.1'), 10n);
    assert.equal(quotaCharge('999999999999.99'), 99999999999999n);
    assert.equal(quotaCharge('-100.00'), -10000n, 'a red-letter amount gives quota back');
    assert.equal(centsToMoney(100000n), '1000.00');
    assert.equal(centsToMoney(5n), '0.05');
    assert.equal(centsToMoney(0n), '0.00');
  });

  void it('admits up to exactly the limit, never beyond', () => {
    const s = { quotaCents: 100000n, usedCents: 60000n };
    assert.equal(fitsQuota(s, 0n, 40000n), true, 'exactly at the limit');
    assert.equal(fitsQuota(s, 0n, 40001n), false);
    assert.equal(fitsQuota(s, 1n, 40000n), false, 'pending charges of the same batch count');
    assert.equal(fitsQuota({ quotaCents: null, usedCents: 10n ** 15n }, 0n, 1n), true, 'unlimited');
    assert.equal(fitsQuota({ quotaCents: 0n, usedCents: 500n }, 0n, -100n), true, 'giving back always fits');
    assert.equal(remainingCents(s), 40000n);
    assert.equal(remainingCents({ quotaCents: 100n, usedCents: 500n }), 0n, 'a lowered quota leaves nothing, not a negative');
    assert.equal(remainingCents({ quotaCents: null, usedCents: 0n }), null);
  });
});
