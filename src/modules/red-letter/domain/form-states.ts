// The states of a red-letter confirmation form (红字发票信息确认单, docs/invoice-rules.md "Red-letter invoices") and the
// only moves between them, with who may make each. Pure: the use cases (app/) decide what to do with the answer.
import { AppError } from '../../../shared/errors.ts';

/**
 * `01` no confirmation needed · `02` filed by the seller, awaiting the buyer · `03` filed by the buyer, awaiting the
 * seller · `04` confirmed by both · `05` void, the buyer refused · `06` void, the seller refused · `07` void, not
 * confirmed within 72 hours · `08` void, revoked by the filer · `09` void, revoked after confirmation · `10` being filed.
 */
export const FORM_STATES = ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10'] as const;
export type FormState = (typeof FORM_STATES)[number];

export const STATE_LABELS: Record<FormState, string> = {
  '01': '无需确认',
  '02': '销方录入待购方确认',
  '03': '购方录入待销方确认',
  '04': '购销双方已确认',
  '05': '作废（购方已拒绝）',
  '06': '作废（销方已拒绝）',
  '07': '作废（超72小时未确认）',
  '08': '作废（发起方已撤销）',
  '09': '作废（确认后撤销）',
  '10': '录入中',
};

/** The party of the blue invoice a tenant is, for one form; `system` is the expiry job. */
export type Party = 'seller' | 'buyer';
export type Actor = Party | 'system';
export type FormAction = 'file' | 'confirm' | 'reject' | 'revoke' | 'expire';

/** The 72-hour window for the counterparty to confirm, in milliseconds. */
export const CONFIRMATION_WINDOW_MS = 72 * 60 * 60 * 1000;

/** States from which no move is possible (the void ones). */
export const FINAL_STATES: ReadonlySet<FormState> = new Set(['05', '06', '07', '08', '09']);
/** States that wait for the counterparty and expire after 72 hours. */
export const AWAITING_STATES: ReadonlySet<FormState> = new Set(['02', '03']);
/** States whose amounts count against what remains of the blue invoice: every state but the void ones. */
export function holdsAmounts(state: FormState): boolean {
  return !FINAL_STATES.has(state);
}
/** States in which the red invoice is (to be) issued. */
export function allowsRedInvoice(state: FormState): boolean {
  return state === '01' || state === '04';
}

export function isFormState(s: unknown): s is FormState {
  return typeof s === 'string' && (FORM_STATES as readonly string[]).includes(s);
}

/** What a move needs to know about the form. */
export interface FormFacts {
  state: FormState;
  /** Which party filed it. */
  filedBy: Party;
  /** Whether the red invoice of this form exists. */
  redIssued: boolean;
  /** When the counterparty's window closes (ISO 8601); only for awaiting states. */
  expiresAt?: string;
}

/** The state a new form starts in: filed by the buyer, the seller confirms; filed by the seller, the buyer (if any). */
export function initialState(filedBy: Party, counterpartyMustConfirm: boolean): FormState {
  if (filedBy === 'buyer') return '03';
  return counterpartyMustConfirm ? '02' : '01';
}

/** Whether the form's confirmation window has closed at `now` (exact to the millisecond: at the deadline it has). */
export function isExpired(form: Pick<FormFacts, 'state' | 'expiresAt'>, now: Date): boolean {
  return AWAITING_STATES.has(form.state) && form.expiresAt !== undefined && now.getTime() >= Date.parse(form.expiresAt);
}

export function expiryOf(filedAt: Date): string {
  return new Date(filedAt.getTime() + CONFIRMATION_WINDOW_MS).toISOString();
}

function counterparty(p: Party): Party {
  return p === 'seller' ? 'buyer' : 'seller';
}

/**
 * The target state of `action` by `actor` on a form, or undefined when the move is not allowed. Time is not looked
 * at here (see `nextState`).
 */
export function target(form: FormFacts, action: FormAction, actor: Actor): FormState | undefined {
  const { state, filedBy } = form;
  switch (action) {
    case 'file':
      return undefined; // a form is filed once, by fileForm's initialState; never moved into again
    case 'confirm':
      if (AWAITING_STATES.has(state) && expectedFiler(state) === filedBy && actor === counterparty(filedBy)) return '04';
      return undefined;
    case 'reject':
      if (AWAITING_STATES.has(state) && expectedFiler(state) === filedBy && actor === counterparty(filedBy)) {
        return actor === 'buyer' ? '05' : '06';
      }
      return undefined;
    case 'revoke':
      if (actor !== filedBy) return undefined;
      if (AWAITING_STATES.has(state)) return '08';
      // After confirmation (or with no confirmation needed) only while the red invoice does not exist.
      if (state === '04' && !form.redIssued) return '09';
      if (state === '01' && filedBy === 'seller' && !form.redIssued) return '08';
      return undefined;
    case 'expire':
      return actor === 'system' && AWAITING_STATES.has(state) ? '07' : undefined;
  }
}

function expectedFiler(state: FormState): Party | undefined {
  return state === '02' ? 'seller' : state === '03' ? 'buyer' : undefined;
}

/**
 * The state after `action` by `actor` at `now`, or an AppError naming the current state: RED_LETTER_FORM_EXPIRED when
 * the counterparty's window has closed (the caller records the expiry), RED_LETTER_TRANSITION_REFUSED otherwise.
 */
export function nextState(form: FormFacts, action: FormAction, actor: Actor, now: Date): FormState {
  if (action !== 'expire' && isExpired(form, now)) {
    throw new AppError('RED_LETTER_FORM_EXPIRED', {
      detail: `The form was not confirmed within 72 hours (by ${form.expiresAt}); it is void (07)`,
      extensions: { state: '07' },
    });
  }
  if (action === 'expire' && !isExpired(form, now)) throw refused(form, action, actor);
  const to = target(form, action, actor);
  if (to === undefined) throw refused(form, action, actor);
  return to;
}

function refused(form: FormFacts, action: FormAction, actor: Actor): AppError {
  const why = FINAL_STATES.has(form.state)
    ? 'the form is void'
    : form.redIssued && allowsRedInvoice(form.state)
      ? 'its red invoice has been issued'
      : actor === form.filedBy && action !== 'revoke'
        ? `only the ${counterparty(form.filedBy)} may ${action} it`
        : actor !== form.filedBy && action === 'revoke'
          ? `only the ${form.filedBy}, who filed it, may revoke it`
          : `${action} is not possible from this state`;
  return new AppError('RED_LETTER_TRANSITION_REFUSED', {
    detail: `The form is in state ${form.state} (${STATE_LABELS[form.state]}): ${why}`,
    extensions: { state: form.state },
  });
}
