// Every move of a confirmation form, allowed and refused, by every actor from every state.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AppError } from '../../../shared/errors.ts';
import {
  FINAL_STATES, FORM_STATES, expiryOf, initialState, isExpired, nextState, target,
  type Actor, type FormAction, type FormFacts, type FormState, type Party,
} from './form-states.ts';

const ACTIONS: FormAction[] = ['file', 'confirm', 'reject', 'revoke', 'expire'];
const ACTORS: Actor[] = ['seller', 'buyer', 'system'];
const FILED = new Date('2026-11-24T06:00:00.000Z');

/** The allowed moves, written out by hand: [state, filedBy, redIssued, action, actor] → target. */
const ALLOWED: [FormState, Party, boolean, FormAction, Actor, FormState][] = [
  ['02', 'seller', false, 'confirm', 'buyer', '04'],
  ['02', 'seller', false, 'reject', 'buyer', '05'],
  ['02', 'seller', false, 'revoke', 'seller', '08'],
  ['02', 'seller', false, 'expire', 'system', '07'],
  ['03', 'buyer', false, 'confirm', 'seller', '04'],
  ['03', 'buyer', false, 'reject', 'seller', '06'],
  ['03', 'buyer', false, 'revoke', 'buyer', '08'],
  ['03', 'buyer', false, 'expire', 'system', '07'],
  ['04', 'seller', false, 'revoke', 'seller', '09'],
  ['04', 'buyer', false, 'revoke', 'buyer', '09'],
  ['01', 'seller', false, 'revoke', 'seller', '08'],
];

function facts(state: FormState, filedBy: Party, redIssued: boolean): FormFacts {
  return { state, filedBy, redIssued, ...(state === '02' || state === '03' ? { expiresAt: expiryOf(FILED) } : {}) };
}

describe('confirmation form states', () => {
  it('allows exactly the listed moves (every state × filer × red × action × actor)', () => {
    let allowed = 0;
    // A red invoice exists only for forms in 01 or 04.
    for (const state of FORM_STATES) for (const filedBy of ['seller', 'buyer'] as Party[]) {
      // 01 and 02 are filed by the seller, 03 by the buyer: other combinations do not exist.
      if ((state === '01' || state === '02') && filedBy === 'buyer') continue;
      if (state === '03' && filedBy === 'seller') continue;
      for (const red of state === '01' || state === '04' ? [false, true] : [false]) for (const action of ACTIONS) for (const actor of ACTORS) {
        const expected = ALLOWED.find(([s, f, r, a, who]) => s === state && f === filedBy && r === red && a === action && who === actor)?.[5];
        assert.equal(target(facts(state, filedBy, red), action, actor), expected, `${state} ${filedBy} red=${red} ${action} by ${actor}`);
        if (expected) allowed++;
      }
    }
    assert.equal(allowed, ALLOWED.length);
  });

  it('never leaves a void state', () => {
    for (const state of FINAL_STATES) for (const action of ACTIONS) for (const actor of ACTORS) {
      assert.equal(target(facts(state, 'seller', false), action, actor), undefined);
    }
  });

  it('refuses with a problem naming the current state', () => {
    const err = (() => {
      try {
        nextState(facts('05', 'seller', false), 'confirm', 'buyer', FILED);
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof AppError);
    assert.equal(err.code, 'RED_LETTER_TRANSITION_REFUSED');
    assert.equal(err.extensions?.state, '05');
    assert.match(err.message, /state 05/);
  });

  it('revoking a confirmed form is refused once its red invoice exists', () => {
    assert.throws(() => nextState(facts('04', 'seller', true), 'revoke', 'seller', FILED), (e: AppError) => e.code === 'RED_LETTER_TRANSITION_REFUSED' && /red invoice/.test(e.message));
  });

  it('starts in 01, 02 or 03', () => {
    assert.equal(initialState('seller', false), '01');
    assert.equal(initialState('seller', true), '02');
    assert.equal(initialState('buyer', true), '03');
    assert.equal(initialState('buyer', false), '03');
  });

  it('expires exactly 72 hours after filing, to the millisecond', () => {
    const f = facts('02', 'seller', false);
    const deadline = FILED.getTime() + 72 * 3600 * 1000;
    assert.equal(isExpired(f, new Date(deadline - 1)), false);
    assert.equal(isExpired(f, new Date(deadline)), true);
    assert.equal(nextState(f, 'confirm', 'buyer', new Date(deadline - 1000)), '04');
    assert.throws(() => nextState(f, 'confirm', 'buyer', new Date(deadline)), (e: AppError) => e.code === 'RED_LETTER_FORM_EXPIRED' && e.extensions?.state === '07');
    assert.throws(() => nextState(f, 'expire', 'system', new Date(deadline - 1)), (e: AppError) => e.code === 'RED_LETTER_TRANSITION_REFUSED');
    assert.equal(nextState(f, 'expire', 'system', new Date(deadline)), '07');
    // A confirmed form does not expire.
    assert.equal(isExpired({ state: '04', expiresAt: f.expiresAt! }, new Date(deadline + 1)), false);
  });

  it('property: any sequence of moves ends in a reachable state and never moves out of a void one', () => {
    const step = fc.record({ action: fc.constantFrom(...ACTIONS), actor: fc.constantFrom(...ACTORS), dt: fc.integer({ min: 0, max: 100 * 3600 * 1000 }) });
    fc.assert(fc.property(fc.constantFrom<Party>('seller', 'buyer'), fc.boolean(), fc.array(step, { maxLength: 12 }), (filedBy, confirm, steps) => {
      let f: FormFacts = { state: initialState(filedBy, confirm), filedBy, redIssued: false, expiresAt: expiryOf(FILED) };
      let now = FILED.getTime();
      const seen: FormState[] = [f.state];
      for (const s of steps) {
        now += s.dt;
        try {
          const to = nextState(f, s.action, s.actor, new Date(now));
          assert.ok(!FINAL_STATES.has(f.state), 'moved out of a void state');
          f = { ...f, state: to };
          seen.push(to);
        } catch (e) {
          assert.ok(e instanceof AppError);
          assert.ok(e.code === 'RED_LETTER_TRANSITION_REFUSED' || e.code === 'RED_LETTER_FORM_EXPIRED');
        }
      }
      // 04 is reached only from 02/03 by the counterparty; 09 only from 04.
      for (let i = 1; i < seen.length; i++) {
        if (seen[i] === '04') assert.ok(seen[i - 1] === '02' || seen[i - 1] === '03');
        if (seen[i] === '09') assert.equal(seen[i - 1], '04');
        if (seen[i] === '07') assert.ok(seen[i - 1] === '02' || seen[i - 1] === '03');
      }
    }));
  });
});
