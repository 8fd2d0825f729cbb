/**
 * `guacd` mode, gateway side (docs/ORIGINAL.md, “guacd mode”): for every OpenConnection dial guacd, run the
 * Guacamole handshake, then relay guacd's output to the peer as whole instructions per data frame. The
 * client → guacd direction is not parsed (the Connection writes data frames to the socket as they come).
 *
 * Framing toward the peer, per socket read (one scanner push): `sync` flushes the pending batch and goes in
 * its own frame; batches stay ≤ 16 KiB; an instruction ≥ 32 KiB goes alone; whatever is batched is sent at
 * the end of the read (keystroke echo latency). `size` is forwarded and raised as a `guacd_instruction`
 * signal. `error`/`disconnect` are forwarded, then the connection closes (14 "Guacd error: …" / Normal
 * "Guacd disconnect"). A malformed stream or invalid UTF-8 closes it with ProtocolError (19).
 */
import net from 'node:net';
import type { GuacdSettings } from '../config/settings.ts';
import {
  type EngineChoice,
  encodeInstruction,
  type GuacamoleBatch,
  GuacamoleScanner,
} from '../hotpath/index.ts';
import type { Logger } from '../log.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import { applyConnectAs, connectAsActive, decryptConnectAs } from '../protocol/connect-as.ts';
import {
  afterArgsInstructions,
  closingInstructions,
  GUACD_HANDSHAKE_TIMEOUT_MS,
  type GuacdHandshakePlan,
  GuacdText,
  guacdVersionOf,
  planGuacdHandshake,
  selectInstruction,
} from '../protocol/guacamole.ts';
import type { Connection, InboundFilter } from './connection.ts';
import { type Opener, OpenRefused } from './opener.ts';

/** A batch of whole instructions is flushed before it would exceed this. */
export const GUACD_BATCH_BYTES = 16 * 1024;
/** An instruction at least this large is sent in its own frame. */
export const GUACD_LARGE_INSTRUCTION_BYTES = 32 * 1024;
/** Largest instruction accepted from guacd after the handshake (also caps the partial-instruction buffer). */
export const GUACD_MAX_INSTRUCTION_BYTES = 4 * 1024 * 1024;
/** Largest handshake instruction (`args` of guacd 1.5 RDP is about 3 KiB). */
export const GUACD_HANDSHAKE_MAX_BYTES = 256 * 1024;

export interface GuacdOptions {
  /** Handshake limit, connect included (default 10 s, as the original). */
  handshakeTimeoutMs?: number;
  /** Scanner engine (default: TUBES_HOTPATH, else auto). */
  engine?: EngineChoice;
  /** Largest instruction accepted from guacd (default 4 MiB). */
  maxInstructionBytes?: number;
}

const noop = (): void => {};

// ---- handshake ---------------------------------------------------------------------------------------

export interface GuacdHandshakeResult {
  /** guacd's `args` (argument names, the version first). */
  args: string[];
  /** The version echoed in `connect`. */
  version: string;
  /** `ready`'s first argument: guacd's connection id (joinable). */
  connectionId: string | undefined;
}

export interface GuacdHandshakeOptions {
  timeoutMs?: number;
  engine?: EngineChoice;
  /** `host:port` for connect error texts. */
  address?: string;
}

/**
 * Runs the handshake on a socket (connected or still connecting): `select` → read `args` → `size`,
 * `audio`, `video`, `image` (+ `timezone`) → `connect` → read `ready`. On success the socket is left
 * paused, with any bytes guacd sent after `ready` put back in front of its read queue. On failure the
 * socket is destroyed and the promise rejects with `OpenRefused` carrying `closeReason` (14 GuacdError; 10
 * ConnectionFailed when the TCP connect itself failed) and the original's text.
 */
export function guacdHandshake(
  socket: net.Socket,
  plan: GuacdHandshakePlan,
  options: GuacdHandshakeOptions = {},
): Promise<GuacdHandshakeResult> {
  const timeoutMs = options.timeoutMs ?? GUACD_HANDSHAKE_TIMEOUT_MS;
  socket.on('error', noop); // errors are reported through the promise (and later by the Connection)
  const scanner = new GuacamoleScanner({
    strict: true,
    maxInstructionBytes: GUACD_HANDSHAKE_MAX_BYTES,
    ...(options.engine ? { engine: options.engine } : {}),
  });
  return new Promise((resolve, reject) => {
    let expected: 'args' | 'ready' = 'args';
    let args: string[] = [];
    let settled = false;
    let connected = !socket.connecting;
    const onConnect = (): void => {
      connected = true;
    };
    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      socket.off('connect', onConnect);
      scanner.dispose();
    };
    const fail = (reason: number, message: string): void => {
      if (settled) return;
      cleanup();
      socket.destroy();
      reject(new OpenRefused(reason, message));
    };
    const onData = (chunk: Buffer): void => {
      if (settled) return;
      const b = scanner.push(chunk);
      for (let i = 0; i < b.count; i++) {
        if (b.opcodeIs(i, 'error')) {
          fail(CloseConnectionReason.GuacdError, GuacdText.errorDuringHandshake(b.args(i), expected));
          return;
        }
        if (!b.opcodeIs(i, expected)) {
          fail(
            CloseConnectionReason.GuacdError,
            GuacdText.unexpectedOpcode(expected, b.opcode(i), b.args(i)),
          );
          return;
        }
        if (expected === 'args') {
          args = b.args(i);
          socket.write(afterArgsInstructions(plan, args));
          expected = 'ready';
          continue;
        }
        const connectionId = b.elementCount(i) > 1 ? b.element(i, 1) : undefined;
        const data = b.data;
        const rest = data.length > b.end(i) ? Buffer.from(data.subarray(b.end(i))) : undefined;
        socket.pause();
        cleanup();
        if (rest) socket.unshift(rest); // delivered first once the Connection resumes the socket
        resolve({ args, version: guacdVersionOf(args), connectionId });
        return;
      }
      if (b.error) {
        fail(
          CloseConnectionReason.GuacdError,
          `Error peeking Guacd instruction while expecting '${expected}': ${b.error.message}`,
        );
      }
    };
    const onEnd = (): void => fail(CloseConnectionReason.GuacdError, GuacdText.eofDuringHandshake(expected));
    const onError = (err: Error): void => {
      if (!connected) {
        const where = options.address ? ` ${options.address}` : '';
        const code = (err as NodeJS.ErrnoException).code;
        const dns = code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL';
        fail(
          CloseConnectionReason.ConnectionFailed,
          dns // the original's wording for a name that does not resolve
            ? `DNS lookup failed for Guacd host${where}: ${err.message}`
            : `Failed to connect to Guacd${where}: ${err.message}`,
        );
      } else {
        fail(CloseConnectionReason.GuacdError, `Guacd connection error during handshake: ${err.message}`);
      }
    };
    const timer = setTimeout(
      () => fail(CloseConnectionReason.GuacdError, GuacdText.handshakeTimeout),
      timeoutMs,
    );
    socket.on('connect', onConnect);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    socket.write(selectInstruction(plan));
  });
}

// ---- guacd → client relay ----------------------------------------------------------------------------

/** Where the relay sends what it decides (the channel's OpenContext, or a benchmark's sink). */
export interface GuacdRelaySink {
  /** One data frame toward the client. The payload is a view valid only during the call. */
  send(payload: Uint8Array): void;
  close(reason: number, message?: string): void;
  recordChannelReason(reason: number): void;
  signal(kind: 'guacd_instruction', data: string): void;
}

export interface GuacdRelayOptions {
  engine?: EngineChoice;
  maxInstructionBytes?: number;
  /** Where `log` + `disconnect` go on a Normal close (the guacd socket). */
  guacd?: { readonly writable: boolean; write(data: string): unknown };
  logger?: Logger;
}

const OTHER = 0;
const SYNC = 1;
const SIZE = 2;
const ERROR = 3;
const DISCONNECT = 4;

function kindOf(b: GuacamoleBatch, i: number): number {
  switch (b.elementByteLength(i, 0)) {
    case 4:
      return b.opcodeIs(i, 'sync') ? SYNC : b.opcodeIs(i, 'size') ? SIZE : OTHER;
    case 5:
      return b.opcodeIs(i, 'error') ? ERROR : OTHER;
    case 10:
      return b.opcodeIs(i, 'disconnect') ? DISCONNECT : OTHER;
    default:
      return OTHER;
  }
}

/** The InboundFilter of a guacd connection (after the handshake). */
export class GuacdRelay implements InboundFilter {
  readonly #sink: GuacdRelaySink;
  readonly #scanner: GuacamoleScanner;
  readonly #guacd: GuacdRelayOptions['guacd'];
  #done = false;
  /** Instructions relayed so far. */
  instructions = 0;
  /** Data frames sent so far. */
  frames = 0;

  constructor(sink: GuacdRelaySink, options: GuacdRelayOptions = {}) {
    this.#sink = sink;
    this.#guacd = options.guacd;
    this.#scanner = new GuacamoleScanner({
      strict: true,
      maxInstructionBytes: options.maxInstructionBytes ?? GUACD_MAX_INSTRUCTION_BYTES,
      ...(options.engine ? { engine: options.engine } : {}),
    });
  }

  get engine(): string {
    return this.#scanner.engine;
  }

  /** True once the relay stopped forwarding (guacd error/disconnect, malformed data, or closing). */
  get done(): boolean {
    return this.#done;
  }

  push(chunk: Uint8Array): void {
    if (this.#done) return;
    const b = this.#scanner.push(chunk);
    const n = b.count;
    if (n > 0) {
      const data = b.data;
      let from = -1;
      let to = 0;
      for (let i = 0; i < n; i++) {
        const s = b.start(i);
        const e = b.end(i);
        const kind = kindOf(b, i);
        if (kind === SYNC || e - s >= GUACD_LARGE_INSTRUCTION_BYTES) {
          if (from >= 0) this.#send(data.subarray(from, to));
          from = -1;
          this.#send(data.subarray(s, e));
          continue;
        }
        if (kind === ERROR || kind === DISCONNECT) {
          if (from >= 0) this.#send(data.subarray(from, to));
          this.#send(data.subarray(s, e));
          this.instructions += i + 1;
          this.#guacdClosed(kind, b, i);
          return;
        }
        if (from >= 0 && e - from > GUACD_BATCH_BYTES) {
          this.#send(data.subarray(from, to));
          from = -1;
        }
        if (from < 0) from = s;
        to = e;
        if (kind === SIZE && b.elementCount(i) >= 3) {
          this.#sink.signal('guacd_instruction', encodeInstruction('size', ...b.args(i)));
        }
      }
      if (from >= 0) this.#send(data.subarray(from, to));
      this.instructions += n;
    }
    const err = b.error;
    if (err) {
      this.#done = true;
      this.#sink.recordChannelReason(CloseConnectionReason.ProtocolError);
      this.#sink.close(CloseConnectionReason.ProtocolError, GuacdText.parsingError(err.message));
    }
  }

  #send(payload: Uint8Array): void {
    this.frames++;
    this.#sink.send(payload);
  }

  #guacdClosed(kind: number, b: GuacamoleBatch, i: number): void {
    this.#done = true;
    if (kind === DISCONNECT) {
      // The original stores GuacdError as the channel reason here (its bug): a clean disconnect is Normal.
      this.#sink.close(CloseConnectionReason.Normal, GuacdText.disconnect);
      return;
    }
    this.#sink.recordChannelReason(CloseConnectionReason.GuacdError);
    this.#sink.close(CloseConnectionReason.GuacdError, GuacdText.guacdError(b.args(i)));
  }

  /** guacd closed TCP: handled when we already closed; otherwise the channel reports it (9, unexpected). */
  end(): boolean {
    if (this.#done) return true;
    this.#done = true;
    return false;
  }

  /** A Normal close: `log,<reason message>` + `disconnect` to guacd and (when it still listens) the client. */
  beforeClose(reason: number, toPeer: boolean): void {
    if (this.#done) return;
    this.#done = true;
    if (reason !== CloseConnectionReason.Normal) return;
    const bye = closingInstructions(reason);
    if (toPeer) this.#send(Buffer.from(bye, 'utf8'));
    const guacd = this.#guacd;
    if (guacd?.writable) guacd.write(bye);
  }

  /** Returns the scanner's memory (Wasm) now. */
  dispose(): void {
    this.#done = true;
    this.#scanner.dispose();
  }
}

// ---- opener ------------------------------------------------------------------------------------------

/**
 * The gateway opener of a guacd channel. The first connection that completes its handshake is the
 * channel's primary: when its socket closes, the channel ends (docs/ORIGINAL.md, “guacd mode”).
 */
export function guacdOpener(settings: GuacdSettings, options: GuacdOptions = {}): Opener {
  let primary: Connection | undefined;
  const params = settings.guacdParams;
  return async (conn, tail, ctx) => {
    let address = settings.guacd;
    let sessionParams = params;
    // ConnectAs hook: the OpenConnection tail may carry the login identity (and address), encrypted.
    if (connectAsActive(settings.connectAs)) {
      let payload: ReturnType<typeof decryptConnectAs>;
      try {
        payload = decryptConnectAs(tail, settings.connectAs.privateKey);
      } catch (err) {
        throw new OpenRefused(CloseConnectionReason.ConnectionFailed, (err as Error).message);
      }
      if (payload)
        ({ params: sessionParams, address } = applyConnectAs(payload, settings.connectAs, params, address));
    }
    if (!address) throw new OpenRefused(CloseConnectionReason.ConnectionFailed, GuacdText.notConfigured);
    const plan = planGuacdHandshake(sessionParams);
    const socket = net.connect({
      host: address.host,
      port: address.port,
      allowHalfOpen: true,
      noDelay: true,
    });
    // The peer closed this connection while we were still in the handshake: stop now, not at the timeout.
    ctx.abandoned?.addEventListener('abort', () => socket.destroy(), { once: true });
    const hs = await guacdHandshake(socket, plan, {
      timeoutMs: options.handshakeTimeoutMs,
      ...(options.engine ? { engine: options.engine } : {}),
      address: `${address.host}:${address.port}`,
    });
    ctx.logger.info(
      { conn: conn.connNo, version: hs.version, guacdConnection: hs.connectionId, join: plan.join },
      'guacd handshake complete',
    );
    const relay = new GuacdRelay(ctx, {
      guacd: socket,
      ...(options.engine ? { engine: options.engine } : {}),
      ...(options.maxInstructionBytes ? { maxInstructionBytes: options.maxInstructionBytes } : {}),
    });
    primary ??= conn;
    socket.once('close', () => {
      relay.dispose();
      if (primary !== conn) return;
      if (conn.socket !== socket) {
        primary = undefined; // never attached (closed while opening): no primary yet
        return;
      }
      // after the Connection's own close handling (its CloseConnection, if any, goes first)
      queueMicrotask(() => ctx.endChannel());
    });
    return { socket, inbound: relay };
  };
}
