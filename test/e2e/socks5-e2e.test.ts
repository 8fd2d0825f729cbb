/**
 * socks5 mode through two real tubes: curl, ncat and the `socks` client against local servers.
 * Needs curl and ncat (Debian packages curl, ncat); skipped loudly without them.
 */
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import type net from 'node:net';
import { SocksClient } from 'socks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type HttpTestServer,
  requireTools,
  runCommand,
  startHttpServer,
  startUdpEchoServer,
  type UdpEchoServer,
} from '../helpers/peers.ts';
import { splitHostPort, type TubePair, tubePair } from '../helpers/tubes.ts';

const missing = requireTools(['curl', 'ncat']);

async function socksPair(
  server: Record<string, unknown>,
  gateway: Record<string, unknown>,
): Promise<TubePair> {
  return tubePair({
    serverSettings: {
      conversationType: 'tunnel',
      socks_mode: true,
      local_listen_addr: '127.0.0.1:0',
      ...server,
    },
    clientSettings: { conversationType: 'tunnel', ...gateway },
  });
}

describe.skipIf(missing !== undefined)('socks5 mode with real clients', () => {
  let web: HttpTestServer;
  let pair: TubePair;
  let proxy: string;
  beforeAll(async () => {
    web = await startHttpServer({ bigFileBytes: 50 * 1000 * 1000 });
    pair = await socksPair(
      {},
      { allowed_hosts: '127.0.0.1, localhost, ::1', allowed_ports: `${web.port},1` },
    );
    proxy = pair.listenAddr as string;
  }, 60_000);
  afterAll(async () => {
    await pair?.close();
    await web?.close();
  });

  it('curl --socks5 fetches a body byte for byte', async () => {
    const r = await runCommand('curl', ['-sS', '--max-time', '20', '--socks5', proxy, web.url('/hello.txt')]);
    expect(r.stderr.toString()).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('hello through the tunnel\n');
  });

  it('curl --socks5-hostname resolves on the gateway', async () => {
    const r = await runCommand('curl', [
      '-sS',
      '--max-time',
      '20',
      '--socks5-hostname',
      proxy,
      `http://localhost:${web.port}/hello.txt`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('hello through the tunnel\n');
  });

  it('downloads 50 MB with an equal sha256', async () => {
    const r = await runCommand(
      'curl',
      ['-sS', '--max-time', '120', '--socks5-hostname', proxy, web.url('/big.bin')],
      {
        timeout: 130_000,
        maxStdout: 60 * 1000 * 1000,
      },
    );
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(50 * 1000 * 1000);
    expect(createHash('sha256').update(r.stdout).digest('hex')).toBe(web.bigFile?.sha256);
  }, 150_000);

  it('refused destination port: SOCKS reply 5 visible to curl (exit 97)', async () => {
    const r = await runCommand('curl', ['-sS', '--max-time', '20', '--socks5', proxy, 'http://127.0.0.1:1/']);
    expect(r.code).toBe(97);
    expect(r.stderr.toString()).toMatch(/\(5\)/);
  });

  it('half-close through ncat gets the whole response, 20 of 20 runs', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await runCommand(
        'ncat',
        ['--proxy', proxy, '--proxy-type', 'socks5', '127.0.0.1', String(web.port)],
        { input: 'GET /hello.txt HTTP/1.0\r\n\r\n', timeout: 20_000 },
      );
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toMatch(/\r\n\r\nhello through the tunnel\n$/);
    }
  }, 120_000);

  it('the socks client: IPv4, domain and IPv6 destinations', async () => {
    const v6 = http.createServer((_req, res) => res.end('six\n'));
    await new Promise<void>((r) => v6.listen(0, '::1', r));
    const v6port = (v6.address() as net.AddressInfo).port;
    const v6pair = await socksPair({}, { allowed_hosts: '127.0.0.1,localhost,::1' });
    try {
      const { host, port } = splitHostPort(v6pair.listenAddr as string);
      for (const [dest, p, expectBody] of [
        ['127.0.0.1', web.port, 'hello through the tunnel\n'],
        ['localhost', web.port, 'hello through the tunnel\n'],
        ['::1', v6port, 'six\n'],
      ] as const) {
        const { socket } = await SocksClient.createConnection({
          proxy: { host, port, type: 5 },
          command: 'connect',
          destination: { host: dest, port: p },
          timeout: 10_000,
        });
        const path = dest === '::1' ? '/' : '/hello.txt';
        socket.end(`GET ${path} HTTP/1.0\r\nHost: x\r\n\r\n`);
        const chunks: Buffer[] = [];
        for await (const c of socket) chunks.push(c as Buffer);
        expect(Buffer.concat(chunks).toString()).toMatch(new RegExp(`${expectBody.replace('\n', '\\n')}$`));
      }
    } finally {
      await v6pair.close();
      await new Promise<void>((r) => v6.close(() => r()));
    }
  });
});

describe.skipIf(missing !== undefined)(
  'socks5 allow-lists and bypass attempts (codes visible to the client)',
  () => {
    let web: HttpTestServer;
    let cidr: TubePair;
    let names: TubePair;
    beforeAll(async () => {
      web = await startHttpServer();
      // Only 127.0.0.1/32 on the web port.
      cidr = await socksPair({}, { allowed_hosts: '127.0.0.1/32', allowed_ports: String(web.port) });
      // Only names under *.localhost, plus a CIDR that no local name resolves into.
      names = await socksPair({}, { allowed_hosts: '*.localhost, 192.0.2.1/32' });
    }, 60_000);
    afterAll(async () => {
      await cidr?.close();
      await names?.close();
      await web?.close();
    });

    async function curl(
      pair: TubePair,
      url: string,
    ): Promise<{ code: number | null; reply?: number; out: string }> {
      const r = await runCommand('curl', [
        '-sS',
        '--max-time',
        '15',
        '--socks5-hostname',
        pair.listenAddr as string,
        url,
      ]);
      const m = /\((\d)\)/.exec(r.stderr.toString());
      return { code: r.code, ...(m ? { reply: Number(m[1]) } : {}), out: r.stdout.toString() };
    }

    /** The socks client sends the host exactly as given (curl normalises numeric hosts before asking). */
    async function socksReply(pair: TubePair, host: string, port: number): Promise<string> {
      const { host: ph, port: pp } = splitHostPort(pair.listenAddr as string);
      try {
        const { socket } = await SocksClient.createConnection({
          proxy: { host: ph, port: pp, type: 5 },
          command: 'connect',
          destination: { host, port },
          timeout: 10_000,
        });
        socket.destroy();
        return 'connected';
      } catch (err) {
        return (err as Error).message;
      }
    }

    it('the allowed IP and port pass, and an IPv4-mapped IPv6 form of it is normalised and passes', async () => {
      const r = await curl(cidr, web.url('/hello.txt'));
      expect(r.code).toBe(0);
      expect(r.out).toBe('hello through the tunnel\n');
      expect(await socksReply(cidr, '::ffff:127.0.0.1', web.port)).toBe('connected');
    });

    it.each([
      ['a port not in allowed_ports', 2, (p: number) => `http://127.0.0.1:${p + 1}/`],
      ['an IP outside the CIDR', 2, (p: number) => `http://127.0.0.2:${p}/`],
      ['IPv6 loopback when only an IPv4 CIDR is allowed', 2, (p: number) => `http://[::1]:${p}/`],
      ['the IPv4-mapped form of a refused IP', 2, (p: number) => `http://[::ffff:127.0.0.2]:${p}/`],
    ])('curl: refuses %s with reply %d', async (_what, reply, url) => {
      const reached = web.connections;
      const r = await curl(cidr, url(web.port));
      expect(r.code).toBe(97);
      expect(r.reply).toBe(reply);
      expect(web.connections, 'a refused request never reaches the web server').toBe(reached);
    });

    it('curl: the apex of a wildcard is not matched, and a name resolving outside the CIDRs is refused (2)', async () => {
      const reached = web.connections;
      const r = await curl(names, `http://localhost:${web.port}/`);
      expect(r.code).toBe(97);
      expect(r.reply).toBe(2);
      expect(web.connections).toBe(reached);
    });

    it('curl: an unresolvable name under the wildcard gets host unreachable (4)', async () => {
      // Matches `*.localhost`, but this resolver has no address for it.
      const reached = web.connections;
      const r = await curl(names, `http://nothing.localhost:${web.port}/`);
      expect(r.code).toBe(97);
      expect(r.reply).toBe(4);
      expect(web.connections).toBe(reached);
    });

    it.each(['0x7f.1', '2130706433', '0177.0.0.1', '127.1'])(
      'socks client: numeric form %s is refused',
      async (host) => {
        const reached = web.connections;
        expect(await socksReply(cidr, host, web.port)).toMatch(
          /not allowed|Socks5 proxy rejected connection - NotAllowed/i,
        );
        expect(web.connections, 'a refused request never reaches the web server').toBe(reached);
      },
    );
  },
);

describe.skipIf(missing !== undefined)('socks5 username/password (RFC 1929)', () => {
  let web: HttpTestServer;
  let pair: TubePair;
  beforeAll(async () => {
    web = await startHttpServer();
    pair = await socksPair(
      { socks_username: 'alice', socks_password: 'sécret' },
      { allowed_hosts: '127.0.0.1' },
    );
  }, 60_000);
  afterAll(async () => {
    await pair?.close();
    await web?.close();
  });

  it('right credentials pass, wrong ones are refused', async () => {
    const ok = await runCommand('curl', [
      '-sS',
      '--max-time',
      '15',
      '-x',
      `socks5h://alice:s%C3%A9cret@${pair.listenAddr}`,
      web.url('/hello.txt'),
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stdout.toString()).toBe('hello through the tunnel\n');
    const reached = web.connections;
    const requests = web.requests;
    const bad = await runCommand('curl', [
      '-sS',
      '--max-time',
      '15',
      '-x',
      `socks5h://alice:wrong@${pair.listenAddr}`,
      web.url('/hello.txt'),
    ]);
    expect(bad.code).toBe(97);
    expect(web.connections).toBe(reached);
    expect(web.requests).toBe(requests);
  });
});

describe('socks5 UDP ASSOCIATE (webrtc-tubes extension)', () => {
  let pair: TubePair;
  let udpEcho: UdpEchoServer;
  beforeAll(async () => {
    udpEcho = await startUdpEchoServer();
    pair = await socksPair({}, { allowed_hosts: '127.0.0.1', allowed_ports: String(udpEcho.port) });
  }, 60_000);
  afterAll(async () => {
    await pair?.close();
    await udpEcho?.close();
  });

  async function associate(): Promise<{ relay: { host: string; port: number }; control: net.Socket }> {
    const { host, port } = splitHostPort(pair.listenAddr as string);
    // createConnection() only does CONNECT; an association is driven through the event API.
    const client = new SocksClient({
      proxy: { host, port, type: 5 },
      command: 'associate',
      destination: { host: '0.0.0.0', port: 0 },
      timeout: 10_000,
    });
    const info = await new Promise<{ remoteHost?: { host: string; port: number }; socket: net.Socket }>(
      (resolve, reject) => {
        client.on('established', resolve);
        client.on('error', reject);
        client.connect();
      },
    );
    return { relay: info.remoteHost as { host: string; port: number }, control: info.socket };
  }

  it('a DNS-style request/response round-trips through the tube to a local UDP echo', async () => {
    const { relay, control } = await associate();
    expect(relay.host).toBe('127.0.0.1');
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    try {
      // A DNS query for example.test (A record), as bytes on the wire.
      const query = Buffer.from(
        '12340100000100000000000007' +
          Buffer.from('example').toString('hex') +
          '04' +
          Buffer.from('test').toString('hex') +
          '0000010001',
        'hex',
      );
      const replies: Buffer[] = [];
      client.on('message', (m) => replies.push(m));
      const frame = SocksClient.createUDPFrame({
        remoteHost: { host: '127.0.0.1', port: udpEcho.port },
        data: query,
      });
      for (let i = 0; i < 20 && replies.length === 0; i++) {
        client.send(frame, relay.port, relay.host);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(replies.length).toBeGreaterThan(0);
      const parsed = SocksClient.parseUDPFrame(replies[0] as Buffer);
      expect(parsed.remoteHost).toMatchObject({ host: '127.0.0.1', port: udpEcho.port });
      expect(parsed.data.equals(query)).toBe(true);
    } finally {
      client.close();
      control.destroy();
    }
  });

  it('a datagram to a port the gateway does not allow is dropped; the association stays usable', async () => {
    const { relay, control } = await associate();
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    try {
      const replies: Buffer[] = [];
      client.on('message', (m) => replies.push(m));
      // A second echo server that would answer, on a port the gateway's allow-list does not name.
      const other = await startUdpEchoServer();
      try {
        const refused = SocksClient.createUDPFrame({
          remoteHost: { host: '127.0.0.1', port: other.port },
          data: Buffer.from('nope'),
        });
        client.send(refused, relay.port, relay.host);
        // No sleep to guess when the refused datagram has been handled: it was sent first, so by the time an
        // allowed datagram sent after it has crossed the tube, reached the echo and come back, a forwarded
        // refused one would long have reached `other` (and its echo would be among the replies).
        const ok = SocksClient.createUDPFrame({
          remoteHost: { host: '127.0.0.1', port: udpEcho.port },
          data: Buffer.from('yes'),
        });
        for (let i = 0; i < 20 && replies.length === 0; i++) {
          client.send(ok, relay.port, relay.host);
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(replies.length).toBeGreaterThan(0);
        expect(replies.map((r) => SocksClient.parseUDPFrame(r).data.toString())).toEqual(
          replies.map(() => 'yes'),
        );
        expect(other.datagrams).toBe(0);
      } finally {
        await other.close();
      }
    } finally {
      client.close();
      control.destroy();
    }
  });
});
