// Writes docs/errors.md from the error registry (src/shared/errors.ts) and the HTTP status of each code
// (src/platform/http/error-status.ts). test/http/errors-doc.test.ts fails when they drift.
import { writeFileSync } from 'node:fs';
import { ERRORS } from '../src/shared/errors.ts';
import { HTTP_STATUS } from '../src/platform/http/error-status.ts';

export function renderErrorsDoc(): string {
  const rows = Object.entries(ERRORS).map(([code, e]) => `| \`${code}\` | ${HTTP_STATUS[code as keyof typeof HTTP_STATUS]} | ${e.title} |`);
  return [
    '# Error codes',
    '',
    'Every error is an RFC 9457 `application/problem+json` body:',
    '`{ type, title, status, detail?, code, errors?: [{ path, code, message }], instance, requestId }`.',
    '`code` is stable: codes are never renamed or reused. `errors[].path` is the JSON Pointer of the field at fault.',
    '',
    'Which code a problem carries:',
    '',
    '- A request that does not match its schema: each field error has the specific code of its case where one exists',
    '  (`LINES_EMPTY` for an empty `lines`, `TAX_CODE_INVALID` for a tax code that is not 19 digits, `TEXT_INVALID` for',
    '  a text breaking the character rules of [architecture.md](architecture.md#text-fields), …), else',
    '  `VALIDATION_FAILED`. When every field error has the same code the problem has that code and its status;',
    '  otherwise it is `VALIDATION_FAILED` (400) and each field error keeps its own.',
    '- A value outside a list (`?format=docx`) is one field error naming the allowed values.',
    '- A request that matches its schema but breaks a rule (422): the problem has the code of its first field error;',
    '  every field at fault is listed, each with its own code.',
    '',
    '`test/http/error-codes.test.ts` produces every code below for its case.',
    '',
    'Generated from `src/shared/errors.ts` (codes, titles) and `src/platform/http/error-status.ts` (statuses) by',
    '`npm run docs:errors`; a test keeps them in sync. Released codes are never removed and never change status',
    '(`docs/errors-released.json`).',
    '',
    '| code | status | title |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc());
  console.log('wrote docs/errors.md');
}
