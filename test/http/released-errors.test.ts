// Released error codes are append-only (src/shared/errors.ts): docs/errors-released.json is the committed list of
// every code a release answered, with its HTTP status. A code may be added (append it to the list in the same
// change); none may disappear, be renamed or change its status, because integrators switch on `code` and `status`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERRORS } from '../../src/shared/errors.ts';
import { HTTP_STATUS } from '../../src/platform/http/error-status.ts';

const released = JSON.parse(readFileSync(new URL('../../docs/errors-released.json', import.meta.url), 'utf8')) as Record<string, number>;

void describe('released error codes', () => {
  void it('every released code still exists with the same status', () => {
    const lost = Object.keys(released).filter((code) => !Object.hasOwn(ERRORS, code));
    assert.deepEqual(lost, [], 'released codes are never removed or renamed');
    const moved = Object.entries(released)
      .filter(([code, status]) => HTTP_STATUS[code as keyof typeof HTTP_STATUS] !== status)
      .map(([code, status]) => `${code}: released ${status}, now ${HTTP_STATUS[code as keyof typeof HTTP_STATUS]}`);
    assert.deepEqual(moved, [], 'a released code keeps its status');
  });

  void it('every code the server can answer is in the released list', () => {
    const unlisted = Object.keys(ERRORS).filter((code) => !Object.hasOwn(released, code));
    assert.deepEqual(unlisted, [], 'append new codes to docs/errors-released.json');
  });
});
