/** The server-side listener: address parsing, the loopback rule, and the answer a refused client gets. */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { formatAddress, isLoopbackAddress, parseListenAddress } from '../../src/channel/listener.ts';
import { plainAcceptor } from '../../src/channel/modes.ts';
import { socksAcceptor } from '../../src/channel/socks5.ts';
import { parseSettings, type Socks5Settings } from '../../src/config/settings.ts';

describe('listen addresses', () => {
  it('parses ip:port and [ipv6]:port, formats IPv6 with brackets', () => {
    expect(parseListenAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(parseListenAddress('localhost:22')).toEqual({ host: 'localhost', port: 22 });
    for (const bad of ['::1:80', '127.0.0.1', '127.0.0.1:99999', ':80', '[::1]', 'a b:1']) {
      expect(() => parseListenAddress(bad), bad).toThrow(/Invalid local_listen_addr/);
    }
    expect(formatAddress('::1', 5)).toBe('[::1]:5');
    expect(formatAddress('127.0.0.1', 5)).toBe('127.0.0.1:5');
  });

  it('only loopback clients are accepted', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])
      expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '192.168.1.1', '::', '0.0.0.0', 'fe80::1', undefined]) {
      expect(isLoopbackAddress(a), String(a)).toBe(false);
    }
  });
});

/** A connected pair of sockets on loopback: [the server side, the client side]. */
async function socketPair(): Promise<[net.Socket, net.Socket, () => void]> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const s = await accepted;
  return [s, client, () => server.close()];
}

async function readAll(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const SOCKS_SETTINGS = parseSettings({ conversationType: 'tunnel', socks_mode: true }) as Socks5Settings;

describe('refusing a non-loopback client', () => {
  it('SOCKS5: version 5 greeting → 05 FF and close (the original reply)', async () => {
    const [server, client, done] = await socketPair();
    socksAcceptor(SOCKS_SETTINGS).refuse(server);
    client.write(Buffer.from([5, 1, 0]));
    expect((await readAll(client)).toString('hex')).toBe('05ff');
    done();
  });

  it('SOCKS5: another version → 05 01 00 01 00000000 0000 and close', async () => {
    const [server, client, done] = await socketPair();
    socksAcceptor(SOCKS_SETTINGS).refuse(server);
    client.write(Buffer.from([4, 1]));
    expect((await readAll(client)).toString('hex')).toBe('05010001000000000000');
    done();
  });

  it('tunnel: the socket is dropped', async () => {
    const [server, client, done] = await socketPair();
    plainAcceptor.refuse(server);
    expect((await readAll(client)).length).toBe(0);
    done();
  });
});
