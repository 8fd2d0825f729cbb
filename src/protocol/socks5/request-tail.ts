/**
 * The SOCKS part of the tube protocol: the OpenConnection tail that carries the destination from the
 * server side to the gateway (docs/ORIGINAL.md, “OpenConnection tails”): `host_len u32 BE + host UTF-8 + port u16 BE`,
 * plus the webrtc-tubes extension byte (docs/PROTOCOL.md, "SOCKS5 UDP ASSOCIATE"): one command byte,
 * 0x03 = UDP ASSOCIATE; absent = CONNECT.
 *
 * A tail arrives whole in one OpenConnection frame, so it is decoded whole; the tests cut it at every
 * offset instead of feeding it in chunks.
 */
import { isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ErrorCode, TubesError } from '../../errors.ts';
import { checkPort, decodeHostText, Socks5Command } from './codec.ts';

/** Upper bound of the host text in an OpenConnection tail we accept (SOCKS5 itself allows 255 bytes). */
export const MAX_TAIL_HOST_BYTES = 1024;

export interface Socks5OpenTail {
  readonly host: string;
  readonly port: number;
  readonly command: typeof Socks5Command.CONNECT | typeof Socks5Command.UDP_ASSOCIATE;
}

/**
 * Host text as we put it on the wire: IPv6 literals in canonical compressed lower-case form
 * (RFC 5952), everything else unchanged.
 */
export function canonicalTailHost(host: string): string {
  if (isIPv6(host) && !host.includes('%')) return ipaddr.IPv6.parse(host).toString();
  return host;
}

export function encodeOpenConnectionTail(
  host: string,
  port: number,
  command: Socks5OpenTail['command'] = Socks5Command.CONNECT,
): Uint8Array {
  checkPort(port);
  const h = Buffer.from(canonicalTailHost(host), 'utf8');
  if (h.length > MAX_TAIL_HOST_BYTES) {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, `SOCKS5 host longer than ${MAX_TAIL_HOST_BYTES} bytes`);
  }
  const extra = command === Socks5Command.CONNECT ? 0 : 1;
  const out = new Uint8Array(4 + h.length + 2 + extra);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, h.length);
  out.set(h, 4);
  dv.setUint16(4 + h.length, port);
  if (extra) out[6 + h.length] = command;
  return out;
}

/**
 * Decodes the tail after `conn_no`. Accepts the original's IPv6 text (8 uncompressed groups) and
 * returns IPv6 hosts in compressed form. Throws TubesError SOCKS_MALFORMED on truncation or bad text,
 * SOCKS_UNSUPPORTED for an unknown command byte.
 */
export function decodeOpenConnectionTail(tail: Uint8Array): Socks5OpenTail {
  if (tail.length < 4) {
    throw new TubesError(
      ErrorCode.SOCKS_MALFORMED,
      'SOCKS5 OpenConnection payload too short for host length',
    );
  }
  const dv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  const hostLen = dv.getUint32(0);
  if (hostLen > MAX_TAIL_HOST_BYTES) {
    throw new TubesError(
      ErrorCode.SOCKS_MALFORMED,
      `SOCKS5 OpenConnection host length ${hostLen} exceeds ${MAX_TAIL_HOST_BYTES}`,
    );
  }
  if (tail.length < 4 + hostLen + 2) {
    throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'SOCKS5 OpenConnection payload truncated');
  }
  const host = canonicalTailHost(decodeHostText(tail.subarray(4, 4 + hostLen), 'SOCKS5 OpenConnection host'));
  const port = dv.getUint16(4 + hostLen);
  const rest = tail.length - (6 + hostLen);
  let command: Socks5OpenTail['command'] = Socks5Command.CONNECT;
  if (rest === 1) {
    const c = tail[6 + hostLen]!;
    if (c !== Socks5Command.CONNECT && c !== Socks5Command.UDP_ASSOCIATE) {
      throw new TubesError(ErrorCode.SOCKS_UNSUPPORTED, `Unsupported SOCKS5 OpenConnection command: ${c}`);
    }
    command = c;
  } else if (rest > 1) {
    throw new TubesError(
      ErrorCode.SOCKS_MALFORMED,
      `SOCKS5 OpenConnection payload has ${rest} trailing bytes`,
    );
  }
  return { host, port, command };
}
