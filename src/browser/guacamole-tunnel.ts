/**
 * A `Guacamole.Tunnel` for guacamole-common-js over one tube connection: the gateway runs the guacd
 * handshake and relays whole instructions (docs/PROTOCOL.md, "guacd mode"); the page scans them with the
 * hot-path GuacamoleScanner and hands each to `oninstruction`. Works without guacamole-common-js loaded;
 * pass the `Guacamole` namespace to get real `Guacamole.Status` objects in `onerror`.
 */
import { encodeInstructionBytes, GuacamoleScanner } from '../hotpath/index.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import type { BrowserTube, CloseInfo, TubeConnection } from './tube.ts';

/** How long a tunnel ended by the server waits for the peer's tube close before closing the tube itself. */
const SERVER_CLOSE_GRACE_MS = 1_000;

/** Guacamole.Tunnel.State values. */
export const TunnelState = { CONNECTING: 0, OPEN: 1, CLOSED: 2, UNSTABLE: 3 } as const;

/** The Guacamole status codes the close reasons map to (Guacamole.Status.Code). */
export const GuacStatus = {
  SUCCESS: 0x0000,
  UNSUPPORTED: 0x0100,
  SERVER_ERROR: 0x0200,
  SERVER_BUSY: 0x0201,
  UPSTREAM_TIMEOUT: 0x0202,
  UPSTREAM_ERROR: 0x0203,
  RESOURCE_NOT_FOUND: 0x0204,
  RESOURCE_CONFLICT: 0x0205,
  RESOURCE_CLOSED: 0x0206,
  UPSTREAM_NOT_FOUND: 0x0207,
  UPSTREAM_UNAVAILABLE: 0x0208,
  SESSION_CONFLICT: 0x0209,
  SESSION_TIMEOUT: 0x020a,
  SESSION_CLOSED: 0x020b,
  CLIENT_BAD_REQUEST: 0x0300,
  CLIENT_UNAUTHORIZED: 0x0301,
  CLIENT_FORBIDDEN: 0x0303,
  CLIENT_TIMEOUT: 0x0308,
} as const;

/**
 * The Guacamole status code for a tube close reason: SUCCESS for Normal/Client; for GuacdError the code
 * guacd itself sent (the message is `Guacd error: <text>, <code>`), else UPSTREAM_ERROR; the rest by kind.
 */
export function guacStatusForClose(info: Pick<CloseInfo, 'reason' | 'message'>): number {
  const R = CloseConnectionReason;
  switch (info.reason) {
    case R.Normal:
    case R.Client:
      return GuacStatus.SUCCESS;
    case R.GuacdError: {
      const m = /^Guacd error: .*, (\d+)$/.exec(info.message ?? '');
      const code = m ? Number(m[1]) : Number.NaN;
      return Number.isInteger(code) && code > 0 && code <= 0xffff ? code : GuacStatus.UPSTREAM_ERROR;
    }
    case R.Timeout:
      return GuacStatus.UPSTREAM_TIMEOUT;
    case R.ConnectionLost:
    case R.UpstreamClosed:
    case R.ProxyError:
      return GuacStatus.UPSTREAM_ERROR;
    case R.ConnectionFailed:
    case R.AddressResolutionFailed:
      return GuacStatus.UPSTREAM_NOT_FOUND;
    case R.ServerRefuse:
    case R.GuacdRefuse:
      return GuacStatus.UPSTREAM_UNAVAILABLE;
    case R.AdminClosed:
    case R.AIClosed:
    case R.TunnelClosed:
      return GuacStatus.SESSION_CLOSED;
    case R.InvalidInstruction:
      return GuacStatus.CLIENT_BAD_REQUEST;
    case R.SecurityThreat:
      return GuacStatus.CLIENT_FORBIDDEN;
    default:
      return GuacStatus.SERVER_ERROR;
  }
}

/** What `onerror` receives: a Guacamole.Status when the namespace was given, else an object shaped like one. */
export interface GuacStatusLike {
  code: number;
  message: string;
  isError(): boolean;
}

interface GuacamoleNamespace {
  Status: new (code: number, message?: string) => GuacStatusLike;
}

export interface TubeTunnelOptions {
  /** The tube to use, or a function that makes one per `connect(data)` (e.g. through connectToGateway). */
  tube: BrowserTube | ((data: string | undefined) => Promise<BrowserTube>);
  /** The guacamole-common-js namespace (for real Guacamole.Status objects). */
  Guacamole?: GuacamoleNamespace;
  /** Close the whole tube on disconnect (default: true when the tube came from a function). */
  closeTubeOnDisconnect?: boolean;
  /**
   * Engine of the instruction scanner. Default `wasm-simd` (falling back to wasm, then JS): in Chromium it
   * decodes guacd output fastest, and `auto`'s crossovers are Node's (docs/PERFORMANCE.md, "Browser").
   */
  engine?: 'auto' | 'js' | 'wasm' | 'wasm-simd';
}

/**
 * Guacamole.Tunnel over a tube: `new Guacamole.Client(new TubeTunnel({ tube }))`. One tube connection per
 * `connect()`; `disconnect()` closes it (the gateway sends guacd `disconnect`).
 */
export class TubeTunnel {
  state: number = TunnelState.CLOSED;
  uuid: string | null = null;
  /** Close with UPSTREAM_TIMEOUT after this long without data (ms), UNSTABLE after unstableThreshold. */
  receiveTimeout = 15_000;
  unstableThreshold = 1_500;
  onerror: ((status: GuacStatusLike) => void) | null = null;
  onstatechange: ((state: number) => void) | null = null;
  oninstruction: ((opcode: string, args: string[]) => void) | null = null;
  onuuid: ((uuid: string) => void) | null = null;
  /** The tube and connection of the current session. */
  tube: BrowserTube | undefined;
  connection: TubeConnection | undefined;
  /** Instructions delivered so far. */
  instructions = 0;
  /** How the last session's connection ended (the tube's close reason, as the page sees it). */
  lastClose: CloseInfo | undefined;
  readonly #options: TubeTunnelOptions;
  #scanner: GuacamoleScanner | undefined;
  #lastReceive = 0;
  #watch: ReturnType<typeof setInterval> | undefined;
  #generation = 0;
  /** The server ended the session (`disconnect` or `error`): the peer's close reason is on its way. */
  #serverEnded = false;

  constructor(options: TubeTunnelOptions) {
    this.#options = options;
  }

  /** The hot-path engine the scanner uses for large inputs. */
  get engine(): string {
    return this.#scanner?.engine ?? 'js';
  }

  setState(state: number): void {
    if (state === this.state) return;
    this.state = state;
    this.onstatechange?.(state);
  }

  setUUID(uuid: string): void {
    this.uuid = uuid;
    this.onuuid?.(uuid);
  }

  isConnected(): boolean {
    return this.state === TunnelState.OPEN || this.state === TunnelState.UNSTABLE;
  }

  connect(data?: string): void {
    const generation = ++this.#generation;
    this.setState(TunnelState.CONNECTING);
    void this.#open(data, generation);
  }

  disconnect(): void {
    this.#generation++;
    this.#close(undefined);
  }

  sendMessage(...elements: unknown[]): void {
    const conn = this.connection;
    if (!this.isConnected() || conn === undefined || elements.length === 0) return;
    const [opcode, ...args] = elements.map((e) => String(e));
    conn.send(encodeInstructionBytes(opcode as string, ...args));
  }

  async #open(data: string | undefined, generation: number): Promise<void> {
    const src = this.#options.tube;
    let tube: BrowserTube;
    try {
      tube = typeof src === 'function' ? await src(data) : src;
      await tube.opened;
    } catch (err) {
      if (generation !== this.#generation) return;
      const close = (err as { close?: CloseInfo }).close;
      const code = close ? guacStatusForClose(close) : GuacStatus.UPSTREAM_NOT_FOUND;
      this.#close(this.#status(code || GuacStatus.UPSTREAM_NOT_FOUND, (err as Error).message));
      return;
    }
    if (generation !== this.#generation) {
      if (typeof src === 'function') void tube.close();
      return;
    }
    this.tube = tube;
    const scanner = new GuacamoleScanner({ engine: this.#options.engine ?? 'wasm-simd' });
    this.#scanner = scanner;
    this.#serverEnded = false;
    const conn = tube.openConnection();
    this.connection = conn;
    this.setUUID(`${tube.conversationId}/${conn.connNo}`);
    this.#lastReceive = Date.now();
    conn.ondata = (bytes) => {
      this.#lastReceive = Date.now();
      if (this.state === TunnelState.UNSTABLE) this.setState(TunnelState.OPEN);
      const batch = scanner.push(bytes);
      for (let i = 0; i < batch.count; i++) {
        if (this.connection !== conn) return; // a handler disconnected
        const opcode = batch.opcode(i);
        const args = batch.args(i);
        this.instructions++;
        if (opcode === '') {
          if (args.length === 1 && args[0] !== undefined) this.setUUID(args[0]);
          continue;
        }
        if (opcode === 'disconnect' || opcode === 'error') this.#serverEnded = true;
        this.oninstruction?.(opcode, args);
      }
      if (batch.error && this.connection === conn) {
        this.#close(this.#status(GuacStatus.SERVER_ERROR, batch.error.message));
      }
    };
    conn.onclose = (info) => {
      this.lastClose = info;
      if (this.connection !== conn) return;
      const code = guacStatusForClose(info);
      this.#close(code === GuacStatus.SUCCESS ? undefined : this.#status(code, describe(info)));
    };
    this.#watch = setInterval(() => {
      const idle = Date.now() - this.#lastReceive;
      if (idle >= this.receiveTimeout) {
        this.#close(this.#status(GuacStatus.UPSTREAM_TIMEOUT, `No data from the tube for ${idle} ms`));
      } else if (idle >= this.unstableThreshold && this.state === TunnelState.OPEN) {
        this.setState(TunnelState.UNSTABLE);
      }
    }, 500);
    this.setState(TunnelState.OPEN);
  }

  #status(code: number, message: string): GuacStatusLike {
    const G = this.#options.Guacamole;
    if (G) return new G.Status(code, message);
    return { code, message, isError: () => code < 0 || code > 0x00ff };
  }

  #close(status: GuacStatusLike | undefined): void {
    if (this.#watch !== undefined) clearInterval(this.#watch);
    this.#watch = undefined;
    const conn = this.connection;
    const tube = this.tube;
    this.connection = undefined;
    this.tube = undefined;
    this.#scanner?.dispose();
    this.#scanner = undefined;
    if (conn && conn.state !== 'closed') conn.close(CloseConnectionReason.Normal);
    const closeTube = this.#options.closeTubeOnDisconnect ?? typeof this.#options.tube === 'function';
    if (tube && closeTube) {
      // Ended by the server: give the gateway a moment to send the tube's reason (AdminClosed, GuacdError …)
      // so the page can show it, then close the tube ourselves if it is still up.
      if (this.#serverEnded) setTimeout(() => void tube.close(), SERVER_CLOSE_GRACE_MS);
      else void tube.close();
    }
    if (this.state === TunnelState.CLOSED) return;
    if (status && status.code !== GuacStatus.SUCCESS) this.onerror?.(status);
    this.setState(TunnelState.CLOSED);
  }
}

function describe(info: CloseInfo): string {
  return `${info.name} (${info.reason})${info.message ? `: ${info.message}` : ''}`;
}
