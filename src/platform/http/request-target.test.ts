import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseRequestTarget } from './request-target.ts';

describe('normaliseRequestTarget (RFC 3986 §6.2.2)', () => {
  it('leaves a canonical target alone', () => {
    for (const t of ['/', '/v1/keys', '/v1/invoices?limit=10&cursor=abc', '/verify?qr=01%2c31', '/admin/v1/bans/10.0.0.0%2F8']) {
      assert.deepEqual(normaliseRequestTarget(t), { url: t });
    }
  });

  it('decodes unreserved characters and upper-cases the hex of the other escapes, in the path only', () => {
    assert.deepEqual(normaliseRequestTarget('/%76%31/%6B%65%79%73'), { url: '/v1/keys' });
    assert.deepEqual(normaliseRequestTarget('/a%2db%2E%5F%7e'), { url: '/a-b._~' });
    assert.deepEqual(normaliseRequestTarget('/admin/v1/bans/10.0.0.0%2f8'), { url: '/admin/v1/bans/10.0.0.0%2F8' });
    assert.deepEqual(normaliseRequestTarget('/x%20y%e4%b8%ad?q=%76'), { url: '/x%20y%E4%B8%AD?q=%76' });
  });

  it('routes the absolute-form by its path', () => {
    assert.deepEqual(normaliseRequestTarget('http://example.com/v1/keys?x=1'), { url: '/v1/keys?x=1' });
    assert.deepEqual(normaliseRequestTarget('HTTPS://example.com:8443'), { url: '/' });
    assert.deepEqual(normaliseRequestTarget('http://example.com?x'), { url: '/?x' });
  });

  it('refuses what is not a path, or not UTF-8, as a routable literal', () => {
    for (const [raw, url] of [
      ['*', '/%2A'],
      ['/v1/invoices/%ED%A0%80', '/v1/invoices/%25ED%25A0%2580'],
      ['/%c0%ae%c0%ae/etc/passwd', '/%25c0%25ae%25c0%25ae/etc/passwd'],
      ['/a%zz?x=1', '/a%25zz'],
      ['/a%', '/a%25'],
      ['/a%E4%B8', '/a%25E4%25B8'],
      ['/a#b', '/a%23b'],
    ] as const) {
      assert.deepEqual(normaliseRequestTarget(raw), { url, problem: 'URL_INVALID' }, raw);
    }
  });

  it('refuses a segment longer than the limit once decoded', () => {
    assert.equal(normaliseRequestTarget(`/v1/${'a'.repeat(100)}`).problem, undefined);
    assert.equal(normaliseRequestTarget(`/v1/${'a'.repeat(101)}`).problem, 'URI_TOO_LONG');
    assert.equal(normaliseRequestTarget(`/${'%E4%B8%AD'.repeat(100)}/x`).problem, undefined, '900 characters spelling 100');
    assert.equal(normaliseRequestTarget(`/${'%E4%B8%AD'.repeat(101)}`).problem, 'URI_TOO_LONG');
    assert.equal(normaliseRequestTarget(`/a/b/c?${'q'.repeat(5000)}`).problem, undefined, 'the query is not a segment');
    assert.equal(normaliseRequestTarget('/a/bcd', 3).problem, undefined);
    assert.equal(normaliseRequestTarget('/a/bcde', 3).problem, 'URI_TOO_LONG');
  });
});
