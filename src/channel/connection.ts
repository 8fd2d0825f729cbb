/**
 * One tunnelled TCP connection (a conn_no inside a channel): the socket, its state, and flow control in both
 * directions. Toward the data channel it pauses reading while the channel is congested or the peer asked it to
 * (FlowPause). Toward TCP it honours socket.write(): past the high-water mark it asks the peer to pause this one
 * connection (when the peer supports it), and past the hard cap it closes the connection with a reason.
 */
import type { OnReadOpts } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import { FrameSlab } from './frame-slab.ts';
import type { TubeStream, TubeStreamOwner } from './tube-stream.ts';
import type { ChannelClock } from './types.ts';

export type ConnectionState = 'opening' | 'open' | 'closing' | 'closed';

/** Why reading from the socket is paused; several may hold at once. */
export const PauseReason = {
  Congested: 1,
  PeerFlow: 2,
  NotReady: 4,
} as const;

/**
 * A mode's view of the bytes a socket produces (e.g. guacd output parsed into whole instructions).
 * Without one, every read is forwarded as it is.
 */
export interface InboundFilter {
  /** Bytes read from the socket. The filter sends what it wants through its own context. */
  push(chunk: Buffer): void;
  /** The socket reached EOF. Return true when the filter took care of closing the connection. */
  end?(): boolean;
  /**
   * The connection is about to close (called once, before CloseConnection goes to the peer and before the
   * socket's FIN): last words, e.g. guacd `log` + `disconnect`. `toPeer` is false when the peer closed it.
   */
  beforeClose?(reason: number, toPeer: boolean): void;
}

/**
 * What a connection carries: a net.Socket, or any Duplex that behaves like one (e.g. a UDP relay).
 */
export type ConnectionStream = Duplex & { setNoDelay?(noDelay?: boolean): unknown };

/** What a Connection may ask of its channel (the channel keeps this object private). */
export interface ConnectionHost {
  readonly logger: Logger;
  /** Per-frame debug logging (changes at runtime: setVerboseLogging). */
  verbose: boolean;
  /** Runs the progress check of a closing connection. */
  readonly clock: ChannelClock;
  /** Per-connection bytes pending toward TCP before FlowPause is sent. */
  readonly flowHighWater: number;
  /** Per-connection bytes pending toward TCP past which the connection is closed. */
  readonly maxPendingBytes: number;
  peerSupportsFlowControl(): boolean;
  /** Send TCP bytes read from this connection's socket to the peer. */
  forward(connNo: number, chunk: Buffer): void;
  /** Send a frame already encoded for this connection (direct reads). */
  sendFrame(frame: Buffer): void;
  /** Largest payload one data frame may carry toward the peer. */
  maxDataPayload(): number;
  flowPause(connNo: number): void;
  flowResume(connNo: number): void;
  /** The socket reached EOF (the local side half-closed). */
  localEof(conn: Connection): void;
  /** An embedded stream's host ended its side: SendEOF, whatever the role. */
  sendEof(conn: Connection): void;
  /** Ask the channel to close this connection with a reason (sends CloseConnection). */
  requestClose(conn: Connection, reason: number, message?: string): void;
  /** The socket is gone for good. */
  released(conn: Connection): void;
}

const STALL_CHECK_MS = 2_000;
const STALL_LIMIT_MS = 10_000;

export class Connection implements TubeStreamOwner {
  readonly connNo: number;
  readonly #host: ConnectionHost;
  state: ConnectionState = 'opening';
  socket: ConnectionStream | undefined;
  /** The embedded stream this connection drives instead of a socket (openConnection, handler mode). */
  stream: TubeStream | undefined;
  bytesIn = 0;
  bytesOut = 0;
  #early: Buffer[] = [];
  #earlyBytes = 0;
  #earlyEnd = false;
  #pause = 0;
  #askedPeerToPause = false;
  #endTimer: unknown;
  /** CloseConnection for this connection was sent or received: never send (another) one. */
  closeExchanged = false;
  /** The reason it closed with, once known. */
  closeReason: number | undefined;
  /** Aborted when the connection closes before its open completed (an opener should give up then). */
  readonly openAbort = new AbortController();
  #filter: InboundFilter | undefined;

  constructor(connNo: number, host: ConnectionHost) {
    this.connNo = connNo;
    this.#host = host;
  }

  /** Bytes received from the peer and not yet taken by the kernel. */
  get pendingBytes(): number {
    const stream = this.stream;
    return this.#earlyBytes + (stream ? stream.readableLength : (this.socket?.writableLength ?? 0));
  }

  /** True while reading from the local side is paused (for an embedded stream: its writes are held). */
  get paused(): boolean {
    return this.#pause !== 0;
  }

  /**
   * `onread` options for a socket we create ourselves: reads land in frame slabs and go out without a copy.
   * Pass them to net.connect; attach() then works as for any socket.
   */
  directRead(): OnReadOpts {
    const slab = new FrameSlab(this.#host.maxDataPayload());
    return {
      buffer: () => slab.next(),
      callback: (n: number) => {
        if (n > 0 && this.state !== 'closing' && this.state !== 'closed') {
          this.bytesOut += n;
          this.#host.sendFrame(slab.commit(this.connNo, n));
        }
        // false stops the handle from Node's own read path; resume() restarts it.
        return this.#pause === 0;
      },
    };
  }

  /** Attach the socket: everything the peer sent before is written first, in order. */
  attach(socket: ConnectionStream, paused: number, filter?: InboundFilter): void {
    this.socket = socket;
    this.#filter = filter;
    socket.setNoDelay?.(true);
    this.#pause = paused;
    if (filter) {
      socket.on('data', (chunk: Buffer) => {
        this.bytesOut += chunk.length;
        filter.push(chunk);
      });
    } else {
      socket.on('data', (chunk: Buffer) => {
        this.bytesOut += chunk.length;
        this.#host.forward(this.connNo, chunk);
      });
    }
    socket.on('end', () => {
      if (!filter?.end?.()) this.#host.localEof(this);
    });
    socket.on('error', (err) => {
      if (this.#host.verbose)
        this.#host.logger.debug({ conn: this.connNo, err: err.message }, 'socket error');
    });
    socket.on('drain', () => this.#socketOnDrain());
    socket.on('close', () => this.#released());
    // A mode may have paused the socket during its handshake: the pause bits alone decide from here on.
    if (paused) socket.pause();
    else socket.resume();
    const early = this.#early;
    this.#early = [];
    this.#earlyBytes = 0;
    for (const chunk of early) socket.write(chunk);
    if (this.#earlyEnd) socket.end();
  }

  /**
   * Attach an embedded stream (created for this connection): peer bytes are pushed into it, its writes go
   * out as data frames (TubeStreamOwner below). Everything the peer sent before is delivered first.
   */
  attachStream(stream: TubeStream, paused: number): void {
    this.stream = stream;
    this.#pause = paused;
    const early = this.#early;
    this.#early = [];
    this.#earlyBytes = 0;
    for (const chunk of early) stream.deliver(chunk);
    if (this.#earlyEnd) stream.deliverEnd();
  }

  setPaused(reason: number, on: boolean): void {
    const before = this.#pause;
    this.#pause = on ? before | reason : before & ~reason;
    const stream = this.stream;
    if (stream) {
      if (this.#pause === 0 && before !== 0) stream.resumeWrites();
      return;
    }
    const socket = this.socket;
    if (!socket || before === this.#pause) return;
    if (this.#pause === 0) socket.resume();
    else if (before === 0) socket.pause();
  }

  /** Data frame from the peer. */
  write(payload: Uint8Array): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.bytesIn += payload.length;
    const stream = this.stream;
    const socket = this.socket;
    if (stream) {
      stream.deliver(payload);
    } else if (socket) {
      socket.write(payload);
    } else {
      this.#early.push(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
      this.#earlyBytes += payload.length;
    }
    const pending = this.pendingBytes;
    if (
      pending > this.#host.flowHighWater &&
      !this.#askedPeerToPause &&
      this.#host.peerSupportsFlowControl()
    ) {
      this.#askedPeerToPause = true;
      this.#host.flowPause(this.connNo);
    }
    if (pending > this.#host.maxPendingBytes) {
      this.#host.requestClose(
        this,
        CloseConnectionReason.Error,
        `Receive buffer limit exceeded: ${pending} bytes pending (cap ${this.#host.maxPendingBytes})`,
      );
    }
  }

  #socketOnDrain(): void {
    if (this.#askedPeerToPause) {
      this.#askedPeerToPause = false;
      this.#host.flowResume(this.connNo);
    }
  }

  // ---- TubeStreamOwner: what an embedded stream asks of its connection -----------------------------------

  streamData(chunk: Buffer): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.bytesOut += chunk.length;
    this.#host.forward(this.connNo, chunk);
  }

  streamEnd(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.#host.sendEof(this);
  }

  /**
   * The stream's reader wants more (Readable's _read). Node calls it before it takes the chunk it returns,
   * and only when what stays buffered after that is below the stream's high-water mark (64 KiB, under the
   * flow high-water mark), so the buffered length at this moment says nothing: resume the peer.
   */
  streamRead(): void {
    if (this.#askedPeerToPause) this.#socketOnDrain();
  }

  streamClosed(reason: number, message: string | undefined): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.#host.requestClose(this, reason, message);
  }

  /** The peer half-closed: FIN toward the socket once everything before it is written. */
  endWrites(): void {
    if (this.stream) this.stream.deliverEnd();
    else if (this.socket) this.socket.end();
    else this.#earlyEnd = true;
  }

  /**
   * Teardown: flush what is pending, FIN, then destroy once written (or when the reader makes no progress
   * for 10 s). `abort` destroys at once.
   */
  shutdown(abort = false, reason: number = CloseConnectionReason.Normal, message?: string): void {
    if (this.state === 'closed') return;
    if (this.state === 'opening') this.openAbort.abort();
    this.state = 'closing';
    const stream = this.stream;
    if (stream) {
      // The stream keeps what it buffered for its reader; the connection is done.
      stream.detach(reason, message);
      this.#released();
      return;
    }
    const socket = this.socket;
    if (!socket) {
      this.#early = [];
      this.#earlyBytes = 0;
      this.#released();
      return;
    }
    if (abort || socket.destroyed) {
      socket.destroy();
      return;
    }
    socket.end();
    socket.resume(); // keep reading (and dropping) so the kernel never stalls the peer's FIN
    socket.removeAllListeners('data');
    // Destroy as soon as everything pending is written; if the reader makes no progress, after STALL_LIMIT_MS.
    if (socket.writableFinished) {
      socket.destroy();
      return;
    }
    socket.once('finish', () => socket.destroy());
    let last = socket.writableLength;
    let still = 0;
    this.#endTimer = this.#host.clock.setInterval(() => {
      const now = socket.writableLength;
      still = now < last ? 0 : still + STALL_CHECK_MS;
      last = now;
      if (still >= STALL_LIMIT_MS) socket.destroy();
    }, STALL_CHECK_MS);
  }

  /** Gives the filter its beforeClose hook (once, and only while the connection is not yet closing). */
  beforeClose(reason: number, toPeer: boolean): void {
    const filter = this.#filter;
    this.#filter = undefined;
    if (filter?.beforeClose && (this.state === 'open' || this.state === 'opening')) {
      filter.beforeClose(reason, toPeer);
    }
  }

  #released(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.#endTimer !== undefined) this.#host.clock.clearInterval(this.#endTimer);
    this.#host.released(this);
  }
}
