// No test here sends traffic anywhere: every name is resolved by an injected lookup, except `localhost`.
import { describe, expect, it, vi } from 'vitest';
import {
  canonicalizeHost,
  type LookupFn,
  NetworkChecker,
  parseAllowedHosts,
  parseAllowedPorts,
  type ResolveResult,
} from '../../src/channel/netcheck.ts';
import { ErrorCode } from '../../src/errors.ts';
import { socksReplyForClose } from '../../src/protocol/socks5/index.ts';

/** A fake resolver: name → addresses; unknown names fail like getaddrinfo. */
function fakeDns(table: Record<string, string[]>): LookupFn & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (name: string) => {
    calls.push(name);
    const list = table[name];
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(fn, { calls });
}

const dns = fakeDns({
  'www.google.com': ['142.250.1.1'],
  'mail.google.com': ['142.250.1.2'],
  'a.b.google.com': ['142.250.1.3'],
  'google.com': ['142.250.1.4'],
  'fakegoogle.com': ['6.6.6.6'],
  'internal.corp': ['192.168.1.20'],
  'evil.test': ['10.0.0.1'],
  'mixed.test': ['10.0.0.1', '192.168.1.7', '192.168.1.8'],
  'mapped.test': ['::ffff:192.168.1.9'],
  'v6.test': ['2001:db8::10'],
  'example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
});

const allowed = (address: string, family: 4 | 6 = 4): ResolveResult => ({ ok: true, address, family });
const denied = (host: string) => ({
  ok: false,
  reply: 0x02,
  reason: 10,
  message: `SOCKS5 destination ${host} not allowed or unresolvable`,
});

describe('allow-list matrix from the original socks_tests', () => {
  it('*.google.com matches subdomains but not google.com or fakegoogle.com', async () => {
    const c = new NetworkChecker('*.google.com', '', { lookup: dns });
    expect(await c.resolveAllowed('www.google.com', 443)).toEqual(allowed('142.250.1.1'));
    expect(await c.resolveAllowed('mail.google.com', 443)).toEqual(allowed('142.250.1.2'));
    expect(await c.resolveAllowed('a.b.google.com', 443)).toEqual(allowed('142.250.1.3'));
    expect(await c.resolveAllowed('WWW.Google.COM.', 443)).toEqual(allowed('142.250.1.1'));
    expect(await c.resolveAllowed('google.com', 443)).toEqual(denied('google.com'));
    expect(await c.resolveAllowed('fakegoogle.com', 443)).toEqual(denied('fakegoogle.com'));
    expect(c.matchesNameRule('x.google.com')).toBe(true);
    expect(c.matchesNameRule('google.com')).toBe(false);
    expect(c.matchesNameRule('xgoogle.com')).toBe(false);
  });

  it('CIDR 192.168.1.0/24 allows .100 and .1, rejects 192.168.2.100 and 10.0.0.1', async () => {
    const c = new NetworkChecker('192.168.1.0/24', '', { lookup: dns });
    expect(await c.resolveAllowed('192.168.1.100', 22)).toEqual(allowed('192.168.1.100'));
    expect(await c.resolveAllowed('192.168.1.1', 22)).toEqual(allowed('192.168.1.1'));
    expect(await c.resolveAllowed('192.168.2.100', 22)).toEqual(denied('192.168.2.100'));
    expect(await c.resolveAllowed('10.0.0.1', 22)).toEqual(denied('10.0.0.1'));
  });

  it('ports 80/443 allowed, 21/3389 denied', async () => {
    const c = new NetworkChecker('', '80, 443', { lookup: dns });
    expect(c.isPortAllowed(80)).toBe(true);
    expect(c.isPortAllowed(443)).toBe(true);
    expect(c.isPortAllowed(21)).toBe(false);
    expect(c.isPortAllowed(3389)).toBe(false);
    expect(await c.resolveAllowed('example.com', 443)).toEqual(allowed('93.184.215.14'));
    expect(await c.resolveAllowed('example.com', 21)).toEqual({
      ok: false,
      reply: 0x02,
      reason: 10,
      message: 'SOCKS5 port 21 not allowed',
    });
    expect(await c.resolveAllowed('127.0.0.1', 3389)).toMatchObject({
      message: 'SOCKS5 port 3389 not allowed',
    });
  });

  it('the port is checked before any resolution', async () => {
    const lookup = fakeDns({ 'www.google.com': ['142.250.1.1'] });
    const c = new NetworkChecker('*.google.com', '443', { lookup });
    expect((await c.resolveAllowed('www.google.com', 80)).ok).toBe(false);
    expect(lookup.calls).toEqual([]);
  });

  it('empty rules allow everything', async () => {
    const c = new NetworkChecker('', '', { lookup: dns });
    expect(c.hasHostRules || c.hasPortRules).toBe(false);
    expect(await c.resolveAllowed('example.com', 80)).toEqual(allowed('93.184.215.14'));
    expect(await c.resolveAllowed('10.0.0.1', 65535)).toEqual(allowed('10.0.0.1'));
    expect(await c.resolveAllowed('::1', 1)).toEqual(allowed('::1', 6));
    expect(NetworkChecker.fromSettings({})).toBeUndefined();
    expect(NetworkChecker.fromSettings({ allowed_hosts: ' , ', allowed_ports: '' })).toBeUndefined();
  });

  it('IPv6: 2001:db8::/32 and ::1', async () => {
    const c = new NetworkChecker('2001:db8::/32, ::1', '', { lookup: dns });
    expect(await c.resolveAllowed('2001:db8::1', 80)).toEqual(allowed('2001:db8::1', 6));
    expect(await c.resolveAllowed('2001:DB8:0:0:0:0:0:1', 80)).toEqual(allowed('2001:db8::1', 6));
    expect(await c.resolveAllowed('2001:db8:ffff::42', 80)).toEqual(allowed('2001:db8:ffff::42', 6));
    expect(await c.resolveAllowed('::1', 80)).toEqual(allowed('::1', 6));
    expect(await c.resolveAllowed('[::1]', 80)).toEqual(allowed('::1', 6));
    expect(await c.resolveAllowed('0:0:0:0:0:0:0:1', 80)).toEqual(allowed('::1', 6));
    expect(await c.resolveAllowed('2001:db9::1', 80)).toEqual(denied('2001:db9::1'));
    expect(await c.resolveAllowed('::2', 80)).toEqual(denied('::2'));
    expect(await c.resolveAllowed('127.0.0.1', 80)).toEqual(denied('127.0.0.1'));
    expect(await c.resolveAllowed('v6.test', 80)).toEqual(allowed('2001:db8::10', 6));
  });
});

describe('bypass attempts', () => {
  it('IPv4-mapped IPv6 is judged as the IPv4 address it is', async () => {
    const deny10 = new NetworkChecker('192.168.0.0/16, ::', '', { lookup: dns });
    // `::` allows all IPv6, but ::ffff:10.0.0.1 is 10.0.0.1, which is not allowed
    expect(await deny10.resolveAllowed('::ffff:10.0.0.1', 80)).toEqual(denied('::ffff:10.0.0.1'));
    expect(await deny10.resolveAllowed('::ffff:a00:1', 80)).toEqual(denied('::ffff:a00:1'));
    expect(await deny10.resolveAllowed('[::ffff:10.0.0.1]', 80)).toEqual(denied('[::ffff:10.0.0.1]'));
    const allow10 = new NetworkChecker('10.0.0.0/8', '', { lookup: dns });
    expect(await allow10.resolveAllowed('::ffff:10.0.0.1', 80)).toEqual(allowed('10.0.0.1'));
  });

  it('non-canonical numeric IPv4 forms are refused, never normalised into a pass', async () => {
    const lookup = fakeDns({});
    for (const rules of ['127.0.0.0/8', '']) {
      const c = new NetworkChecker(rules, '', { lookup });
      for (const host of [
        '0x7f.1',
        '0x7f000001',
        '127.1',
        '127.0.1',
        '2130706433',
        '0177.0.0.1',
        '127.000.000.001',
        '127.0.0.1.',
        '1.2.3.4.5',
        'foo.0x10',
      ]) {
        expect(await c.resolveAllowed(host, 80), `${host} with rules '${rules}'`).toEqual(denied(host));
      }
    }
    expect(lookup.calls).toEqual([]);
  });

  it('a name that resolves to a disallowed address is refused', async () => {
    const c = new NetworkChecker('192.168.1.0/24', '', { lookup: dns });
    expect(await c.resolveAllowed('evil.test', 80)).toEqual(denied('evil.test'));
  });

  it('a name resolving to [disallowed, allowed] yields the allowed address', async () => {
    const c = new NetworkChecker('192.168.1.0/24', '', { lookup: dns });
    expect(await c.resolveAllowed('mixed.test', 80)).toEqual(allowed('192.168.1.7'));
    expect(await c.resolveAllowed('mapped.test', 80)).toEqual(allowed('192.168.1.9'));
    expect(await c.resolveAllowed('internal.corp', 80)).toEqual(allowed('192.168.1.20'));
  });

  it('an exact or wildcard name match uses the first resolved address', async () => {
    const c = new NetworkChecker('mixed.test, 192.168.1.0/24', '', { lookup: dns });
    expect(await c.resolveAllowed('MIXED.test', 80)).toEqual(allowed('10.0.0.1'));
  });

  it('names are not resolved when only names are allowed and they do not match', async () => {
    const lookup = fakeDns({ 'evil.test': ['10.0.0.1'] });
    const c = new NetworkChecker('*.google.com, internal.corp', '', { lookup });
    expect(await c.resolveAllowed('evil.test', 80)).toEqual(denied('evil.test'));
    expect(await c.resolveAllowed('10.0.0.1', 80)).toEqual(denied('10.0.0.1'));
    expect(lookup.calls).toEqual([]);
  });

  it('zone ids, bad names, empty host and port 0 are refused', async () => {
    const c = new NetworkChecker('', '', { lookup: dns });
    for (const host of [
      'fe80::1%eth0',
      'a b',
      'exa_mple.com/x',
      '',
      '.',
      'a..b',
      '-a.test',
      `${'a'.repeat(64)}.test`,
    ]) {
      expect(await c.resolveAllowed(host, 80), host).toEqual(denied(host));
    }
    expect(await c.resolveAllowed('example.com', 0)).toMatchObject({
      ok: false,
      message: 'SOCKS5 port 0 not allowed',
    });
    expect(await c.resolveAllowed('example.com', 65536)).toMatchObject({ ok: false, reply: 0x02 });
  });

  it('0.0.0.0 = every IPv4 address only, :: = every IPv6 address only', async () => {
    const v4 = new NetworkChecker('0.0.0.0', '', { lookup: dns });
    expect(await v4.resolveAllowed('8.8.8.8', 53)).toEqual(allowed('8.8.8.8'));
    expect(await v4.resolveAllowed('2001:db8::1', 53)).toEqual(denied('2001:db8::1'));
    expect(await v4.resolveAllowed('example.com', 53)).toEqual(allowed('93.184.215.14'));
    const v6 = new NetworkChecker('::', '', { lookup: dns });
    expect(await v6.resolveAllowed('2001:db8::1', 53)).toEqual(allowed('2001:db8::1', 6));
    expect(await v6.resolveAllowed('8.8.8.8', 53)).toEqual(denied('8.8.8.8'));
    expect(await v6.resolveAllowed('example.com', 53)).toEqual(
      allowed('2606:2800:21f:cb07:6820:80da:af6b:8b2c', 6),
    );
  });
});

describe('resolution failures', () => {
  it('DNS failure → host unreachable (0x04), AddressResolutionFailed (16)', async () => {
    const c = new NetworkChecker('*.test', '', { lookup: dns });
    const r = await c.resolveAllowed('nowhere.test', 80);
    expect(r).toEqual({
      ok: false,
      reply: 0x04,
      reason: 16,
      message: 'DNS lookup failed for SOCKS5 destination nowhere.test: ENOTFOUND',
    });
  });

  it('a lookup with no usable address is a DNS failure', async () => {
    const c = new NetworkChecker('', '', { lookup: async () => [{ address: 'garbage', family: 4 }] });
    expect(await c.resolveAllowed('x.test', 80)).toMatchObject({ ok: false, reply: 0x04, reason: 16 });
    const empty = new NetworkChecker('', '', { lookup: async () => [] });
    expect(await empty.resolveAllowed('x.test', 80)).toMatchObject({ ok: false, reply: 0x04 });
  });

  it('a lookup that hangs times out', async () => {
    const c = new NetworkChecker('', '', { lookup: () => new Promise(() => {}), lookupTimeoutMs: 20 });
    expect(await c.resolveAllowed('slow.test', 80)).toMatchObject({ ok: false, reply: 0x04, reason: 16 });
  });

  it('a throwing lookup is a DNS failure, not an exception', async () => {
    const c = new NetworkChecker('', '', {
      lookup: () => {
        throw new Error('boom');
      },
    });
    expect(await c.resolveAllowed('x.test', 80)).toMatchObject({ ok: false, reply: 0x04 });
  });

  it('every refusal maps back to its reply through socksReplyForClose', async () => {
    const c = new NetworkChecker('192.168.1.0/24, *.test', '80', { lookup: dns });
    for (const [host, port] of [
      ['evil.test', 81],
      ['10.0.0.1', 80],
      ['nowhere.test', 80],
      ['127.1', 80],
    ] as const) {
      const r = await c.resolveAllowed(host, port);
      if (r.ok) throw new Error(`unexpectedly allowed: ${host}`);
      expect(socksReplyForClose(r.reason, r.message)).toBe(r.reply);
    }
  });

  it('the real resolver: localhost stays on loopback', async () => {
    const c = new NetworkChecker('localhost', '');
    const r = await c.resolveAllowed('localhost', 80);
    expect(r.ok).toBe(true);
    if (r.ok) expect(['127.0.0.1', '::1']).toContain(r.address);
  });
});

describe('DNS cache', () => {
  it('caches constructor-level lookups, with a TTL and a bound', async () => {
    let now = 1_000;
    const lookup = fakeDns({
      'a.test': ['192.168.1.1'],
      'b.test': ['192.168.1.2'],
      'c.test': ['192.168.1.3'],
    });
    const c = new NetworkChecker('*.test', '', {
      lookup,
      cacheTtlMs: 100,
      cacheMaxEntries: 2,
      now: () => now,
    });
    await c.resolveAllowed('a.test', 80);
    await c.resolveAllowed('a.test', 80);
    expect(lookup.calls).toEqual(['a.test']);
    now += 101;
    await c.resolveAllowed('a.test', 80);
    expect(lookup.calls).toEqual(['a.test', 'a.test']);
    await c.resolveAllowed('b.test', 80);
    await c.resolveAllowed('c.test', 80); // evicts a.test
    await c.resolveAllowed('a.test', 80);
    expect(lookup.calls).toEqual(['a.test', 'a.test', 'b.test', 'c.test', 'a.test']);
  });

  it('a per-call lookup bypasses the cache; failures are not cached', async () => {
    const base = fakeDns({ 'a.test': ['192.168.1.1'] });
    const c = new NetworkChecker('*.test', '', { lookup: base });
    const other = vi.fn(async () => [{ address: '192.168.1.50', family: 4 }]);
    await c.resolveAllowed('a.test', 80);
    expect(await c.resolveAllowed('a.test', 80, { lookup: other })).toEqual(allowed('192.168.1.50'));
    expect(other).toHaveBeenCalledTimes(1);
    await c.resolveAllowed('missing.test', 80);
    await c.resolveAllowed('missing.test', 80);
    expect(base.calls).toEqual(['a.test', 'missing.test', 'missing.test']);
  });
});

describe('parsing', () => {
  it('canonicalizeHost', () => {
    expect(canonicalizeHost('Example.COM.')).toEqual({ kind: 'name', name: 'example.com' });
    expect(canonicalizeHost('::FFFF:10.0.0.1')).toEqual({ kind: 'ip', address: '10.0.0.1', family: 4 });
    expect(canonicalizeHost('2001:0db8::0001')).toEqual({ kind: 'ip', address: '2001:db8::1', family: 6 });
    expect(canonicalizeHost('10.0.0.1')).toEqual({ kind: 'ip', address: '10.0.0.1', family: 4 });
    expect(canonicalizeHost('0x7f.1').kind).toBe('invalid');
    expect(canonicalizeHost('_srv.example.com').kind).toBe('name');
  });

  it('allowed_hosts entries', () => {
    const r = parseAllowedHosts(' Host.Example , *.Corp.Test,10.0.0.0/8, 192.168.1.5 ,2001:db8::/32,,');
    expect([...r.names]).toEqual(['host.example']);
    expect(r.suffixes).toEqual(['.corp.test']);
    expect(r.cidrCount).toBe(3);
    expect(r.v4.check('192.168.1.5', 'ipv4')).toBe(true);
    expect(r.v4.check('192.168.1.6', 'ipv4')).toBe(false);
    const mapped = parseAllowedHosts('::ffff:10.0.0.0/104');
    expect(mapped.v4.check('10.9.9.9', 'ipv4')).toBe(true);
    expect(mapped.v6.check('2001:db8::1', 'ipv6')).toBe(false);
  });

  it('unreadable allowed_hosts entries fail closed with BAD_SETTINGS', () => {
    for (const bad of [
      '127.1',
      '*',
      '*.',
      'a b',
      '10.0.0.0/33',
      '10.0.0.0/',
      '/8',
      '::/129',
      'x/8',
      '0177.0.0.1/8',
    ]) {
      expect(() => parseAllowedHosts(bad), bad).toThrow(
        expect.objectContaining({ code: ErrorCode.BAD_SETTINGS }),
      );
    }
  });

  it('allowed_ports', () => {
    expect(parseAllowedPorts('')).toEqual([]);
    expect(parseAllowedPorts(' 80, 443 ,8000-8100')).toEqual([
      [80, 80],
      [443, 443],
      [8000, 8100],
    ]);
    for (const bad of ['0', '65536', 'abc', '80-70', '-1', '1.5', '80;443']) {
      expect(() => parseAllowedPorts(bad), bad).toThrow(
        expect.objectContaining({ code: ErrorCode.BAD_SETTINGS }),
      );
    }
    const c = new NetworkChecker('', '8000-8100');
    expect([7999, 8000, 8100, 8101].map((p) => c.isPortAllowed(p))).toEqual([false, true, true, false]);
  });

  it('fromSettings accepts strings, numbers and arrays from JSON', () => {
    const c = NetworkChecker.fromSettings({ allowed_hosts: ['a.test', '10.0.0.0/8'], allowed_ports: 443 });
    expect(c?.isPortAllowed(443)).toBe(true);
    expect(c?.isPortAllowed(80)).toBe(false);
    expect(c?.matchesNameRule('a.test')).toBe(true);
    expect(() => NetworkChecker.fromSettings({ allowed_hosts: { x: 1 } })).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_SETTINGS }),
    );
  });
});
