/** The server-mode local TCP listener: loopback clients only (docs/ORIGINAL.md, “Modes and settings”). */
import net from 'node:net';
import { ErrorCode, TubesError } from '../errors.ts';

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `ip:port` / `[ipv6]:port` as the original's `local_listen_addr`. */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^\s:[\]]+):(\d{1,5})$/.exec(text);
  const host = m?.[1];
  const port = Number(m?.[2]);
  if (!host || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TubesError(ErrorCode.BAD_SETTINGS, `Invalid local_listen_addr: ${text}`);
  }
  return { host, port };
}

export function formatAddress(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return net.isIPv4(v4) && v4.startsWith('127.');
}

export interface Listener {
  readonly server: net.Server;
  /** `host:port` with the port the OS assigned (brackets for IPv6, unlike the original's bug). */
  readonly actualAddress: string;
  /** Stops accepting at once (idempotent); connections already accepted are closed by their channel. */
  close(): void;
}

/**
 * Listens on `address`. Non-loopback clients go to `onRefused` (which answers and closes them) and never
 * reach `onSocket`.
 */
export function listen(
  address: string,
  onSocket: (socket: net.Socket) => void,
  onRefused: (socket: net.Socket) => void,
): Promise<Listener> {
  const { host, port } = parseListenAddress(address);
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    if (isLoopbackAddress(socket.remoteAddress)) onSocket(socket);
    else onRefused(socket);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      reject(
        new TubesError(ErrorCode.LISTEN_FAILED, `Failed to listen on ${address}: ${err.message}`, {
          cause: err,
        }),
      );
    });
    server.listen({ host, port, backlog: 128 }, () => {
      const bound = server.address() as net.AddressInfo;
      let closed = false;
      resolve({
        server,
        actualAddress: formatAddress(host, bound.port),
        close: () => {
          if (closed) return;
          closed = true;
          server.close();
        },
      });
    });
  });
}
