/**
 * SOCKS5 (RFC 1928, RFC 1929) server side as a pure byte state machine, plus the SOCKS parts of the
 * tube protocol: the OpenConnection tail, the reply-code mapping for a CloseConnection, and the UDP
 * ASSOCIATE relay records (a webrtc-tubes extension, docs/PROTOCOL.md).
 *
 * Nothing here touches a socket: bytes go in through `Socks5ServerHandshake#push`, and the caller gets
 * back what to write, the parsed request, bytes that already belong to the tunnelled stream, or "close".
 */
import { isUtf8 } from 'node:buffer';
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ErrorCode, TubesError } from '../errors.ts';

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

/** Suggested limit for the whole handshake; the caller owns the timer (this module has no clock). */
export const SOCKS5_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Upper bound of the host text in an OpenConnection tail we accept (SOCKS5 itself allows 255 bytes). */
export const MAX_TAIL_HOST_BYTES = 1024;
/** Largest UDP payload carried in one relay record (the IPv4 UDP maximum). */
export const MAX_UDP_RELAY_DATA = 65_507;

export interface Socks5Request {
  readonly command: Socks5Command;
  readonly atyp: Socks5AddressType;
  /** Dotted IPv4, compressed lower-case IPv6 (RFC 5952), or the domain name as sent. */
  readonly host: string;
  readonly port: number;
}

export interface Socks5Credentials {
  readonly username: string;
  readonly password: string;
}

export interface Socks5ServerOptions {
  /** When set, RFC 1929 username/password is required and NO AUTH is refused. */
  readonly credentials?: Socks5Credentials | undefined;
  /** Commands reported as requests; any other command gets reply 0x07 and a close. Default: all three. */
  readonly commands?: readonly Socks5Command[] | undefined;
  /**
   * Refuse the client as the original does for non-loopback peers: after the 2-byte greeting header write
   * `05 FF` (version 5) or `05 01 00 01 00000000 0000` (anything else), then close.
   */
  readonly refuse?: boolean | undefined;
}

export type Socks5Action =
  /** Write these bytes to the client. */
  | { readonly type: 'write'; readonly bytes: Uint8Array }
  /** The request is complete. Reply later with `encodeReply` (success once the peer confirmed). */
  | { readonly type: 'request'; readonly request: Socks5Request }
  /** Bytes that followed the request: they belong to the tunnelled stream. */
  | { readonly type: 'data'; readonly bytes: Uint8Array }
  /** Close the client connection (after writing anything listed before). */
  | { readonly type: 'close'; readonly error: TubesError };

export type Socks5HandshakeState = 'greeting' | 'auth' | 'request' | 'done' | 'closed';

const EMPTY = new Uint8Array(0);
const ALL_COMMANDS: readonly Socks5Command[] = [
  Socks5Command.CONNECT,
  Socks5Command.BIND,
  Socks5Command.UDP_ASSOCIATE,
];

/**
 * Server side of the SOCKS5 handshake. Feed every chunk read from the client to `push`, in order; the
 * chunks may be split at any byte. Buffering is bounded by the largest handshake message (513 bytes).
 */
export class Socks5ServerHandshake {
  #state: Socks5HandshakeState = 'greeting';
  #pending: Uint8Array = EMPTY;
  readonly #options: Socks5ServerOptions;
  readonly #commands: ReadonlySet<number>;
  readonly #credentialDigests: { user: Buffer; pass: Buffer } | undefined;

  constructor(options: Socks5ServerOptions = {}) {
    this.#options = options;
    this.#commands = new Set(options.commands ?? ALL_COMMANDS);
    const c = options.credentials;
    this.#credentialDigests = c ? { user: digest(c.username), pass: digest(c.password) } : undefined;
  }

  get state(): Socks5HandshakeState {
    return this.#state;
  }

  push(chunk: Uint8Array): Socks5Action[] {
    if (this.#state === 'closed') return [];
    if (this.#state === 'done') return chunk.length > 0 ? [{ type: 'data', bytes: chunk }] : [];
    const buf = this.#pending.length === 0 ? chunk : concat(this.#pending, chunk);
    const actions: Socks5Action[] = [];
    let offset = 0;
    for (;;) {
      const view = buf.subarray(offset);
      const used =
        this.#state === 'greeting'
          ? this.#greeting(view, actions)
          : this.#state === 'auth'
            ? this.#auth(view, actions)
            : this.#request(view, actions);
      if (used === 0) {
        // incomplete message: keep it (each stage needs at most 513 bytes)
        this.#pending = view.length > 0 ? view.slice() : EMPTY;
        return actions;
      }
      offset += used;
      // (read through the getter: the stage methods changed the state)
      if (this.state === 'closed') {
        this.#pending = EMPTY;
        return actions;
      }
      if (this.state === 'done') {
        this.#pending = EMPTY;
        if (offset < buf.length) actions.push({ type: 'data', bytes: buf.subarray(offset) });
        return actions;
      }
    }
  }

  #close(actions: Socks5Action[], write: Uint8Array | undefined, code: ErrorCode, message: string): void {
    if (write) actions.push({ type: 'write', bytes: write });
    actions.push({ type: 'close', error: new TubesError(code, message) });
    this.#state = 'closed';
  }

  /** Returns bytes consumed, 0 when more bytes are needed. */
  #greeting(b: Uint8Array, actions: Socks5Action[]): number {
    if (b.length < 2) return 0;
    const version = b[0]!;
    if (this.#options.refuse) {
      this.#close(
        actions,
        encodeNonLoopbackRefusal(version),
        ErrorCode.SOCKS_REFUSED,
        'SOCKS5 client refused: not a loopback address',
      );
      return 2;
    }
    if (version !== SOCKS5_VERSION) {
      this.#close(
        actions,
        encodeMethodSelection(Socks5Method.NO_ACCEPTABLE),
        ErrorCode.SOCKS_UNSUPPORTED,
        `Unsupported SOCKS version: ${version}`,
      );
      return 2;
    }
    const n = b[1]!;
    if (b.length < 2 + n) return 0;
    const methods = b.subarray(2, 2 + n);
    const wanted = this.#credentialDigests ? Socks5Method.USERNAME_PASSWORD : Socks5Method.NO_AUTH;
    if (!methods.includes(wanted)) {
      this.#close(
        actions,
        encodeMethodSelection(Socks5Method.NO_ACCEPTABLE),
        ErrorCode.SOCKS_UNSUPPORTED,
        this.#credentialDigests
          ? 'SOCKS5 client does not offer username/password authentication'
          : 'SOCKS5 client does not offer the no-authentication method',
      );
      return 2 + n;
    }
    actions.push({ type: 'write', bytes: encodeMethodSelection(wanted) });
    this.#state = this.#credentialDigests ? 'auth' : 'request';
    return 2 + n;
  }

  #auth(b: Uint8Array, actions: Socks5Action[]): number {
    if (b.length < 2) return 0;
    if (b[0] !== SOCKS5_AUTH_VERSION) {
      this.#close(
        actions,
        encodeAuthStatus(false),
        ErrorCode.SOCKS_UNSUPPORTED,
        `Unsupported SOCKS5 authentication version: ${b[0]}`,
      );
      return 2;
    }
    const ulen = b[1]!;
    if (b.length < 3 + ulen) return 0;
    const plen = b[2 + ulen]!;
    const total = 3 + ulen + plen;
    if (b.length < total) return 0;
    const expected = this.#credentialDigests!;
    const userOk = timingSafeEqual(digest(b.subarray(2, 2 + ulen)), expected.user);
    const passOk = timingSafeEqual(digest(b.subarray(3 + ulen, total)), expected.pass);
    if (!(userOk && passOk)) {
      this.#close(
        actions,
        encodeAuthStatus(false),
        ErrorCode.SOCKS_AUTH_FAILED,
        'SOCKS5 authentication failed',
      );
      return total;
    }
    actions.push({ type: 'write', bytes: encodeAuthStatus(true) });
    this.#state = 'request';
    return total;
  }

  #request(b: Uint8Array, actions: Socks5Action[]): number {
    if (b.length < 4) return 0;
    const version = b[0]!;
    const command = b[1]!;
    const atyp = b[3]!;
    if (version !== SOCKS5_VERSION) {
      this.#close(
        actions,
        encodeReply(Socks5Reply.GENERAL_FAILURE),
        ErrorCode.SOCKS_MALFORMED,
        `Unsupported SOCKS version in request: ${version}`,
      );
      return 4;
    }
    if (!this.#commands.has(command)) {
      this.#close(
        actions,
        encodeReply(Socks5Reply.COMMAND_NOT_SUPPORTED),
        ErrorCode.SOCKS_UNSUPPORTED,
        `Unsupported SOCKS5 command: ${command}`,
      );
      return 4;
    }
    let addr: DecodedAddress | null;
    try {
      addr = decodeAddress(b, 3);
    } catch (err) {
      const e = err as TubesError;
      const reply =
        e.code === ErrorCode.SOCKS_UNSUPPORTED
          ? Socks5Reply.ADDRESS_TYPE_NOT_SUPPORTED
          : Socks5Reply.GENERAL_FAILURE;
      this.#close(actions, encodeReply(reply), e.code, e.message);
      return b.length;
    }
    if (addr === null) return 0;
    actions.push({
      type: 'request',
      request: {
        command: command as Socks5Command,
        atyp: atyp as Socks5AddressType,
        host: addr.host,
        port: addr.port,
      },
    });
    this.#state = 'done';
    return addr.end;
  }
}

function digest(value: string | Uint8Array): Buffer {
  return createHash('sha256').update(value).digest();
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Addresses: ATYP + ADDR + PORT

interface DecodedAddress {
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
function decodeAddress(b: Uint8Array, offset: number): DecodedAddress | null {
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

/** UTF-8 host text without control characters. */
function decodeHostText(bytes: Uint8Array, what: string): string {
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

function checkPort(port: number): void {
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

/** What the original writes to a non-loopback client after its first 2 bytes (§3.5 step 5). */
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

// ---------------------------------------------------------------------------------------------------
// OpenConnection tail (original-behaviour §2.1): host_len u32 BE + host UTF-8 + port u16 BE
// (+ webrtc-tubes extension: one command byte, 0x03 = UDP ASSOCIATE; absent = CONNECT).

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
 * returns IPv6 hosts in compressed form. Throws TubesError SOCKS_MALFORMED on truncation or bad text.
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

// ---------------------------------------------------------------------------------------------------
// CloseConnection → SOCKS reply code

// CloseConnection reason codes used here (original-behaviour §2.2).
const REASON_TIMEOUT = 2;
const REASON_SERVER_REFUSE = 4;
const REASON_ADDRESS_RESOLUTION_FAILED = 16;
const REASON_SECURITY_THREAT = 23;

const MESSAGE_RULES: ReadonlyArray<readonly [RegExp, Socks5Reply]> = [
  [/OpenConnection not supported in this mode/i, Socks5Reply.GENERAL_FAILURE],
  [/not allowed|forbidden|denied by rule/i, Socks5Reply.NOT_ALLOWED],
  [/command not supported|unsupported (socks5? )?command/i, Socks5Reply.COMMAND_NOT_SUPPORTED],
  [/address type/i, Socks5Reply.ADDRESS_TYPE_NOT_SUPPORTED],
  [/ENETUNREACH|network (is )?unreachable/i, Socks5Reply.NETWORK_UNREACHABLE],
  [
    /EHOSTUNREACH|EHOSTDOWN|host (is )?unreachable|ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_NODATA|EAI_FAIL|getaddrinfo|\bDNS\b|unresolvable|resolution failed/i,
    Socks5Reply.HOST_UNREACHABLE,
  ],
  [/ECONNREFUSED|refused/i, Socks5Reply.CONNECTION_REFUSED],
  [/ETIMEDOUT|timed out|timeout|\bTTL\b/i, Socks5Reply.TTL_EXPIRED],
];

/**
 * The SOCKS5 reply to send to the local client when the gateway answers an OpenConnection with
 * CloseConnection(reason, message). The message is the more specific signal (the Rust gateway sends
 * reason 10 for every failed open), so it is consulted first; then the reason; otherwise 0x01.
 */
export function socksReplyForClose(reason: number | undefined, message?: string): Socks5Reply {
  if (message) {
    for (const [pattern, reply] of MESSAGE_RULES) if (pattern.test(message)) return reply;
  }
  switch (reason) {
    case REASON_TIMEOUT:
      return Socks5Reply.TTL_EXPIRED;
    case REASON_SERVER_REFUSE:
      return Socks5Reply.CONNECTION_REFUSED;
    case REASON_ADDRESS_RESOLUTION_FAILED:
      return Socks5Reply.HOST_UNREACHABLE;
    case REASON_SECURITY_THREAT:
      return Socks5Reply.NOT_ALLOWED;
    default:
      return Socks5Reply.GENERAL_FAILURE;
  }
}

// ---------------------------------------------------------------------------------------------------
// UDP ASSOCIATE

export interface Socks5UdpDatagram {
  readonly host: string;
  readonly port: number;
  readonly data: Uint8Array;
}

/**
 * One relay record (webrtc-tubes extension, docs/PROTOCOL.md): `ATYP ADDR PORT LEN(u16 BE) DATA`.
 * Toward the gateway the address is the destination, back from the gateway it is the source.
 */
export function encodeUdpRelayDatagram(d: Socks5UdpDatagram): Uint8Array {
  if (d.data.length > MAX_UDP_RELAY_DATA) {
    throw new TubesError(
      ErrorCode.BAD_ARGUMENT,
      `UDP datagram of ${d.data.length} bytes exceeds ${MAX_UDP_RELAY_DATA}`,
    );
  }
  const addr = encodeAddress(d.host, d.port);
  const out = new Uint8Array(addr.length + 2 + d.data.length);
  out.set(addr, 0);
  out[addr.length] = d.data.length >>> 8;
  out[addr.length + 1] = d.data.length & 0xff;
  out.set(d.data, addr.length + 2);
  return out;
}

/**
 * Splits one data-frame payload of a UDP association into its records (one or more, never split
 * across frames). Throws TubesError SOCKS_MALFORMED / SOCKS_UNSUPPORTED on any inconsistency; the
 * `data` views share memory with `payload`.
 */
export function decodeUdpRelayDatagrams(payload: Uint8Array): Socks5UdpDatagram[] {
  const out: Socks5UdpDatagram[] = [];
  let offset = 0;
  while (offset < payload.length) {
    const addr = decodeAddress(payload, offset);
    if (addr === null || payload.length < addr.end + 2) {
      throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'UDP relay record truncated');
    }
    const len = (payload[addr.end]! << 8) | payload[addr.end + 1]!;
    const start = addr.end + 2;
    if (len > MAX_UDP_RELAY_DATA || payload.length < start + len) {
      throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'UDP relay record truncated or too large');
    }
    out.push({ host: addr.host, port: addr.port, data: payload.subarray(start, start + len) });
    offset = start + len;
  }
  if (out.length === 0) throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'Empty UDP relay payload');
  return out;
}

/** RFC 1928 §7 datagram between the SOCKS client and the relay: `RSV(2) FRAG ATYP ADDR PORT DATA`. */
export interface Socks5UdpPacket extends Socks5UdpDatagram {
  readonly frag: number;
}

export function encodeSocks5UdpPacket(host: string, port: number, data: Uint8Array): Uint8Array {
  const addr = encodeAddress(host, port);
  const out = new Uint8Array(3 + addr.length + data.length);
  out.set(addr, 3);
  out.set(data, 3 + addr.length);
  return out;
}

/**
 * Parses a datagram a SOCKS client sent to the relay. FRAG ≠ 0 is reported, not reassembled (the
 * relay drops such datagrams, which RFC 1928 allows). Throws TubesError on malformed input.
 */
export function decodeSocks5UdpPacket(packet: Uint8Array): Socks5UdpPacket {
  if (packet.length < 4) throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'SOCKS5 UDP datagram truncated');
  if (packet[0] !== 0 || packet[1] !== 0) {
    throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'SOCKS5 UDP datagram reserved bytes are not zero');
  }
  const addr = decodeAddress(packet, 3);
  if (addr === null) throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'SOCKS5 UDP datagram truncated');
  return { frag: packet[2]!, host: addr.host, port: addr.port, data: packet.subarray(addr.end) };
}
