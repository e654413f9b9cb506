// Schemas every listener's routes share: free text under the text rules, and the RFC 9457 problem every error answer
// carries (platform/http/problem-details.ts). Module schemas build on these.
import { Type } from 'typebox';
import { MULTI_LINE_TEXT, SINGLE_LINE_TEXT } from '../../shared/text-rules.ts';

export interface TextOptions {
  description?: string;
  /** Default 1. */
  minLength?: number;
  /** Line breaks (LF, CR) allowed: remarks only. */
  multiline?: boolean;
}

/** Free text of at most `max` characters (code points), following the text rules (shared/text-rules.ts). */
export const Text = (max: number, opts: TextOptions | string = {}) => {
  const o = typeof opts === 'string' ? { description: opts } : opts;
  return Type.String({
    minLength: o.minLength ?? 1,
    maxLength: max,
    pattern: (o.multiline ? MULTI_LINE_TEXT : SINGLE_LINE_TEXT).source,
    ...(o.description ? { description: o.description } : {}),
  });
};

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    code: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), code: Type.String(), message: Type.String() }))),
    instance: Type.String(),
    requestId: Type.String(),
    period: Type.Optional(Type.String({ description: 'QUOTA_EXCEEDED: the quota period, YYYY-MM (UTC+8)' })),
    quota: Type.Optional(Type.String({ description: 'QUOTA_EXCEEDED: the monthly quota, a decimal string' })),
    remaining: Type.Optional(Type.String({ description: 'QUOTA_EXCEEDED: what is left of it this month, a decimal string' })),
  },
  { description: 'RFC 9457 problem details' },
);
