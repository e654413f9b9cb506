// The 发票查验 request: number, issue date and total with tax (docs/invoice-rules.md, "Verification").
import { Type, type Static } from 'typebox';
import { Text } from '../../../platform/http/schemas.ts';

export const VerifySchema = Type.Object(
  {
    number: Text(40, '20-digit invoice number'),
    issueDate: Text(20, 'Issue date, YYYY-MM-DD'),
    total: Text(32, 'Total with tax (价税合计), e.g. "113.00"'),
  },
  { additionalProperties: false },
);
export type VerifyBody = Static<typeof VerifySchema>;
