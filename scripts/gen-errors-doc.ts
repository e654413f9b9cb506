// Writes docs/errors.md from the error registry (src/errors.ts). test/http/errors-doc.test.ts fails when they drift.
import { writeFileSync } from 'node:fs';
import { ERRORS } from '../src/errors.ts';

export function renderErrorsDoc(): string {
  const rows = Object.entries(ERRORS).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.title} |`);
  return [
    '# Error codes',
    '',
    'Every error is an RFC 9457 `application/problem+json` body:',
    '`{ type, title, status, detail?, code, errors?: [{ path, code, message }], instance, requestId }`.',
    '`code` is stable: codes are never renamed or reused. `errors[].path` is the JSON Pointer of the field at fault.',
    '',
    'Generated from `src/errors.ts` by `npm run docs:errors`; a test keeps the two in sync.',
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
