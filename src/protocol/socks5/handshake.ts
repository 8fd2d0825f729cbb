/**
 * Server side of the SOCKS5 handshake (RFC 1928 greeting and request, RFC 1929 username/password) as a
 * pure byte state machine. Nothing here touches a socket: bytes go in through `Socks5ServerHandshake#push`,
 * and the caller gets back what to write, the parsed request, bytes that already belong to the tunnelled
 * stream, or "close".
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ErrorCode, TubesError } from '../../errors.ts';
import {
  type DecodedAddress,
  decodeAddress,
  encodeAuthStatus,
  encodeMethodSelection,
  encodeNonLoopbackRefusal,
  encodeReply,
  SOCKS5_AUTH_VERSION,
  SOCKS5_VERSION,
  type Socks5AddressType,
  Socks5Command,
  Socks5Method,
  Socks5Reply,
} from './codec.ts';

/** Suggested limit for the whole handshake; the caller owns the timer (this module has no clock). */
export const SOCKS5_HANDSHAKE_TIMEOUT_MS = 10_000;

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
