// The red-letter tables (migration 0010): forms, the per-blue-invoice lock row, and the history of moves. Rows only:
// which move is allowed, what is audited and announced is the use cases' (app/red-letter-service.ts).
import { sql, type Selectable } from 'kysely';
import type { RedLetterFormsTable } from '../../../platform/storage/database.ts';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import { isFormState, type FormAction, type FormState, type Party } from '../domain/form-states.ts';
import type { LineClaim } from '../domain/reversal.ts';

export interface RedLetterForm {
  /** The form number (红字发票信息确认单编号). */
  id: string;
  sellerTenantId: string;
  /** The buyer's tenant when the buyer is a tenant of this server. */
  buyerTenantId?: string;
  filerTenantId: string;
  filedBy: Party;
  blueNumber: string;
  reason: string;
  state: FormState;
  claims: LineClaim[];
  amount: string;
  tax: string;
  total: string;
  requestKey: string;
  idempotencyKey?: string;
  /** While the form awaits the counterparty: when the 72 hours end. */
  expiresAt?: string;
  /** The red invoice, once issued. */
  redNumber?: string;
  createdAt: string;
  updatedAt: string;
}

export type NewRedLetterForm = Omit<RedLetterForm, 'createdAt' | 'updatedAt'>;

export interface FormTransition {
  from: FormState;
  to: FormState;
  action: FormAction;
  actor: string;
  party: Party | 'system';
  at: string;
}

export interface FormQuery {
  tenantId: string;
  state?: FormState;
  invoiceNumber?: string;
  /** `filed`: forms this tenant filed; `received`: forms filed by the other party for this tenant to answer. */
  direction?: 'filed' | 'received';
  /** The last id of the previous page (pages run newest first). */
  before?: string;
  limit: number;
}

export class RedLetterRepository {
  constructor(private readonly scope: Scope) {}

  private get db() {
    return this.scope.db;
  }

  private get postgres(): boolean {
    return this.scope.traits.engine === 'postgres';
  }

  /**
   * Takes the blue invoice's lock row (creating it on first use): every filing against one invoice holds it to commit,
   * so a second filer waits and then reads the first's claims (READ COMMITTED reads afresh per statement).
   */
  async lockBlue(blueNumber: string, sellerTenantId: string): Promise<void> {
    const at = stampOf(this.scope);
    await this.db
      .insertInto('red_letter_blues')
      .values({ blue_number: blueNumber, seller_tenant_id: sellerTenantId, version: 1, updated_at: at })
      .onConflict((oc) => oc.column('blue_number').doUpdateSet({ version: sql`red_letter_blues.version + 1`, updated_at: at }))
      .execute();
  }

  async formsOfBlue(blueNumber: string): Promise<RedLetterForm[]> {
    const rows = await this.db.selectFrom('red_letter_forms').selectAll().where('blue_number', '=', blueNumber).orderBy('id').execute();
    return rows.map(toForm);
  }

  async insert(form: NewRedLetterForm): Promise<RedLetterForm> {
    const at = stampOf(this.scope);
    await this.db
      .insertInto('red_letter_forms')
      .values({
        id: form.id,
        seller_tenant_id: form.sellerTenantId,
        buyer_tenant_id: form.buyerTenantId ?? null,
        filer_tenant_id: form.filerTenantId,
        filed_by: form.filedBy,
        blue_number: form.blueNumber,
        reason: form.reason,
        state: form.state,
        claims: JSON.stringify(form.claims),
        amount: form.amount,
        tax: form.tax,
        total: form.total,
        request_key: form.requestKey,
        idempotency_key: form.idempotencyKey ?? null,
        expires_at: form.expiresAt ?? null,
        red_number: form.redNumber ?? null,
        created_at: at,
        updated_at: at,
      })
      .execute();
    return { ...form, createdAt: at, updatedAt: at };
  }

  /** A form one of whose parties is `tenantId`; with `lock`, PostgreSQL locks its row to commit. */
  async getFor(tenantId: string, id: string, opts: { lock?: boolean } = {}): Promise<RedLetterForm | undefined> {
    let q = this.db
      .selectFrom('red_letter_forms')
      .selectAll()
      .where('id', '=', id)
      .where((eb) => eb.or([eb('seller_tenant_id', '=', tenantId), eb('buyer_tenant_id', '=', tenantId)]));
    if (opts.lock && this.postgres) q = q.forUpdate();
    const row = await q.executeTakeFirst();
    return row && toForm(row);
  }

  async findByIdempotencyKey(filerTenantId: string, key: string): Promise<RedLetterForm | undefined> {
    const row = await this.db
      .selectFrom('red_letter_forms').selectAll()
      .where('filer_tenant_id', '=', filerTenantId).where('idempotency_key', '=', key)
      .executeTakeFirst();
    return row && toForm(row);
  }

  /** Moves the form from `from` to `to` if it is still in `from`; false when another move came first. */
  async move(id: string, from: FormState, to: FormState, opts: { clearExpiry?: boolean } = {}): Promise<boolean> {
    const at = stampOf(this.scope);
    const r = await this.db
      .updateTable('red_letter_forms')
      .set({ state: to, updated_at: at, ...(opts.clearExpiry ? { expires_at: null } : {}) })
      .where('id', '=', id).where('state', '=', from)
      .executeTakeFirst();
    return r.numUpdatedRows === 1n;
  }

  async setRedNumber(id: string, redNumber: string): Promise<void> {
    const at = stampOf(this.scope);
    await this.db.updateTable('red_letter_forms').set({ red_number: redNumber, updated_at: at }).where('id', '=', id).execute();
  }

  async recordTransition(formId: string, t: Omit<FormTransition, 'at'>): Promise<void> {
    const at = stampOf(this.scope);
    await this.db
      .insertInto('red_letter_transitions')
      .values({ form_id: formId, from_state: t.from, to_state: t.to, action: t.action, actor: t.actor, party: t.party, at })
      .execute();
  }

  async history(formId: string): Promise<FormTransition[]> {
    const rows = await this.db.selectFrom('red_letter_transitions').selectAll().where('form_id', '=', formId).orderBy('id').execute();
    return rows.map((r) => ({
      from: r.from_state as FormState, to: r.to_state as FormState, action: r.action as FormAction,
      actor: r.actor, party: r.party as Party | 'system', at: r.at,
    }));
  }

  /** A page of the tenant's forms, newest first. */
  async list(q: FormQuery): Promise<RedLetterForm[]> {
    let s = this.db.selectFrom('red_letter_forms').selectAll();
    if (q.direction === 'filed') s = s.where('filer_tenant_id', '=', q.tenantId);
    else if (q.direction === 'received') {
      s = s.where((eb) => eb.or([eb('seller_tenant_id', '=', q.tenantId), eb('buyer_tenant_id', '=', q.tenantId)])).where('filer_tenant_id', '<>', q.tenantId);
    } else s = s.where((eb) => eb.or([eb('seller_tenant_id', '=', q.tenantId), eb('buyer_tenant_id', '=', q.tenantId)]));
    if (q.state !== undefined) s = s.where('state', '=', q.state);
    if (q.invoiceNumber !== undefined) s = s.where('blue_number', '=', q.invoiceNumber);
    if (q.before !== undefined) s = s.where('id', '<', q.before);
    const rows = await s.orderBy('id', 'desc').limit(q.limit).execute();
    return rows.map(toForm);
  }

  /**
   * Forms awaiting the counterparty whose window closed at or before `now`, oldest deadline first; on PostgreSQL
   * locked to commit and skipping those another node is expiring (`FOR UPDATE SKIP LOCKED`).
   */
  async dueForExpiry(now: Date, limit: number): Promise<RedLetterForm[]> {
    let q = this.db
      .selectFrom('red_letter_forms').selectAll()
      .where('state', 'in', ['02', '03'])
      .where('expires_at', '<=', now.toISOString())
      .orderBy('expires_at').orderBy('id')
      .limit(limit);
    if (this.postgres) q = q.forUpdate().skipLocked();
    return (await q.execute()).map(toForm);
  }

  /** The version of the blue invoice's lock row (how many filings it has seen), for tests. */
  async blueVersion(blueNumber: string): Promise<number | undefined> {
    const row = await this.db.selectFrom('red_letter_blues').select('version').where('blue_number', '=', blueNumber).executeTakeFirst();
    return row && toSafeInteger(row.version);
  }
}

function toForm(r: Selectable<RedLetterFormsTable>): RedLetterForm {
  if (!isFormState(r.state)) throw new Error(`red_letter_forms ${r.id}: unknown state ${r.state}`);
  const f: RedLetterForm = {
    id: r.id,
    sellerTenantId: r.seller_tenant_id,
    filerTenantId: r.filer_tenant_id,
    filedBy: r.filed_by === 'buyer' ? 'buyer' : 'seller',
    blueNumber: r.blue_number,
    reason: r.reason,
    state: r.state,
    claims: JSON.parse(r.claims) as LineClaim[],
    amount: r.amount,
    tax: r.tax,
    total: r.total,
    requestKey: r.request_key,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.buyer_tenant_id !== null) f.buyerTenantId = r.buyer_tenant_id;
  if (r.idempotency_key !== null) f.idempotencyKey = r.idempotency_key;
  if (r.expires_at !== null) f.expiresAt = r.expires_at;
  if (r.red_number !== null) f.redNumber = r.red_number;
  return f;
}
