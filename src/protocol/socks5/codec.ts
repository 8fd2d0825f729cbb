/**
 * SOCKS5 wire values and layouts (RFC 1928, RFC 1929): the protocol numbers, `ATYP ADDR PORT`, and the
 * encoders of every handshake message, server and client side. Pure functions over bytes; the server's
 * parser is `handshake.ts`.
 */
import { isUtf8 } from 'node:buffer';
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ErrorCode, TubesError } from '../../errors.ts';

export const SOCKS5_VERSION = 0x05;
/** RFC 1929 sub-negotiation version. */
export const SOCKS5_AUTH_VERSION = 0x01;

export const Socks5Method = {
  NO_AUTH: 0x00,
  USERNAME_PASSWORD: 0x02,
  NO_ACCEPTABLE: 0xff,
} as const;
export type Socks5Method = (typeof Socks5Method)[keyof typeof Socks5Method];

export const Socks5Command = {
  CONNECT: 0x01,
  BIND: 0x02,
  UDP_ASSOCIATE: 0x03,
} as const;
export type Socks5Command = (typeof Socks5Command)[keyof typeof Socks5Command];

export const Socks5AddressType = {
  IPV4: 0x01,
  DOMAIN: 0x03,
  IPV6: 0x04,
} as const;
export type Socks5AddressType = (typeof Socks5AddressType)[keyof typeof Socks5AddressType];

export const Socks5Reply = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  TTL_EXPIRED: 0x06,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const;
export type Socks5Reply = (typeof Socks5Reply)[keyof typeof Socks5Reply];

// ---------------------------------------------------------------------------------------------------
// Addresses: ATYP + ADDR + PORT

export interface DecodedAddress {
  readonly atyp: Socks5AddressType;
  readonly host: string;
  readonly port: number;
  /** Offset just past the port. */
  readonly end: number;
}

/**
 * Reads `ATYP ADDR PORT` at `offset`. Returns null when the bytes end before the port; throws
 * TubesError SOCKS_UNSUPPORTED for an unknown ATYP and SOCKS_MALFORMED for a bad domain.
 */
export function decodeAddress(b: Uint8Array, offset: number): DecodedAddress | null {
  if (b.length <= offset) return null;
  const atyp = b[offset]!;
  let start = offset + 1;
  let host: string;
  if (atyp === Socks5AddressType.IPV4) {
    if (b.length < start + 6) return null;
    host = `${b[start]}.${b[start + 1]}.${b[start + 2]}.${b[start + 3]}`;
    start += 4;
  } else if (atyp === Socks5AddressType.IPV6) {
    if (b.length < start + 18) return null;
    host = ipaddr.fromByteArray(Array.from(b.subarray(start, start + 16))).toString();
    start += 16;
  } else if (atyp === Socks5AddressType.DOMAIN) {
    if (b.length < start + 1) return null;
    const len = b[start]!;
    if (len === 0) throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'SOCKS5 domain name is empty');
    if (b.length < start + 1 + len + 2) return null;
    host = decodeHostText(b.subarray(start + 1, start + 1 + len), 'SOCKS5 domain name');
    start += 1 + len;
  } else {
    throw new TubesError(ErrorCode.SOCKS_UNSUPPORTED, `Unsupported SOCKS5 address type: ${atyp}`);
  }
  const port = (b[start]! << 8) | b[start + 1]!;
  return { atyp: atyp as Socks5AddressType, host, port, end: start + 2 };
}

/** UTF-8 host text without control characters; `what` names the field in the error message. */
export function decodeHostText(bytes: Uint8Array, what: string): string {
  if (!isUtf8(bytes)) throw new TubesError(ErrorCode.SOCKS_MALFORMED, `${what} is not valid UTF-8`);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 0x20 || b === 0x7f) {
      throw new TubesError(ErrorCode.SOCKS_MALFORMED, `${what} contains control characters`);
    }
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** `ATYP ADDR PORT` for a host (IPv4 / IPv6 literal → binary form, anything else → domain). */
export function encodeAddress(host: string, port: number): Uint8Array {
  checkPort(port);
  let head: Uint8Array;
  if (isIPv4(host)) {
    head = Uint8Array.of(Socks5AddressType.IPV4, ...ipaddr.IPv4.parse(host).octets);
  } else if (isIPv6(host) && !host.includes('%')) {
    head = Uint8Array.of(Socks5AddressType.IPV6, ...ipaddr.IPv6.parse(host).toByteArray());
  } else {
    const name = Buffer.from(host, 'utf8');
    if (name.length === 0 || name.length > 255) {
      throw new TubesError(
        ErrorCode.BAD_ARGUMENT,
        `SOCKS5 domain name must be 1..255 bytes, got ${name.length}`,
      );
    }
    head = new Uint8Array(2 + name.length);
    head[0] = Socks5AddressType.DOMAIN;
    head[1] = name.length;
    head.set(name, 2);
  }
  const out = new Uint8Array(head.length + 2);
  out.set(head, 0);
  out[head.length] = port >>> 8;
  out[head.length + 1] = port & 0xff;
  return out;
}

/** Throws TubesError BAD_ARGUMENT unless `port` is an integer 0..65535. */
export function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, `Invalid port: ${port}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Encoders

/** `05 METHOD` */
export function encodeMethodSelection(method: number): Uint8Array {
  return Uint8Array.of(SOCKS5_VERSION, method & 0xff);
}

/** RFC 1929 status: `01 00` success, `01 01` failure. */
export function encodeAuthStatus(success: boolean): Uint8Array {
  return Uint8Array.of(SOCKS5_AUTH_VERSION, success ? 0x00 : 0x01);
}

/**
 * `05 REP 00 ATYP BND.ADDR BND.PORT`. Without `bind`: BND 0.0.0.0:0, which is what the original sends
 * for success and for every error reply.
 */
export function encodeReply(reply: Socks5Reply, bind?: { host: string; port: number }): Uint8Array {
  if (!Number.isInteger(reply) || reply < 0 || reply > 0xff) {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, `Invalid SOCKS5 reply code: ${reply}`);
  }
  const addr = encodeAddress(bind?.host ?? '0.0.0.0', bind?.port ?? 0);
  const out = new Uint8Array(3 + addr.length);
  out[0] = SOCKS5_VERSION;
  out[1] = reply;
  out[2] = 0x00;
  out.set(addr, 3);
  return out;
}

/** What the original writes to a non-loopback client after its first 2 bytes (docs/ORIGINAL.md, “Modes and settings”). */
export function encodeNonLoopbackRefusal(greetingVersion: number): Uint8Array {
  return greetingVersion === SOCKS5_VERSION
    ? encodeMethodSelection(Socks5Method.NO_ACCEPTABLE)
    : encodeReply(Socks5Reply.GENERAL_FAILURE);
}

/** Client side: `05 N METHODS…` (for tests and tools). */
export function encodeGreeting(methods: readonly number[]): Uint8Array {
  if (methods.length > 255) throw new TubesError(ErrorCode.BAD_ARGUMENT, 'At most 255 SOCKS5 methods');
  return Uint8Array.of(SOCKS5_VERSION, methods.length, ...methods.map((m) => m & 0xff));
}

/** Client side: RFC 1929 `01 ULEN UNAME PLEN PASSWD`. */
export function encodeAuthRequest(username: string, password: string): Uint8Array {
  const u = Buffer.from(username, 'utf8');
  const p = Buffer.from(password, 'utf8');
  if (u.length > 255 || p.length > 255) {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, 'SOCKS5 username and password are limited to 255 bytes');
  }
  return Uint8Array.of(SOCKS5_AUTH_VERSION, u.length, ...u, p.length, ...p);
}

/** Client side: `05 CMD 00 ATYP ADDR PORT`. */
export function encodeRequest(command: Socks5Command, host: string, port: number): Uint8Array {
  const addr = encodeAddress(host, port);
  const out = new Uint8Array(3 + addr.length);
  out[0] = SOCKS5_VERSION;
  out[1] = command;
  out.set(addr, 3);
  return out;
}
