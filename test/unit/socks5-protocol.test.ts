import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dial } from '../../src/channel/dial.ts';
import { ErrorCode, isTubesError } from '../../src/errors.ts';
import { CloseConnectionReason } from '../../src/protocol/close-reason.ts';
import { decodeAddress } from '../../src/protocol/socks5/codec.ts';
import {
  decodeOpenConnectionTail,
  decodeSocks5UdpPacket,
  decodeUdpRelayDatagrams,
  encodeAuthRequest,
  encodeGreeting,
  encodeNonLoopbackRefusal,
  encodeOpenConnectionTail,
  encodeReply,
  encodeRequest,
  encodeSocks5UdpPacket,
  encodeUdpRelayDatagram,
  gatewayRefusal,
  MAX_TAIL_HOST_BYTES,
  MAX_UDP_RELAY_DATA,
  type Socks5Action,
  Socks5Command,
  Socks5Reply,
  Socks5ServerHandshake,
  type Socks5ServerOptions,
  type SocksRefusal,
  socksReplyForClose,
} from '../../src/protocol/socks5/index.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

type Norm =
  | { type: 'write'; hex: string }
  | { type: 'request'; command: number; atyp: number; host: string; port: number }
  | { type: 'data'; hex: string }
  | { type: 'close'; code: string };

/** Comparable form: data actions merged (chunking may split the tunnelled bytes). */
function normalize(actions: Socks5Action[]): Norm[] {
  const out: Norm[] = [];
  for (const a of actions) {
    if (a.type === 'write') out.push({ type: 'write', hex: toHex(a.bytes) });
    else if (a.type === 'request') out.push({ type: 'request', ...a.request });
    else if (a.type === 'close') out.push({ type: 'close', code: a.error.code });
    else {
      const last = out[out.length - 1];
      if (last?.type === 'data') last.hex += toHex(a.bytes);
      else if (a.bytes.length > 0) out.push({ type: 'data', hex: toHex(a.bytes) });
    }
  }
  return out;
}

function feed(chunks: Uint8Array[], options?: Socks5ServerOptions): { actions: Norm[]; state: string } {
  const hs = new Socks5ServerHandshake(options);
  const actions: Socks5Action[] = [];
  for (const c of chunks) actions.push(...hs.push(c));
  return { actions: normalize(actions), state: hs.state };
}

/** Same result whole, split at every offset (2 chunks), and byte by byte. */
function feedEverySplit(
  bytes: Uint8Array,
  options?: Socks5ServerOptions,
): { actions: Norm[]; state: string } {
  const whole = feed([bytes], options);
  for (let i = 0; i <= bytes.length; i++) {
    expect(feed([bytes.subarray(0, i), bytes.subarray(i)], options), `split at ${i}`).toEqual(whole);
  }
  const singles = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
  expect(feed(singles, options), 'byte by byte').toEqual(whole);
  return whole;
}

const ZERO_BND = '01 00000000 0000';
const reply = (code: number) => toHex(hex(`05 ${code.toString(16).padStart(2, '0')} 00 ${ZERO_BND}`));

describe('SOCKS5 greeting (RFC 1928 §3)', () => {
  it('05 01 00 → 05 00 (original pam-socks5 test)', () => {
    const r = feedEverySplit(hex('05 01 00'));
    expect(r.actions).toEqual([{ type: 'write', hex: '0500' }]);
    expect(r.state).toBe('request');
  });

  it('version 4 → 05 FF and close (original pam-socks5 test)', () => {
    const r = feedEverySplit(hex('04 01 00'));
    expect(r.actions).toEqual([
      { type: 'write', hex: '05ff' },
      { type: 'close', code: ErrorCode.SOCKS_UNSUPPORTED },
    ]);
    expect(r.state).toBe('closed');
  });

  it('picks NO AUTH among several offered methods', () => {
    expect(feedEverySplit(hex('05 03 01 02 00')).actions).toEqual([{ type: 'write', hex: '0500' }]);
  });

  it('no acceptable method → 05 FF and close', () => {
    expect(feedEverySplit(hex('05 01 02')).actions).toEqual([
      { type: 'write', hex: '05ff' },
      { type: 'close', code: ErrorCode.SOCKS_UNSUPPORTED },
    ]);
    expect(feedEverySplit(hex('05 00')).actions).toEqual([
      { type: 'write', hex: '05ff' },
      { type: 'close', code: ErrorCode.SOCKS_UNSUPPORTED },
    ]);
  });

  it('waits for all methods before answering', () => {
    const hs = new Socks5ServerHandshake();
    expect(hs.push(hex('05 05 01 02 03'))).toEqual([]);
    expect(normalize(hs.push(hex('04 00')))).toEqual([{ type: 'write', hex: '0500' }]);
  });

  it('refuse mode answers like the original for non-loopback clients', () => {
    expect(feedEverySplit(hex('05 01 00'), { refuse: true }).actions).toEqual([
      { type: 'write', hex: '05ff' },
      { type: 'close', code: ErrorCode.SOCKS_REFUSED },
    ]);
    expect(feedEverySplit(hex('04 01'), { refuse: true }).actions).toEqual([
      { type: 'write', hex: reply(1) },
      { type: 'close', code: ErrorCode.SOCKS_REFUSED },
    ]);
    expect(toHex(encodeNonLoopbackRefusal(5))).toBe('05ff');
    expect(toHex(encodeNonLoopbackRefusal(4))).toBe(reply(1));
  });
});

describe('SOCKS5 username/password (RFC 1929)', () => {
  const options = { credentials: { username: 'alice', password: 's3cret' } };
  const auth = (u: string, p: string) => toHex(encodeAuthRequest(u, p));

  it('selects method 02 and accepts the right credentials', () => {
    const bytes = hex(`05 01 02 ${auth('alice', 's3cret')}`);
    expect(toHex(encodeAuthRequest('alice', 's3cret'))).toBe(`0105${ascii('alice')}06${ascii('s3cret')}`);
    const r = feedEverySplit(bytes, options);
    expect(r.actions).toEqual([
      { type: 'write', hex: '0502' },
      { type: 'write', hex: '0100' },
    ]);
    expect(r.state).toBe('request');
  });

  it('wrong password, wrong user, empty values → 01 01 and close', () => {
    for (const [u, p] of [
      ['alice', 's3creT'],
      ['alicE', 's3cret'],
      ['alice', ''],
      ['', ''],
      ['alice', 's3cret-longer'],
    ] as const) {
      expect(feedEverySplit(hex(`05 01 02 ${auth(u, p)}`), options).actions).toEqual([
        { type: 'write', hex: '0502' },
        { type: 'write', hex: '0101' },
        { type: 'close', code: ErrorCode.SOCKS_AUTH_FAILED },
      ]);
    }
  });

  it('refuses NO AUTH when credentials are configured', () => {
    expect(feedEverySplit(hex('05 01 00'), options).actions).toEqual([
      { type: 'write', hex: '05ff' },
      { type: 'close', code: ErrorCode.SOCKS_UNSUPPORTED },
    ]);
  });

  it('bad sub-negotiation version → 01 01 and close', () => {
    expect(feedEverySplit(hex('05 01 02 05 01 61 01 62'), options).actions).toEqual([
      { type: 'write', hex: '0502' },
      { type: 'write', hex: '0101' },
      { type: 'close', code: ErrorCode.SOCKS_UNSUPPORTED },
    ]);
  });

  it('then parses the request', () => {
    const bytes = hex(`05 01 02 ${auth('alice', 's3cret')} 05 01 00 01 7f000001 0050`);
    expect(feedEverySplit(bytes, options).actions).toEqual([
      { type: 'write', hex: '0502' },
      { type: 'write', hex: '0100' },
      { type: 'request', command: 1, atyp: 1, host: '127.0.0.1', port: 80 },
    ]);
  });
});

describe('SOCKS5 requests (RFC 1928 §4)', () => {
  const greet = '05 01 00';

  it('CONNECT example.com:80 (original pam-socks5 test)', () => {
    const bytes = hex(`${greet} 05 01 00 03 0b ${ascii('example.com')} 0050`);
    const r = feedEverySplit(bytes);
    expect(r.actions).toEqual([
      { type: 'write', hex: '0500' },
      { type: 'request', command: 1, atyp: 3, host: 'example.com', port: 80 },
    ]);
    expect(r.state).toBe('done');
  });

  it('CONNECT 192.168.1.1:443 (original pam-socks5 test; parsed only)', () => {
    expect(feedEverySplit(hex(`${greet} 05 01 00 01 c0a80101 01bb`)).actions).toEqual([
      { type: 'write', hex: '0500' },
      { type: 'request', command: 1, atyp: 1, host: '192.168.1.1', port: 443 },
    ]);
  });

  it('CONNECT IPv6 gives the compressed lower-case text', () => {
    expect(feedEverySplit(hex(`${greet} 05 01 00 04 20010db8000000000000000000000001 1f90`)).actions).toEqual(
      [
        { type: 'write', hex: '0500' },
        { type: 'request', command: 1, atyp: 4, host: '2001:db8::1', port: 8080 },
      ],
    );
  });

  it('BIND and UDP ASSOCIATE are parsed and reported', () => {
    expect(feedEverySplit(hex(`${greet} 05 02 00 01 00000000 0000`)).actions[1]).toEqual({
      type: 'request',
      command: Socks5Command.BIND,
      atyp: 1,
      host: '0.0.0.0',
      port: 0,
    });
    expect(feedEverySplit(hex(`${greet} 05 03 00 01 7f000001 1234`)).actions[1]).toEqual({
      type: 'request',
      command: Socks5Command.UDP_ASSOCIATE,
      atyp: 1,
      host: '127.0.0.1',
      port: 0x1234,
    });
  });

  it('unknown or not enabled commands → 05 07 and close', () => {
    expect(feedEverySplit(hex(`${greet} 05 09 00 01 7f000001 0050`)).actions).toEqual([
      { type: 'write', hex: '0500' },
      { type: 'write', hex: reply(7) },
      { type: 'close', code: ErrorCode.SOCKS_UNSUPPORTED },
    ]);
    expect(
      feedEverySplit(hex(`${greet} 05 02 00 01 7f000001 0050`), { commands: [Socks5Command.CONNECT] })
        .actions,
    ).toEqual([
      { type: 'write', hex: '0500' },
      { type: 'write', hex: reply(7) },
      { type: 'close', code: ErrorCode.SOCKS_UNSUPPORTED },
    ]);
  });

  it('unknown address type → 05 08 and close', () => {
    expect(feedEverySplit(hex(`${greet} 05 01 00 05 7f000001 0050`)).actions).toEqual([
      { type: 'write', hex: '0500' },
      { type: 'write', hex: reply(8) },
      { type: 'close', code: ErrorCode.SOCKS_UNSUPPORTED },
    ]);
  });

  it('wrong request version → 05 01 and close', () => {
    expect(feedEverySplit(hex(`${greet} 04 01 00 01 7f000001 0050`)).actions).toEqual([
      { type: 'write', hex: '0500' },
      { type: 'write', hex: reply(1) },
      { type: 'close', code: ErrorCode.SOCKS_MALFORMED },
    ]);
  });

  it('empty, non-UTF-8 or control-character domains → 05 01 and close', () => {
    for (const domain of ['00', '02 c328', '03 610a62']) {
      expect(feedEverySplit(hex(`${greet} 05 01 00 03 ${domain} 0050`)).actions).toEqual([
        { type: 'write', hex: '0500' },
        { type: 'write', hex: reply(1) },
        { type: 'close', code: ErrorCode.SOCKS_MALFORMED },
      ]);
    }
  });

  it('255-byte domain', () => {
    const name = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`;
    expect(name.length).toBe(255);
    const r = feedEverySplit(hex(`${greet} ${toHex(encodeRequest(Socks5Command.CONNECT, name, 443))}`));
    expect(r.actions[1]).toEqual({ type: 'request', command: 1, atyp: 3, host: name, port: 443 });
  });

  it('bytes after the request are tunnelled data, also later pushes', () => {
    const http = ascii('GET / HTTP/1.0\r\n\r\n');
    const hs = new Socks5ServerHandshake();
    const bytes = hex(`${greet} 05 01 00 01 7f000001 0050 ${http}`);
    expect(feedEverySplit(bytes).actions).toEqual([
      { type: 'write', hex: '0500' },
      { type: 'request', command: 1, atyp: 1, host: '127.0.0.1', port: 80 },
      { type: 'data', hex: http },
    ]);
    hs.push(bytes);
    expect(normalize(hs.push(hex('aabb')))).toEqual([{ type: 'data', hex: 'aabb' }]);
    expect(hs.push(new Uint8Array(0))).toEqual([]);
  });

  it('nothing more after close', () => {
    const hs = new Socks5ServerHandshake();
    hs.push(hex('04 01 00'));
    expect(hs.state).toBe('closed');
    expect(hs.push(hex('05 01 00'))).toEqual([]);
  });
});

describe('SOCKS5 reply encoders', () => {
  it('every reply code with BND 0.0.0.0:0', () => {
    for (const code of Object.values(Socks5Reply)) {
      expect(toHex(encodeReply(code))).toBe(reply(code));
    }
    expect(toHex(encodeReply(Socks5Reply.SUCCEEDED))).toBe('05000001000000000000');
  });

  it('success with BND address', () => {
    expect(toHex(encodeReply(Socks5Reply.SUCCEEDED, { host: '127.0.0.1', port: 1080 }))).toBe(
      '050000017f0000010438',
    );
    expect(toHex(encodeReply(Socks5Reply.SUCCEEDED, { host: '::1', port: 443 }))).toBe(
      `05000004${'00'.repeat(15)}0101bb`,
    );
    expect(toHex(encodeReply(Socks5Reply.SUCCEEDED, { host: 'proxy.test', port: 1 }))).toBe(
      `050000030a${ascii('proxy.test')}0001`,
    );
  });

  it('rejects bad ports and oversize names with TubesError', () => {
    expect(() => encodeReply(0, { host: '1.2.3.4', port: 65536 })).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_ARGUMENT }),
    );
    expect(() => encodeRequest(1, 'a'.repeat(256), 1)).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_ARGUMENT }),
    );
    expect(toHex(encodeGreeting([0, 2]))).toBe('05020002');
  });
});

describe('OpenConnection SOCKS5 tail (docs/ORIGINAL.md, “OpenConnection tails”)', () => {
  it('layout: host_len u32 BE + host + port u16 BE', () => {
    expect(toHex(encodeOpenConnectionTail('example.com', 80))).toBe(`0000000b${ascii('example.com')}0050`);
    expect(decodeOpenConnectionTail(hex(`0000000b${ascii('example.com')}0050`))).toEqual({
      host: 'example.com',
      port: 80,
      command: Socks5Command.CONNECT,
    });
  });

  it('empty host, 255-byte host, port 0 and 65535 round-trip', () => {
    for (const [host, port] of [
      ['', 0],
      ['h'.repeat(255), 65535],
      ['192.168.1.1', 443],
      ['ünïcødé.example', 1],
    ] as const) {
      const tail = encodeOpenConnectionTail(host, port);
      expect(tail.length).toBe(4 + Buffer.byteLength(host) + 2);
      expect(decodeOpenConnectionTail(tail)).toEqual({ host, port, command: Socks5Command.CONNECT });
    }
    expect(toHex(encodeOpenConnectionTail('', 65535))).toBe('00000000ffff');
  });

  it('IPv6: canonical compressed text out, the original 8-group form accepted in', () => {
    expect(decodeOpenConnectionTail(encodeOpenConnectionTail('2001:0DB8:0:0:0:0:0:1', 22)).host).toBe(
      '2001:db8::1',
    );
    expect(toHex(encodeOpenConnectionTail('2001:0DB8:0:0:0:0:0:1', 22))).toBe(
      `0000000b${ascii('2001:db8::1')}0016`,
    );
    const rust = '2001:db8:0:0:0:0:0:1';
    const tail = hex(`000000${rust.length.toString(16)}${ascii(rust)}0016`);
    expect(decodeOpenConnectionTail(tail)).toEqual({ host: '2001:db8::1', port: 22, command: 1 });
    expect(decodeOpenConnectionTail(encodeOpenConnectionTail('0:0:0:0:0:0:0:1', 1)).host).toBe('::1');
  });

  it('UDP ASSOCIATE extension: one trailing command byte', () => {
    const tail = encodeOpenConnectionTail('0.0.0.0', 0, Socks5Command.UDP_ASSOCIATE);
    expect(toHex(tail)).toBe(`00000007${ascii('0.0.0.0')}000003`);
    expect(decodeOpenConnectionTail(tail).command).toBe(Socks5Command.UDP_ASSOCIATE);
    expect(decodeOpenConnectionTail(hex(`00000001 61 0050 01`)).command).toBe(Socks5Command.CONNECT);
  });

  it('truncated or malformed tails throw TubesError', () => {
    const cases: [string, string][] = [
      ['', ErrorCode.SOCKS_MALFORMED],
      ['000000', ErrorCode.SOCKS_MALFORMED],
      ['00000000', ErrorCode.SOCKS_MALFORMED],
      ['0000000000', ErrorCode.SOCKS_MALFORMED],
      [`0000000b${ascii('example.co')}`, ErrorCode.SOCKS_MALFORMED],
      [`0000000b${ascii('example.com')}00`, ErrorCode.SOCKS_MALFORMED],
      ['ffffffff 61 0050', ErrorCode.SOCKS_MALFORMED],
      [`${(MAX_TAIL_HOST_BYTES + 1).toString(16).padStart(8, '0')}`, ErrorCode.SOCKS_MALFORMED],
      ['00000002 c328 0050', ErrorCode.SOCKS_MALFORMED],
      ['00000001 61 0050 0203', ErrorCode.SOCKS_MALFORMED],
      ['00000001 61 0050 02', ErrorCode.SOCKS_UNSUPPORTED],
    ];
    for (const [h, code] of cases) {
      expect(() => decodeOpenConnectionTail(hex(h)), h).toThrow(expect.objectContaining({ code }));
    }
    expect(() => encodeOpenConnectionTail('x', -1)).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_ARGUMENT }),
    );
    expect(() => encodeOpenConnectionTail('x', 65536)).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_ARGUMENT }),
    );
  });

  it('decodes from a view inside a larger buffer', () => {
    const frame = hex(`00650000000700000001 61 1f90`);
    expect(decodeOpenConnectionTail(frame.subarray(6))).toEqual({ host: 'a', port: 8080, command: 1 });
  });
});

describe('CloseConnection → SOCKS reply code', () => {
  const cases: [number | undefined, string | undefined, number][] = [
    [10, 'SOCKS5 port 21 not allowed', 0x02],
    [10, 'SOCKS5 destination 10.0.0.1 not allowed or unresolvable', 0x02],
    [10, 'SOCKS5 OpenConnection not supported in this mode', 0x01],
    [10, 'connect ENETUNREACH 10.9.9.9:80', 0x03],
    [10, 'connect EHOSTUNREACH 10.9.9.9:80', 0x04],
    [10, 'getaddrinfo ENOTFOUND nowhere.invalid', 0x04],
    [16, 'DNS lookup failed for SOCKS5 destination nowhere.invalid: ENOTFOUND', 0x04],
    [16, undefined, 0x04],
    [10, 'connect ECONNREFUSED 127.0.0.1:1', 0x05],
    [4, undefined, 0x05],
    [10, 'connect ETIMEDOUT 10.1.1.1:80', 0x06],
    [2, undefined, 0x06],
    [10, 'Command not supported', 0x07],
    [10, 'Address type not supported', 0x08],
    [23, undefined, 0x02],
    [9, 'Backend connection closed unexpectedly', 0x01],
    [10, undefined, 0x01],
    [undefined, undefined, 0x01],
    [0, '', 0x01],
  ];
  it.each(cases)('reason %s, %s → %s', (reason, message, expected) => {
    expect(socksReplyForClose(reason, message)).toBe(expected);
  });
});

describe('the texts the gateway writes → the SOCKS reply each is meant for', () => {
  /** The errors the opener passes on: every cut of a valid tail short of a whole one, and the fixtures above. */
  const tailErrors = (): Error[] => {
    const bad = [
      // 0.0.0.0:0 UDP ASSOCIATE is 14 bytes; cut at 13 it is a whole CONNECT tail
      ...Array.from({ length: 13 }, (_, i) => hex(`00000007${ascii('0.0.0.0')}000003`).subarray(0, i)),
      hex(`${(MAX_TAIL_HOST_BYTES + 1).toString(16).padStart(8, '0')}`),
      hex('00000002 c328 0050'),
      hex('00000002 610a 0050'),
      hex('00000001 61 0050 0203'),
      hex('00000001 61 0050 02'),
    ];
    return bad.map((tail) => {
      try {
        decodeOpenConnectionTail(tail);
      } catch (err) {
        return err as Error;
      }
      throw new Error(`tail ${toHex(tail)} decoded`);
    });
  };

  // One entry per gatewayRefusal constructor (the type makes a new constructor need one): the reply it is
  // meant to produce and arguments to build its text with.
  type Samples = {
    [K in keyof typeof gatewayRefusal]: {
      reply: Socks5Reply;
      args: Parameters<(typeof gatewayRefusal)[K]>[];
    };
  };
  const samples: Samples = {
    notSocksMode: { reply: Socks5Reply.GENERAL_FAILURE, args: [[]] },
    badTail: { reply: Socks5Reply.GENERAL_FAILURE, args: tailErrors().map((e) => [e]) },
    portNotAllowed: { reply: Socks5Reply.NOT_ALLOWED, args: [[0], [21], [65535]] },
    destinationNotAllowed: {
      reply: Socks5Reply.NOT_ALLOWED,
      args: [['10.0.0.1'], ['evil.test'], ['127.1'], ['::1'], ['refused.test'], ['timeout.test']],
    },
    resolutionFailed: {
      reply: Socks5Reply.HOST_UNREACHABLE,
      args: [
        ['nowhere.test', 'ENOTFOUND'],
        ['slow.test', 'ETIMEOUT'],
        ['empty.test', 'ENODATA'],
        ['refused.test', 'ESERVFAIL'],
      ],
    },
  };

  it.each(Object.keys(samples) as (keyof Samples)[])('%s', (kind) => {
    const build = gatewayRefusal[kind] as (...args: unknown[]) => SocksRefusal;
    const { reply, args } = samples[kind];
    expect(args.length).toBeGreaterThan(0);
    for (const a of args) {
      const refusal = build(...a);
      expect(refusal.reply, refusal.message).toBe(reply);
      expect(socksReplyForClose(refusal.reason, refusal.message), refusal.message).toBe(reply);
    }
  });

  it("the client's host name never steers the reply (any host text, our own texts matched whole)", () => {
    const hosts = fc.string({ minLength: 1, maxLength: 80 }).map((h) => h.replace(/\n/g, ' '));
    const triggers = fc.constantFrom(
      'forbidden.example',
      'enetunreach.example',
      'refused.test',
      'timeout.test',
      'x OpenConnection not supported in this mode',
      'address type',
      'command not supported',
    );
    fc.assert(
      fc.property(fc.oneof(hosts, triggers), (host) => {
        const denied = gatewayRefusal.destinationNotAllowed(host);
        expect(socksReplyForClose(denied.reason, denied.message)).toBe(Socks5Reply.NOT_ALLOWED);
        if (!host.includes(':')) {
          const dns = gatewayRefusal.resolutionFailed(host, 'ENOTFOUND');
          expect(socksReplyForClose(dns.reason, dns.message)).toBe(Socks5Reply.HOST_UNREACHABLE);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('reason codes of the refusals', () => {
    expect(gatewayRefusal.notSocksMode().reason).toBe(CloseConnectionReason.ConnectionFailed);
    expect(gatewayRefusal.portNotAllowed(1).reason).toBe(CloseConnectionReason.ConnectionFailed);
    expect(gatewayRefusal.destinationNotAllowed('a').reason).toBe(CloseConnectionReason.ConnectionFailed);
    expect(gatewayRefusal.resolutionFailed('a.test', 'ENOTFOUND').reason).toBe(
      CloseConnectionReason.AddressResolutionFailed,
    );
    expect(gatewayRefusal.badTail(new Error('x')).reason).toBe(CloseConnectionReason.ProtocolError);
  });

  it("a refused dial's own error text (passed on as it is) → 05 connection refused", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await new Promise<Error>((resolve) => dial('127.0.0.1', port, 5_000).once('error', resolve));
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(socksReplyForClose(CloseConnectionReason.ConnectionFailed, err.message)).toBe(
      Socks5Reply.CONNECTION_REFUSED,
    );
  });
});

describe('cut at every offset: the whole-message decoders', () => {
  it('ATYP ADDR PORT: null until the port is complete, anywhere in a buffer', () => {
    for (const [h, host, port] of [
      ['01 7f000001 0050', '127.0.0.1', 80],
      [`04 20010db8000000000000000000000001 01bb`, '2001:db8::1', 443],
      [`03 0b ${ascii('example.com')} 0050`, 'example.com', 80],
    ] as const) {
      const whole = hex(h);
      for (let i = 0; i < whole.length; i++)
        expect(decodeAddress(whole.subarray(0, i), 0), `${h} cut at ${i}`).toBeNull();
      for (let k = 0; k < 4; k++) {
        const buf = new Uint8Array(k + whole.length + 2).fill(0xee);
        buf.set(whole, k);
        expect(decodeAddress(buf, k)).toEqual({ atyp: whole[0], host, port, end: k + whole.length });
      }
    }
    expect(() => decodeAddress(hex('05 7f000001 0050'), 0)).toThrow(
      expect.objectContaining({ code: ErrorCode.SOCKS_UNSUPPORTED }),
    );
    expect(() => decodeAddress(hex('03 00 0050'), 0)).toThrow(
      expect.objectContaining({ code: ErrorCode.SOCKS_MALFORMED }),
    );
  });

  it.each([
    `0000000b${ascii('example.com')}0050`,
    `00000007${ascii('0.0.0.0')}000003`,
    `0000000b${ascii('2001:db8::1')}0016 01`,
    '00000000ffff',
  ])('OpenConnection tail %s', (h) => {
    const whole = hex(h);
    const expected = decodeOpenConnectionTail(whole);
    const bare = 6 + Buffer.from(whole).readUInt32BE(0); // length without the extension byte
    for (let i = 0; i < whole.length; i++) {
      const cut = whole.subarray(0, i);
      if (i === bare) expect(decodeOpenConnectionTail(cut)).toEqual({ ...expected, command: 1 });
      else
        expect(() => decodeOpenConnectionTail(cut), `cut at ${i}`).toThrow(
          expect.objectContaining({ code: ErrorCode.SOCKS_MALFORMED }),
        );
    }
    for (let k = 0; k < 8; k++) {
      const buf = new Uint8Array(k + whole.length + 3).fill(0xee);
      buf.set(whole, k);
      expect(decodeOpenConnectionTail(buf.subarray(k, k + whole.length))).toEqual(expected);
    }
  });

  it('UDP relay records: whole records before a cut at a boundary, an error anywhere else', () => {
    const records = [
      { host: '10.1.2.3', port: 9, data: hex('0102') },
      { host: '2001:db8::5', port: 65535, data: new Uint8Array(0) },
      { host: 'x.test', port: 1, data: hex('ff') },
    ];
    const encoded = records.map(encodeUdpRelayDatagram);
    const payload = Buffer.concat(encoded);
    const boundaries = encoded.map((_, n) => encoded.slice(0, n + 1).reduce((sum, r) => sum + r.length, 0));
    const plain = (ds: { host: string; port: number; data: Uint8Array }[]) =>
      ds.map((d) => ({ host: d.host, port: d.port, data: toHex(d.data) }));
    for (let i = 0; i <= payload.length; i++) {
      const cut = payload.subarray(0, i);
      const n = boundaries.indexOf(i);
      if (n >= 0) expect(plain(decodeUdpRelayDatagrams(cut))).toEqual(plain(records.slice(0, n + 1)));
      else
        expect(() => decodeUdpRelayDatagrams(cut), `cut at ${i}`).toThrow(
          expect.objectContaining({ code: ErrorCode.SOCKS_MALFORMED }),
        );
    }
  });

  it('RFC 1928 §7 datagram header: an error until the address is complete, then the rest is data', () => {
    for (const host of ['127.0.0.1', '2001:db8::7', 'dns.test']) {
      const packet = encodeSocks5UdpPacket(host, 53, hex('beef'));
      const dataAt = packet.length - 2;
      for (let i = 0; i <= packet.length; i++) {
        const cut = packet.subarray(0, i);
        if (i >= dataAt) {
          expect(decodeSocks5UdpPacket(cut)).toMatchObject({ frag: 0, host, port: 53 });
          expect(toHex(decodeSocks5UdpPacket(cut).data)).toBe(toHex(packet.subarray(dataAt, i)));
        } else
          expect(() => decodeSocks5UdpPacket(cut), `${host} cut at ${i}`).toThrow(
            expect.objectContaining({ code: ErrorCode.SOCKS_MALFORMED }),
          );
      }
    }
  });
});

describe('UDP ASSOCIATE relay records (extension)', () => {
  it('layout: ATYP ADDR PORT LEN DATA', () => {
    const rec = encodeUdpRelayDatagram({ host: '127.0.0.1', port: 53, data: hex('abcd') });
    expect(toHex(rec)).toBe('017f00000100350002abcd');
    const v6 = encodeUdpRelayDatagram({ host: '::1', port: 7, data: new Uint8Array(0) });
    expect(toHex(v6)).toBe(`04${'00'.repeat(15)}0100070000`);
    const dn = encodeUdpRelayDatagram({ host: 'dns.test', port: 53, data: hex('00') });
    expect(toHex(dn)).toBe(`0308${ascii('dns.test')}0035000100`);
  });

  it('several records in one payload, round-trip', () => {
    const a = { host: '10.1.2.3', port: 9, data: hex('01') };
    const b = { host: '2001:db8::5', port: 65535, data: new Uint8Array(1000).fill(7) };
    const c = { host: 'x.test', port: 1, data: new Uint8Array(0) };
    const payload = Buffer.concat([
      encodeUdpRelayDatagram(a),
      encodeUdpRelayDatagram(b),
      encodeUdpRelayDatagram(c),
    ]);
    const out = decodeUdpRelayDatagrams(payload);
    expect(out.map((d) => ({ ...d, data: toHex(d.data) }))).toEqual(
      [a, b, c].map((d) => ({ ...d, data: toHex(d.data) })),
    );
  });

  it('limits and malformed records', () => {
    expect(() =>
      encodeUdpRelayDatagram({ host: '1.2.3.4', port: 1, data: new Uint8Array(MAX_UDP_RELAY_DATA + 1) }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.BAD_ARGUMENT }));
    for (const h of ['', '01', '017f000001', '017f0000010035', '017f00000100350002ab', '0500', '0300']) {
      expect(() => decodeUdpRelayDatagrams(hex(h)), h).toThrow(
        expect.objectContaining({ code: expect.stringMatching(/^TUBES_ERR_SOCKS_/) }),
      );
    }
    expect(() => decodeUdpRelayDatagrams(hex('017f0000010035ffff'))).toThrow(
      expect.objectContaining({ code: ErrorCode.SOCKS_MALFORMED }),
    );
  });

  it('RFC 1928 §7 client datagrams', () => {
    const pkt = encodeSocks5UdpPacket('127.0.0.1', 5353, hex('beef'));
    expect(toHex(pkt)).toBe('000000017f00000114e9beef');
    expect(decodeSocks5UdpPacket(pkt)).toMatchObject({ frag: 0, host: '127.0.0.1', port: 5353 });
    expect(toHex(decodeSocks5UdpPacket(pkt).data)).toBe('beef');
    expect(decodeSocks5UdpPacket(hex('000001017f0000010001')).frag).toBe(1);
    for (const h of ['', '000000', '010000017f00000114e9', '00000001', '0000000900']) {
      expect(() => decodeSocks5UdpPacket(hex(h)), h).toThrow(
        expect.objectContaining({ code: expect.stringMatching(/^TUBES_ERR_SOCKS_/) }),
      );
    }
  });
});

describe('properties', () => {
  /** Cut points → chunks. */
  const chunked = (bytes: Uint8Array, cuts: number[]): Uint8Array[] => {
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const out: Uint8Array[] = [];
    let prev = 0;
    for (const p of points) {
      out.push(bytes.subarray(prev, p));
      prev = p;
    }
    out.push(bytes.subarray(prev));
    return out;
  };

  const host = fc.oneof(
    fc.ipV4(),
    fc.ipV6(),
    fc.domain().filter((d) => Buffer.byteLength(d) <= 255),
  );
  const handshake = fc.record({
    auth: fc.boolean(),
    user: fc.string({ maxLength: 20 }),
    pass: fc.string({ maxLength: 20 }),
    command: fc.constantFrom(1, 2, 3, 9),
    host,
    port: fc.integer({ min: 0, max: 65535 }),
    tail: fc.uint8Array({ maxLength: 64 }),
  });

  it('random chunking gives the same actions as one push', () => {
    fc.assert(
      fc.property(handshake, fc.array(fc.nat(), { maxLength: 8 }), (h, cuts) => {
        const options: Socks5ServerOptions = h.auth ? { credentials: { username: 'u', password: 'p' } } : {};
        const bytes = Buffer.concat([
          encodeGreeting(h.auth ? [2] : [0]),
          h.auth ? encodeAuthRequest(h.user, h.pass) : new Uint8Array(0),
          encodeRequest(h.command as Socks5Command, h.host, h.port),
          h.tail,
        ]);
        expect(feed(chunked(bytes, cuts), options)).toEqual(feed([bytes], options));
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes never throw, never buffer unboundedly, and finish', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.array(fc.nat(), { maxLength: 16 }),
        fc.boolean(),
        (bytes, cuts, auth) => {
          const hs = new Socks5ServerHandshake(auth ? { credentials: { username: 'u', password: 'p' } } : {});
          let buffered = 0;
          for (const c of chunked(bytes, cuts)) {
            const actions = hs.push(c);
            const out = actions.reduce((n, a) => n + (a.type === 'data' ? a.bytes.length : 0), 0);
            buffered += c.length - out;
          }
          // everything not handed back as data was consumed by a handshake message (≤ 2 + 255 + 513 + 262)
          expect(buffered).toBeLessThanOrEqual(257 + 513 + 262);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('decoders throw only TubesError on random input', () => {
    const onlyTubes = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(isTubesError(err)).toBe(true);
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        onlyTubes(() => decodeOpenConnectionTail(bytes));
        onlyTubes(() => decodeUdpRelayDatagrams(bytes));
        onlyTubes(() => decodeSocks5UdpPacket(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it('tail encode/decode round-trips any host and port', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 100 }), host),
        fc.integer({ min: 0, max: 65535 }),
        (h, port) => {
          fc.pre(![...h].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f));
          fc.pre(Buffer.from(h).toString() === h);
          const out = decodeOpenConnectionTail(encodeOpenConnectionTail(h, port));
          expect(out.port).toBe(port);
          expect(decodeOpenConnectionTail(encodeOpenConnectionTail(out.host, port)).host).toBe(out.host);
        },
      ),
    );
  });
});
