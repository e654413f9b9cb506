import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CidrSet, cidrContains, clientSubject, formatCidr, normalizeIp, parseCidr, parseIp } from './cidr.ts';

const contains = (cidr: string, ip: string): boolean => cidrContains(parseCidr(cidr)!, parseIp(ip)!);

describe('parseIp / normalizeIp', () => {
  it('reads IPv4 in dotted decimal only', () => {
    assert.equal(normalizeIp('192.168.1.10'), '192.168.1.10');
    assert.equal(normalizeIp(' 10.0.0.1 '), '10.0.0.1');
    for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.x', '', '1..2.3', '0x7f.0.0.1']) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });

  it('writes IPv6 in the RFC 5952 canonical form', () => {
    assert.equal(normalizeIp('2001:0DB8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(normalizeIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1', 'the first of two equal runs');
    assert.equal(normalizeIp('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1', 'a single zero group is not compressed');
    assert.equal(normalizeIp('::'), '::');
    assert.equal(normalizeIp('::1'), '::1');
    assert.equal(normalizeIp('fe80::1%eth0'), 'fe80::1');
    assert.equal(normalizeIp('[2001:db8::2]'), '2001:db8::2');
  });

  it('reads IPv4-mapped IPv6 as the IPv4 address', () => {
    assert.equal(normalizeIp('::ffff:1.2.3.4'), '1.2.3.4');
    assert.equal(normalizeIp('::FFFF:0102:0304'), '1.2.3.4');
    assert.equal(normalizeIp('0:0:0:0:0:ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(normalizeIp('64:ff9b::1.2.3.4'), '64:ff9b::102:304', 'NAT64 is not a mapped address');
  });

  it('refuses malformed IPv6', () => {
    for (const bad of ['1::2::3', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::1', 'g::1', '1:::2', '::ffff:1.2.3.256', '1:2:3:4:5:6:7::8']) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });
});

describe('parseCidr', () => {
  it('parses blocks of both families and clears host bits', () => {
    assert.equal(formatCidr(parseCidr('10.1.2.3/8')!), '10.0.0.0/8');
    assert.equal(formatCidr(parseCidr('2001:db8:abcd:12::1/48')!), '2001:db8:abcd::/48');
    assert.equal(formatCidr(parseCidr('0.0.0.0/0')!), '0.0.0.0/0');
    assert.equal(formatCidr(parseCidr('::/0')!), '::/0');
  });

  it('treats a bare address as a block of one', () => {
    assert.deepEqual(parseCidr('1.2.3.4'), { family: 4, network: 0x01020304n, prefix: 32 });
    assert.equal(formatCidr(parseCidr('1.2.3.4/32')!), '1.2.3.4');
    assert.equal(formatCidr(parseCidr('2001:db8::1/128')!), '2001:db8::1');
  });

  it('reads an IPv4-mapped block as the IPv4 block', () => {
    assert.equal(formatCidr(parseCidr('::ffff:10.0.0.0/104')!), '10.0.0.0/8');
  });

  it('refuses bad prefixes and addresses', () => {
    for (const bad of ['1.2.3.4/33', '::/129', '1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/08', '1.2.3.4/8/8', 'x/8', '', '/8']) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
  });
});

describe('cidrContains', () => {
  it('matches by prefix within one family', () => {
    assert.ok(contains('10.0.0.0/8', '10.255.1.2'));
    assert.ok(!contains('10.0.0.0/8', '11.0.0.1'));
    assert.ok(contains('192.168.1.0/24', '192.168.1.255'));
    assert.ok(!contains('192.168.1.0/24', '192.168.2.0'));
    assert.ok(contains('0.0.0.0/0', '8.8.8.8'));
    assert.ok(contains('2001:db8::/32', '2001:db8:ffff::1'));
    assert.ok(!contains('2001:db8::/32', '2001:db9::1'));
    assert.ok(contains('1.2.3.4', '1.2.3.4'));
    assert.ok(!contains('1.2.3.4', '1.2.3.5'));
  });

  it('never matches across families, except through IPv4-mapped addresses', () => {
    assert.ok(!contains('::/0', '1.2.3.4'));
    assert.ok(!contains('0.0.0.0/0', '2001:db8::1'));
    assert.ok(contains('1.2.3.0/24', '::ffff:1.2.3.9'));
  });
});

describe('clientSubject', () => {
  it('keys IPv4 by address and IPv6 by its /64', () => {
    assert.equal(clientSubject(parseIp('::ffff:5.6.7.8')!), '5.6.7.8');
    assert.equal(clientSubject(parseIp('2001:db8:1:2:aaaa:bbbb:cccc:dddd')!), '2001:db8:1:2::/64');
    assert.equal(clientSubject(parseIp('2001:db8:1:2::9')!), '2001:db8:1:2::/64');
  });
});

describe('CidrSet', () => {
  it('matches any of its blocks and throws on an invalid entry', () => {
    const set = new CidrSet(['10.0.0.0/8', '2001:db8::/32', '127.0.0.1']);
    assert.equal(set.size, 3);
    assert.ok(set.has('10.1.1.1'));
    assert.ok(set.has('::ffff:127.0.0.1'));
    assert.ok(set.has('2001:db8::5'));
    assert.ok(!set.has('127.0.0.2'));
    assert.ok(!set.has('not an ip'));
    assert.ok(!set.has(undefined));
    assert.throws(() => new CidrSet(['10.0.0.0/8', '10.0.0.0/40']), RangeError);
  });
});
