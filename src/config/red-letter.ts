// Red-letter settings (modules/red-letter/, docs/architecture.md "Red-letter forms"): the reason codes a form may
// name, and whether a buyer that is not a tenant of this server must confirm a seller's form.
import { Type } from 'typebox';
import { bool, ConfigError, list, section } from './read.ts';

/** The reasons of the platform (docs/invoice-rules.md, "Red-letter invoices"). */
export const DEFAULT_RED_LETTER_REASONS = ['01 开票有误', '02 销货退回', '03 服务中止', '04 销售折让'];

export const RED_LETTER_SCHEMA = section(
  {
    reasons: list(Type.String({ pattern: '^[0-9]{2} \\S.{0,39}$', rule: 'entries must be a two-digit code, a space and a label of 1 to 40 characters' }), {
      default: DEFAULT_RED_LETTER_REASONS,
      env: 'FAPIAO_RED_LETTER_REASONS',
      envList: true,
      description: 'The reason codes a confirmation form may name, each `code label` (e.g. `02 销货退回`); a form naming another code is refused (422 `RED_LETTER_REASON_INVALID`, field `/reason`).',
    }),
    nonTenantBuyerConfirms: bool({
      default: false,
      env: 'FAPIAO_RED_LETTER_NON_TENANT_BUYER_CONFIRMS',
      description: 'Whether a seller\'s form against an invoice whose buyer is not a tenant of this server awaits that buyer\'s confirmation (`02`, confirmed outside this server or expiring after 72 hours) instead of needing none (`01`, the red invoice issued at once).',
    }),
  },
  { title: 'Red letter', description: 'Red-letter confirmation forms (modules/red-letter/).' },
);

/** The reasons as code → label; a code named twice is refused. */
export function redLetterSettings(v: { reasons: readonly string[]; nonTenantBuyerConfirms: boolean }): { reasons: Readonly<Record<string, string>>; nonTenantBuyerConfirms: boolean } {
  const reasons: Record<string, string> = {};
  for (const entry of v.reasons) {
    const code = entry.slice(0, 2);
    if (Object.hasOwn(reasons, code)) throw new ConfigError('redLetter.reasons', `code ${code} is listed twice`);
    reasons[code] = entry.slice(3);
  }
  if (Object.keys(reasons).length === 0) throw new ConfigError('redLetter.reasons', 'must list at least one reason');
  return { reasons, nonTenantBuyerConfirms: v.nonTenantBuyerConfirms };
}
