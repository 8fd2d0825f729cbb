/**
 * `socks5` mode (docs/ORIGINAL.md, “Modes and settings”). The offerer runs a SOCKS5 server on its listener and sends
 * the destination in OpenConnection; the gateway checks it against its allow-lists, resolves it once, and
 * dials exactly the address that passed. Unlike the original we answer failures with RFC 1928 replies.
 */

import type { Socket } from 'node:net';
import type { Socks5Settings } from '../config/settings.ts';
import {
  decodeOpenConnectionTail,
  encodeOpenConnectionTail,
  encodeReply,
  gatewayRefusal,
  SOCKS5_HANDSHAKE_TIMEOUT_MS,
  Socks5Command,
  Socks5Reply,
  Socks5ServerHandshake,
  type SocksRefusal,
  socksReplyForClose,
} from '../protocol/socks5/index.ts';
import type { Channel } from './channel.ts';
import { dial } from './dial.ts';
import type { LocalAcceptor } from './modes.ts';
import { NetworkChecker } from './netcheck.ts';
import { type Opener, OpenRefused } from './opener.ts';
import { ClientUdpRelay, GatewayUdpRelay } from './socks5-udp.ts';

export function socksAcceptor(
  settings: Socks5Settings,
  handshakeTimeoutMs = SOCKS5_HANDSHAKE_TIMEOUT_MS,
): LocalAcceptor {
  const credentials = settings.credentials;
  const commands = [Socks5Command.CONNECT, Socks5Command.UDP_ASSOCIATE];
  return {
    accept(socket, channel) {
      socket.setNoDelay(true);
      const handshake = new Socks5ServerHandshake({ credentials, commands });
      const timer = setTimeout(() => socket.destroy(), handshakeTimeoutMs);
      timer.unref();
      const onData = (chunk: Buffer): void => {
        const pending: Uint8Array[] = [];
        let request: { host: string; port: number; command: number } | undefined;
        for (const action of handshake.push(chunk)) {
          switch (action.type) {
            case 'write':
              socket.write(action.bytes);
              break;
            case 'close':
              clearTimeout(timer);
              socket.off('data', onData);
              socket.end();
              return;
            case 'request':
              request = action.request;
              break;
            case 'data':
              pending.push(action.bytes);
              break;
          }
        }
        if (!request) return;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.pause();
        if (request.command === Socks5Command.UDP_ASSOCIATE) {
          void associate(socket, channel, request);
          return;
        }
        const initial = pending.length ? Buffer.concat(pending) : undefined;
        let answered = false;
        channel.acceptLocal(
          socket,
          encodeOpenConnectionTail(request.host, request.port),
          {
            opened: () => {
              answered = true;
              socket.write(encodeReply(Socks5Reply.SUCCEEDED));
            },
            failed: (reason, message) => {
              if (answered || socket.destroyed) return;
              answered = true;
              socket.end(encodeReply(socksReplyForClose(reason, message)));
            },
          },
          initial,
        );
      };
      socket.on('data', onData);
      socket.on('error', () => socket.destroy());
    },
    refuse(socket) {
      const handshake = new Socks5ServerHandshake({ refuse: true });
      const timer = setTimeout(() => socket.destroy(), handshakeTimeoutMs);
      timer.unref();
      socket.on('error', () => socket.destroy());
      socket.on('data', (chunk: Buffer) => {
        for (const action of handshake.push(chunk)) {
          if (action.type === 'write') socket.write(action.bytes);
          else if (action.type === 'close') {
            clearTimeout(timer);
            socket.end();
          }
        }
      });
    },
  };
}

/**
 * UDP ASSOCIATE on the server side: a relay socket on the listener's address carries the client's datagrams
 * as one connection; the association lives as long as the client's TCP connection.
 */
async function associate(
  socket: Socket,
  channel: Channel,
  request: { host: string; port: number },
): Promise<void> {
  let relay: ClientUdpRelay;
  try {
    relay = await ClientUdpRelay.open(
      socket.localAddress ?? '127.0.0.1',
      socket.remoteAddress ?? '',
      request.port,
      channel.maxDataPayload(),
    );
  } catch {
    socket.end(encodeReply(Socks5Reply.GENERAL_FAILURE));
    return;
  }
  socket.resume(); // nothing travels on the TCP connection any more; drop what a client might send
  socket.on('close', () => relay.destroy());
  relay.on('close', () => socket.destroy());
  let answered = false;
  channel.acceptLocal(
    relay,
    encodeOpenConnectionTail(request.host, request.port, Socks5Command.UDP_ASSOCIATE),
    {
      opened: () => {
        answered = true;
        const bound = relay.address;
        socket.write(encodeReply(Socks5Reply.SUCCEEDED, { host: bound.address, port: bound.port }));
      },
      failed: (reason, message) => {
        if (answered || socket.destroyed) return;
        answered = true;
        socket.end(encodeReply(socksReplyForClose(reason, message)));
      },
    },
  );
}

function failure(refusal: SocksRefusal): OpenRefused {
  return new OpenRefused(refusal.reason, refusal.message);
}

/** The gateway side: allow-list check, one resolution, and a connection to the address that passed. */
export function socksOpener(settings: Socks5Settings): Opener {
  const checker = NetworkChecker.fromSettings({
    allowed_hosts: settings.allowedHosts,
    allowed_ports: settings.allowedPorts,
  });
  return async (conn, tail, ctx) => {
    if (!checker) throw failure(gatewayRefusal.notSocksMode());
    let destination: { host: string; port: number; command: number };
    try {
      destination = decodeOpenConnectionTail(tail);
    } catch (err) {
      throw failure(gatewayRefusal.badTail(err as Error));
    }
    if (destination.command === Socks5Command.UDP_ASSOCIATE)
      return { socket: new GatewayUdpRelay(checker, ctx.maxPayload) };
    const verdict = await checker.resolveAllowed(destination.host, destination.port);
    if (!verdict.ok) throw failure(verdict);
    return dial(verdict.address, destination.port, ctx.connectTimeoutMs, {
      family: verdict.family,
      onread: conn.directRead(),
    });
  };
}
