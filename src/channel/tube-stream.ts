/**
 * A tunnelled connection as a `stream.Duplex` in the host's own process (no TCP between the host and the
 * tube): what `openConnection` returns on the offering side and what a gateway's `onConnection` handler
 * receives. Reading yields the peer's bytes (one chunk per data frame, e.g. whole Guacamole instructions);
 * writing sends data frames.
 *
 * The Connection drives it directly, without a socket pair in between: peer bytes are `push()`ed (the
 * readable buffer is the Connection's pending bytes, so FlowPause/FlowResume work as for a socket); a
 * write goes out as frames at once unless the connection is paused (channel congested, peer FlowPause,
 * not open yet), in which case the chunk and its callback wait in two fields (no allocation) until the
 * pause ends; `write()` then returns false and `'drain'` follows, as with any Writable.
 *
 * Closing: `end()` is a half-close (SendEOF); when both directions have ended the connection closes with
 * Normal. `destroy()` closes with Normal, `destroy(err)` with `err.closeReason` when it is a number, else
 * with the side's error reason (Error on the offering side, HandlerError on a gateway handler); the peer's
 * close ends the readable side after what is buffered (Normal, or ConnectionLost: a gateway's target closed)
 * or destroys the stream with a `TubesError` (code `TUBES_ERR_CLOSED`, `closeReason` set) for any other
 * reason. `closeReason` tells which, once closed.
 */
import { Duplex } from 'node:stream';
import { ErrorCode, TubesError } from '../errors.ts';
import { CloseConnectionReason, closeReasonInfo } from '../protocol/close-reason.ts';

/** What a TubeStream asks of the connection it belongs to (implemented by Connection). */
export interface TubeStreamOwner {
  readonly connNo: number;
  /** True while the connection may not send (congested, peer FlowPause, not open yet). */
  readonly paused: boolean;
  /** The host wrote a chunk: send it as data frames. */
  streamData(chunk: Buffer): void;
  /** The host ended its side (SendEOF). */
  streamEnd(): void;
  /** The host reads again (the readable buffer fell below its high-water mark). */
  streamRead(): void;
  /** The host destroyed the stream (or both sides ended): close the connection with this reason. */
  streamClosed(reason: number, message: string | undefined): void;
}

/** Readable/writable high-water mark of a TubeStream: one full data frame. */
export const TUBE_STREAM_HIGH_WATER = 64 * 1024;

/** The reason a stream error closes its connection with. */
export function closeReasonOfError(err: Error | null | undefined, fallback: number): number {
  if (!err) return CloseConnectionReason.Normal;
  const r = (err as { closeReason?: unknown }).closeReason;
  if (typeof r === 'number' && Number.isInteger(r) && r >= 0 && r <= 255) return r;
  if (err.name === 'AbortError') return CloseConnectionReason.Client;
  return fallback;
}

/**
 * What a handler returns to accept or refuse later rather than when it returns (worker mode: the host's
 * handler runs on the registry's thread, the channel in a worker). `decided` resolving sends ConnectionOpened;
 * rejecting refuses the connection with the error's `closeReason` (default HandlerError) and message.
 * Internal: the public handler contract stays "accepted when it returns".
 */
export class DeferredAccept {
  readonly decided: Promise<void>;
  constructor(decided: Promise<void>) {
    this.decided = decided;
  }
}

export class TubeStream extends Duplex {
  /** conn_no of the connection inside its channel. */
  readonly connNo: number;
  /** The data channel (conversation id) carrying the connection. */
  readonly channelId: string;
  #owner: TubeStreamOwner | undefined;
  readonly #errorReason: number;
  #heldChunk: Buffer | undefined;
  #heldCallback: ((err?: Error | null) => void) | undefined;
  #closeReason: number | undefined;
  #eof = false;
  /** setTimeout: the idle limit (0 = none), its timer, and when a chunk last went either way. */
  #idleMs = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #lastActivity = 0;

  /** `errorReason`: the close reason of `destroy(err)` for an error without its own `closeReason`. */
  constructor(owner: TubeStreamOwner, channelId: string, errorReason: number) {
    super({
      allowHalfOpen: true,
      readableHighWaterMark: TUBE_STREAM_HIGH_WATER,
      writableHighWaterMark: TUBE_STREAM_HIGH_WATER,
    });
    this.#owner = owner;
    this.connNo = owner.connNo;
    this.channelId = channelId;
    this.#errorReason = errorReason;
  }

  /** The CloseConnection reason the connection closed with (undefined while it is open). */
  get closeReason(): number | undefined {
    return this.#closeReason;
  }

  // ---- the host's side (stream.Duplex implementation) ---------------------------------------------------

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    const owner = this.#owner;
    if (!owner) {
      callback(this.#closedError());
      return;
    }
    if (this.#idleMs !== 0) this.#active();
    if (owner.paused) {
      this.#heldChunk = chunk;
      this.#heldCallback = callback;
      return;
    }
    owner.streamData(chunk);
    callback();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#owner?.streamEnd();
    callback();
  }

  override _read(): void {
    this.#owner?.streamRead();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const owner = this.#owner;
    this.#owner = undefined;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#failHeld(err ?? this.#closedError());
    if (owner) {
      const reason = closeReasonOfError(err, this.#errorReason);
      this.#closeReason = reason;
      owner.streamClosed(reason, err?.message);
    }
    callback(err);
  }

  // ---- what consumers written for net.Socket call (node:http client and server) --------------------------

  /**
   * As `net.Socket#setTimeout`: after `ms` without a chunk read or written, `'timeout'` is emitted (once per
   * idle period; the stream is not destroyed, the listener decides); 0 disables it. One timer per stream,
   * armed per idle period: a chunk only stamps the time, and the timer, when it fires early, re-arms itself
   * for the rest.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new TubesError(ErrorCode.BAD_ARGUMENT, `setTimeout: ms must be a finite number ≥ 0, got ${ms}`);
    }
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#idleMs = ms;
    if (ms === 0) {
      if (callback) this.off('timeout', callback);
      return this;
    }
    if (callback) this.once('timeout', callback);
    this.#lastActivity = performance.now();
    if (!this.destroyed) this.#armIdle(ms);
    return this;
  }

  /** The idle timeout set by `setTimeout` (undefined when none), as `net.Socket#timeout`. */
  get timeout(): number | undefined {
    return this.#idleMs > 0 ? this.#idleMs : undefined;
  }

  /** A chunk was read or written: stamps the time; arms the timer again after a timeout fired. */
  #active(): void {
    if (this.#idleMs === 0) return;
    this.#lastActivity = performance.now();
    if (this.#idleTimer === undefined && !this.destroyed) this.#armIdle(this.#idleMs);
  }

  #armIdle(ms: number): void {
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#idleMs === 0 || this.destroyed) return;
      const idle = performance.now() - this.#lastActivity;
      if (idle < this.#idleMs) this.#armIdle(this.#idleMs - idle);
      else this.emit('timeout');
    }, ms);
    this.#idleTimer.unref();
  }

  /** Frames are sent at once already. */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** The tube's keepalive covers the transport. */
  setKeepAlive(_enable?: boolean, _delayMs?: number): this {
    return this;
  }

  /** Nothing to (un)reference: the tube's transport decides whether the process stays alive. */
  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  override async [Symbol.asyncDispose](): Promise<void> {
    if (this.destroyed) return;
    this.destroy();
  }

  // ---- the connection's side ------------------------------------------------------------------------------

  /** Data frame from the peer; false once the readable buffer is above its high-water mark. */
  deliver(payload: Uint8Array): boolean {
    if (this.#eof) return false; // data after the peer's SendEOF: dropped, as a socket past its FIN would
    if (this.#idleMs !== 0) this.#active();
    return this.push(payload);
  }

  /** The peer half-closed: the readable side ends after what is buffered. */
  deliverEnd(): void {
    if (this.#eof) return;
    this.#eof = true;
    this.push(null);
  }

  /** Drops the stream without closing its connection (the caller closes it with its own reason). */
  abandon(): void {
    this.#owner = undefined;
    if (!this.destroyed) this.destroy();
  }

  /** The connection may send again: the held write goes out and its callback runs. */
  resumeWrites(): void {
    const chunk = this.#heldChunk;
    const callback = this.#heldCallback;
    if (!callback || !this.#owner) return;
    this.#heldChunk = undefined;
    this.#heldCallback = undefined;
    if (chunk) this.#owner.streamData(chunk);
    callback();
  }

  /**
   * The connection closed (peer's CloseConnection, the channel ending, or our own request). Normal, and
   * ConnectionLost (what a gateway sends when its target closed, as a TCP client sees a FIN): the readable
   * side ends after what is buffered and further writes fail; any other reason destroys the stream.
   */
  detach(reason: number, message: string | undefined): void {
    if (!this.#owner) return;
    this.#owner = undefined;
    this.#closeReason = reason;
    if (reason === CloseConnectionReason.Normal || reason === CloseConnectionReason.ConnectionLost) {
      // What was written was sent already (a held chunk was not: its write fails).
      this.#failHeld(this.#closedError());
      this.deliverEnd();
      if (!this.writableEnded) this.end();
      return;
    }
    this.destroy(
      new TubesError(ErrorCode.CLOSED, message ?? `Connection closed: ${closeReasonInfo(reason).message}`, {
        closeReason: reason,
      }),
    );
  }

  #failHeld(err: Error): void {
    const callback = this.#heldCallback;
    this.#heldChunk = undefined;
    this.#heldCallback = undefined;
    callback?.(err);
  }

  #closedError(): TubesError {
    const reason = this.#closeReason ?? CloseConnectionReason.Normal;
    return new TubesError(ErrorCode.CLOSED, `Connection ${this.connNo} is closed`, { closeReason: reason });
  }
}
