/**
 * A channel: one data channel carrying many TCP connections as frames (docs/ORIGINAL.md, “Frames” to “Close reasons”; docs/PROTOCOL.md). This
 * module is the dispatcher: port events in, frames decoded, control messages to their handlers, data frames
 * to their Connection; the pieces live beside it (types.ts: limits, options, outcomes; opener.ts: the
 * gateway's open contract; keepalive.ts; connection.ts).
 *
 * Frames of a channel are handled strictly in arrival order. A connection whose open is still in progress
 * keeps the bytes the peer sends for it (Node's socket buffers writes until connected; before a socket
 * exists the Connection holds them), so data never overtakes its OpenConnection while other connections
 * on the channel keep flowing.
 *
 * Handlers are named `<source>On<event>` (`#portOnMessage`, `#connectionOnRelease`, …).
 */
import { Socket } from 'node:net';
import { ErrorCode, TubesError } from '../errors.ts';
import { encodeFrame, FRAME_OVERHEAD, FrameDecoder } from '../hotpath/index.ts';
import type { Logger } from '../log.ts';
import { aggregatedMetrics, type MetricsSample } from '../metrics/aggregated.ts';
import {
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  connectionCloseChannel,
  connectionOpenChannel,
  type FrameDiscardMessage,
  frameDiscardChannel,
} from '../metrics/diagnostics.ts';
import {
  Capability,
  capabilityProbeBody,
  keepaliveBody,
  pongBodyFor,
  readCapabilityPong,
  readKeepalive,
} from '../protocol/capabilities.ts';
import { CloseConnectionReason, closeReasonInfo } from '../protocol/close-reason.ts';
import {
  type ControlMessage,
  encodeCloseConnection,
  encodeConnectionOpened,
  encodeFlowPause,
  encodeFlowResume,
  encodeMetricsResponse,
  encodeOpenConnection,
  encodePing,
  encodePong,
  encodeSendEof,
  parseControl,
} from '../protocol/control.ts';
import { FRAGMENT_THRESHOLD, FragmentReassembler, fragmentFrame, isFragment } from '../protocol/fragment.ts';
import { Connection, type ConnectionHost, type ConnectionStream, PauseReason } from './connection.ts';
import { Keepalive } from './keepalive.ts';
import { type OpenContext, type Opened, refusalReason } from './opener.ts';
import type { DataChannelPort } from './port.ts';
import { closeReasonOfError, DeferredAccept, TubeStream } from './tube-stream.ts';
import {
  type ChannelLimits,
  type ChannelOptions,
  type ChannelOutcome,
  type ChannelStats,
  DEFAULT_LIMITS,
  type LocalConnectionCallbacks,
  MAX_MESSAGE_CAP,
  SYSTEM_CLOCK,
} from './types.ts';

export type { ChannelLimits, ChannelOptions, ChannelOutcome, ChannelStats } from './types.ts';

const BACKEND_CLOSED = 'Backend connection closed unexpectedly';

function swallow(): void {}

export function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  (err as { code?: string }).code = 'ABORT_ERR';
  return err;
}

/** An open stream whose signal aborts is destroyed with an AbortError (close reason Client). */
export function addAbortListener(signal: AbortSignal, stream: TubeStream): void {
  if (signal.aborted) {
    stream.destroy(abortError(signal));
    return;
  }
  const onAbort = (): void => void stream.destroy(abortError(signal));
  signal.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', onAbort));
}

export class Channel {
  readonly id: string;
  readonly role: 'server' | 'client';
  readonly logger: Logger;
  readonly #port: DataChannelPort;
  readonly #limits: ChannelLimits;
  readonly #decoder: FrameDecoder;
  readonly #opts: ChannelOptions;
  /** What each Connection of this channel may call (kept off the public surface). */
  readonly #host: ConnectionHost;
  readonly #keepalive: Keepalive;
  readonly #connections = new Map<number, Connection>();
  readonly #callbacks = new Map<number, LocalConnectionCallbacks>();
  readonly #startedAt: number;
  #nextConnNo = 1;
  #preOpen: Buffer[] | undefined = [];
  #congested = false;
  #ended = false;
  #closeReason: number | undefined;
  #peerCaps: number | undefined;
  #stats = { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0, framesDiscarded: 0 };
  /** Payload bytes of connections already gone (live ones are summed when asked). */
  #closedBytesToPeer = 0;
  #closedBytesFromPeer = 0;
  #flowPausesSent = 0;
  #flowPausesReceived = 0;
  readonly #decoderOnFrame = (connNo: number, payload: Uint8Array): void => this.#frame(connNo, payload);
  /** Fragmentation hook: set only when the capability is on. */
  readonly #fragments: FragmentReassembler | undefined;

  constructor(opts: ChannelOptions) {
    this.#opts = opts;
    this.#port = opts.port;
    this.id = opts.port.label;
    this.role = opts.role;
    this.logger = opts.logger;
    const limits: ChannelLimits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.#limits = limits;
    const clock = opts.clock ?? SYSTEM_CLOCK;
    this.#startedAt = clock.now();
    this.#decoder = new FrameDecoder({ maxPayload: limits.maxFramePayload });
    this.#fragments = opts.fragmentation ? new FragmentReassembler() : undefined;
    this.#keepalive = new Keepalive(limits.keepaliveIntervalMs, limits.keepaliveTimeoutMs, clock, {
      ping: (now) => this.#control(encodePing(0, keepaliveBody(now))),
      timeout: (silentMs) => this.#keepaliveOnTimeout(silentMs),
    });
    this.#host = {
      logger: opts.logger,
      verbose: opts.verbose,
      flowHighWater: limits.flowHighWater,
      maxPendingBytes: limits.maxPendingBytes,
      clock,
      peerSupportsFlowControl: () => ((this.#peerCaps ?? 0) & Capability.FlowControl) !== 0,
      forward: (connNo, chunk) => this.#forward(connNo, chunk),
      sendFrame: (frame) => {
        this.#transmit(frame);
        this.#checkCongestion();
      },
      maxDataPayload: () => this.maxDataPayload(),
      flowPause: (connNo) => {
        this.#flowPausesSent++;
        this.#opts.observer?.flowPause('sent');
        this.#control(encodeFlowPause(connNo));
      },
      flowResume: (connNo) => this.#control(encodeFlowResume(connNo)),
      localEof: (conn) => this.#connectionOnEof(conn),
      sendEof: (conn) => this.#control(encodeSendEof(conn.connNo)),
      requestClose: (conn, reason, message) => this.#closeConnection(conn, reason, message),
      released: (conn) => this.#connectionOnRelease(conn),
    };
    this.#port.bufferedAmountLowThreshold = limits.sendLowWater;
    this.#port.setHandlers({
      message: (data) => this.#portOnMessage(data),
      drain: () => this.#portOnDrain(),
      open: () => this.#portOnOpen(),
      close: () => this.#portOnClose(),
    });
  }

  /** Per-frame debug logging (setVerboseLogging): takes effect at once, for every connection too. */
  get verbose(): boolean {
    return this.#host.verbose;
  }

  set verbose(on: boolean) {
    this.#host.verbose = on;
  }

  get ended(): boolean {
    return this.#ended;
  }

  get closeReason(): number | undefined {
    return this.#closeReason;
  }

  stats(): ChannelStats {
    let toPeer = this.#closedBytesToPeer;
    let fromPeer = this.#closedBytesFromPeer;
    for (const c of this.#connections.values()) {
      toPeer += c.bytesOut;
      fromPeer += c.bytesIn;
    }
    const rtt = this.#keepalive.summary();
    return {
      channelId: this.id,
      activeConnections: this.#connections.size,
      ...this.#stats,
      rttMs: this.#keepalive.rttMs,
      rttAvgMs: rtt?.avgMs,
      rttP95Ms: rtt?.p95Ms,
      rttP99Ms: rtt?.p99Ms,
      peerCapabilities: this.#peerCaps,
      connectionBytesToPeer: toPeer,
      connectionBytesFromPeer: fromPeer,
      flowPausesSent: this.#flowPausesSent,
      flowPausesReceived: this.#flowPausesReceived,
      uptimeMs: this.#host.clock.now() - this.#startedAt,
    };
  }

  /** Messages received from the peer so far: a cheap progress read (no stats object, no RTT summary). */
  get messagesReceived(): number {
    return this.#stats.messagesReceived;
  }

  /** This channel's contribution to the aggregated metrics (MetricsResponse type 0). */
  metricsSample(): MetricsSample {
    const s = this.#stats;
    return { ...s, rttMs: this.#keepalive.rttMs, establishedAt: this.#startedAt };
  }

  /**
   * Offering side, in-process client: opens a connection whose local end is a TubeStream. Resolves when
   * the peer answers ConnectionOpened; rejects with TUBES_ERR_CONNECTION_REFUSED (the peer's reason in
   * `closeReason`) when it refuses, TUBES_ERR_CLOSED when the channel is ended, or an AbortError.
   */
  openStream(signal?: AbortSignal, tail?: Uint8Array): Promise<TubeStream> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.#ended) {
      return Promise.reject(
        new TubesError(ErrorCode.CLOSED, `Channel ${this.id} is closed`, {
          ...(this.#closeReason !== undefined ? { closeReason: this.#closeReason } : {}),
        }),
      );
    }
    if (this.role !== 'server') {
      return Promise.reject(
        new TubesError(
          ErrorCode.BAD_ARGUMENT,
          `Channel ${this.id} is served by the answering side: open connections from the offering side`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const connNo = this.#nextConnNo++;
      const conn = new Connection(connNo, this.#host);
      const stream = new TubeStream(conn, this.id, CloseConnectionReason.Error);
      // Until the caller has the stream, its errors (a refusal, the channel ending) reach it as the rejection.
      stream.on('error', swallow);
      let settled = false;
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        reject(abortError(signal as AbortSignal));
        stream.destroy(abortError(signal as AbortSignal));
      };
      this.#connections.set(connNo, conn);
      this.#callbacks.set(connNo, {
        opened: () => {
          signal?.removeEventListener('abort', onAbort);
          if (settled) return;
          settled = true;
          if (signal) addAbortListener(signal, stream);
          resolve(stream);
          // The caller's continuation runs as a microtask; a close that arrived in the same delivery emits
          // 'error' from process.nextTick, which runs before it. Keep the guard until the caller has the
          // stream (the error stays on stream.errored / closeReason), so a peer cannot crash the process.
          queueMicrotask(() => stream.off('error', swallow));
        },
        failed: (reason, message) => {
          signal?.removeEventListener('abort', onAbort);
          if (settled) return;
          settled = true;
          reject(
            new TubesError(
              ErrorCode.CONNECTION_REFUSED,
              message ?? `Connection refused: ${closeReasonInfo(reason).message}`,
              { closeReason: reason },
            ),
          );
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#control(encodeOpenConnection(connNo, tail));
      this.#publishOpen(connNo);
      conn.attachStream(
        stream,
        (this.#preOpen ? PauseReason.NotReady : 0) | (this.#congested ? PauseReason.Congested : 0),
      );
    });
  }

  /** Largest payload one data frame may carry toward the peer (its max-message-size, at most 64 KiB). */
  maxDataPayload(): number {
    const mms = this.#port.maxMessageSize;
    return (mms > 0 && mms < MAX_MESSAGE_CAP ? mms : MAX_MESSAGE_CAP) - FRAME_OVERHEAD;
  }

  /**
   * Server mode: a local client connected. Allocates the next conn_no, sends OpenConnection (with the
   * mode's tail, e.g. the SOCKS destination) and starts forwarding at once, as the original does.
   */
  acceptLocal(
    socket: ConnectionStream,
    tail?: Uint8Array,
    callbacks?: LocalConnectionCallbacks,
    initial?: Uint8Array,
  ): Connection | undefined {
    if (this.#ended) {
      socket.destroy();
      return undefined;
    }
    const connNo = this.#nextConnNo++;
    const conn = new Connection(connNo, this.#host);
    this.#connections.set(connNo, conn);
    if (callbacks) this.#callbacks.set(connNo, callbacks);
    this.#control(encodeOpenConnection(connNo, tail));
    this.#publishOpen(connNo);
    if (initial && initial.length > 0) this.#forward(connNo, initial as Buffer);
    conn.attach(
      socket,
      (this.#preOpen ? PauseReason.NotReady : 0) | (this.#congested ? PauseReason.Congested : 0),
    );
    return conn;
  }

  /**
   * Ends the channel on our decision: every connection closed with Normal, then CloseConnection(0, reason)
   * so the peer learns the reason. The data channel itself stays open (the tube decides about it).
   */
  close(reason: number): void {
    if (this.#ended) return;
    this.#recordReason(reason);
    this.#end(this.#closeReason, true);
  }

  /** Waits (≤ timeoutMs) until what was sent is delivered (acknowledged by the peer's SCTP). */
  async flush(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.#port.readyState === 'open' && !this.#port.drained && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // ---- diagnostics -----------------------------------------------------------------------------------

  #publishClose(
    connNo: number,
    reason: number,
    message: string | undefined,
    initiator: 'local' | 'remote',
  ): void {
    if (!connectionCloseChannel.hasSubscribers) return;
    const msg: ConnectionCloseMessage = {
      channelId: this.id,
      connNo,
      role: this.role,
      reason,
      message,
      initiator,
    };
    connectionCloseChannel.publish(msg);
  }

  #publishOpen(connNo: number): void {
    if (!connectionOpenChannel.hasSubscribers) return;
    const msg: ConnectionOpenMessage = { channelId: this.id, connNo, role: this.role };
    connectionOpenChannel.publish(msg);
  }

  // ---- sending -------------------------------------------------------------------------------------

  /** Sends one encoded frame; until the data channel opens, frames wait in order. */
  #transmit(frame: Buffer): void {
    if (this.#preOpen) {
      this.#preOpen.push(frame);
      return;
    }
    if (this.#ended) return;
    if (this.#fragments && frame.length > FRAGMENT_THRESHOLD) {
      const parts = fragmentFrame(frame); // fragmentation hook: one message per fragment
      if (parts) {
        for (const part of parts) this.#sendMessage(part);
        return;
      }
    }
    this.#sendMessage(frame);
  }

  #sendMessage(message: Buffer): void {
    if (!this.#port.send(message)) return;
    this.#stats.messagesSent++;
    this.#stats.bytesSent += message.length;
  }

  #control(payload: Uint8Array): void {
    this.#transmit(encodeFrame(0, payload));
  }

  /** Bytes read from a socket go out as data frames no larger than the peer accepts. */
  #forward(connNo: number, chunk: Buffer): void {
    const max = this.maxDataPayload();
    for (let at = 0; at < chunk.length; at += max) {
      this.#transmit(
        encodeFrame(connNo, at === 0 && chunk.length <= max ? chunk : chunk.subarray(at, at + max)),
      );
    }
    this.#checkCongestion();
  }

  #checkCongestion(): void {
    if (!this.#congested && this.#port.bufferedAmount > this.#limits.sendHighWater) {
      this.#congested = true;
      for (const c of this.#connections.values()) c.setPaused(PauseReason.Congested, true);
    }
  }

  // ---- port events ---------------------------------------------------------------------------------

  #portOnMessage(data: Uint8Array): void {
    if (this.#ended) return;
    this.#keepalive.received();
    this.#stats.messagesReceived++;
    this.#stats.bytesReceived += data.length;
    if (this.#fragments && isFragment(data)) {
      const whole = this.#fragments.push(data); // fragmentation hook: whole frames continue below
      if (!whole) return;
      data = whole;
    }
    const err = this.#decoder.push(data, this.#decoderOnFrame);
    if (err) {
      this.#stats.framesDiscarded++;
      this.logger.warn({ code: err.code, err: err.message }, 'discarding corrupt frame stream');
      if (frameDiscardChannel.hasSubscribers) {
        const msg: FrameDiscardMessage = { channelId: this.id, code: err.code, message: err.message };
        frameDiscardChannel.publish(msg);
      }
    }
  }

  #portOnDrain(): void {
    if (!this.#congested) return;
    this.#congested = false;
    for (const c of this.#connections.values()) c.setPaused(PauseReason.Congested, false);
  }

  #portOnOpen(): void {
    const queued = this.#preOpen;
    if (!queued) return;
    this.#preOpen = undefined;
    // Probe the peer's extensions first: an original peer echoes it, ours answers with its capabilities.
    if (this.#opts.extensions !== false) this.#control(encodePing(0, capabilityProbeBody()));
    for (const frame of queued) this.#transmit(frame);
    for (const c of this.#connections.values()) c.setPaused(PauseReason.NotReady, false);
    this.#keepalive.start();
    this.#opts.onOpen();
  }

  #portOnClose(): void {
    this.#end(this.#closeReason);
    this.#opts.onTransportClose();
  }

  #keepaliveOnTimeout(silentMs: number): void {
    this.logger.warn({ silentMs }, 'peer silent: keepalive timeout');
    this.#opts.onPeerTimeout();
  }

  // ---- frames --------------------------------------------------------------------------------------

  #frame(connNo: number, payload: Uint8Array): void {
    if (this.#ended) return;
    if (connNo !== 0) {
      const conn = this.#connections.get(connNo);
      if (conn) conn.write(payload);
      else {
        this.#stats.framesDiscarded++;
        if (this.verbose)
          this.logger.debug({ conn: connNo, bytes: payload.length }, 'data for unknown connection');
      }
      return;
    }
    const msg = parseControl(payload);
    if (msg instanceof TubesError) {
      this.logger.error({ code: msg.code, err: msg.message }, 'malformed control message ignored');
      return;
    }
    try {
      this.#controlMessage(msg);
    } catch (err) {
      this.logger.error({ err: (err as Error).message, type: msg.type }, 'control message handling failed');
    }
  }

  #controlMessage(msg: ControlMessage): void {
    switch (msg.type) {
      case 'ping':
        this.#peerOnPing(msg.connNo, msg.body, msg.short);
        return;
      case 'pong':
        this.#peerOnPong(msg.body);
        return;
      case 'open':
        this.#peerOnOpen(msg.connNo, msg.tail);
        return;
      case 'opened':
        this.#peerOnOpened(msg.connNo);
        return;
      case 'close':
        this.#peerOnClose(msg.connNo, msg.reason, msg.message);
        return;
      case 'eof': {
        const conn = this.#connections.get(msg.connNo);
        if (conn) conn.endWrites();
        else this.logger.error({ conn: msg.connNo }, 'SendEOF for unknown connection');
        return;
      }
      case 'metrics-request':
        this.#control(encodeMetricsResponse(this.#metricsReply(msg.requestType)));
        return;
      case 'metrics-response':
      case 'metrics-config':
        if (this.verbose) this.logger.debug({ type: msg.type }, 'metrics message');
        return;
      case 'flow-pause':
      case 'flow-resume': {
        if (msg.type === 'flow-pause') {
          this.#flowPausesReceived++;
          this.#opts.observer?.flowPause('received');
        }
        const conn = this.#connections.get(msg.connNo);
        conn?.setPaused(PauseReason.PeerFlow, msg.type === 'flow-pause');
        return;
      }
      case 'unknown':
        this.logger.error({ code: msg.code }, 'unknown control message ignored');
        return;
    }
  }

  #peerOnPing(connNo: number, body: Uint8Array, short: boolean): void {
    if (short) {
      this.#control(encodePong(0));
      return;
    }
    if (connNo !== 0 && !this.#connections.has(connNo)) {
      this.logger.error({ conn: connNo }, 'Ping for unknown connection');
      return;
    }
    this.#control(encodePong(connNo, pongBodyFor(connNo, body, this.#opts.extensions !== false)));
  }

  #peerOnPong(body: Uint8Array): void {
    const caps = readCapabilityPong(body);
    if (caps !== undefined) {
      this.#peerCaps = caps;
      if (this.verbose) this.logger.debug({ caps }, 'peer capabilities');
      return;
    }
    const sent = readKeepalive(body);
    if (sent === undefined) return;
    const rtt = this.#keepalive.echoed(sent);
    this.#opts.observer?.rtt(rtt);
  }

  #peerOnOpened(connNo: number): void {
    const conn = this.#connections.get(connNo);
    if (conn && conn.state === 'opening') {
      conn.state = 'open';
      this.#opts.observer?.connectionOpened();
    }
    const cb = this.#callbacks.get(connNo);
    this.#callbacks.delete(connNo);
    cb?.opened?.();
  }

  #metricsReply(type: number): string {
    switch (type) {
      case 0: // the original's aggregated metrics object (src/metrics/aggregated.ts)
        return JSON.stringify(
          this.#opts.aggregatedMetrics?.() ??
            aggregatedMetrics([this.metricsSample()], 1, this.#host.clock.now()),
        );
      case 1:
        return 'null'; // live stats of one connection: the original always answers null here too
      case 2:
        return JSON.stringify({
          uptime_seconds: Math.floor((this.#host.clock.now() - this.#startedAt) / 1000),
          active_connection_count: this.#connections.size,
          channel_id: this.id,
        });
      default:
        return 'error: unknown request type';
    }
  }

  // ---- opening (gateway side) ----------------------------------------------------------------------

  #peerOnOpen(connNo: number, tail: Uint8Array): void {
    const opener = this.#opts.opener;
    const handler = this.#opts.handler;
    if (this.role === 'server' || (!opener && !handler)) {
      // The original's server side answers and does nothing else.
      this.#control(encodeConnectionOpened(connNo));
      return;
    }
    if (connNo === 0) {
      this.logger.error({}, 'OpenConnection for conn 0 ignored');
      return;
    }
    const existing = this.#connections.get(connNo);
    if (existing) {
      if (existing.state === 'open') this.#control(encodeConnectionOpened(connNo));
      else if (existing.state !== 'opening') {
        this.#control(
          encodeCloseConnection(
            connNo,
            CloseConnectionReason.ConnectionFailed,
            `Connection ${connNo} is closing (state: ${existing.state}), cannot reuse conn_no during cleanup window`,
          ),
        );
      }
      return;
    }
    if (this.#connections.size >= this.#limits.maxConnections) {
      this.#control(
        encodeCloseConnection(
          connNo,
          CloseConnectionReason.ConnectionFailed,
          `Too many connections on channel ${this.id} (limit ${this.#limits.maxConnections})`,
        ),
      );
      return;
    }
    const conn = new Connection(connNo, this.#host);
    this.#connections.set(connNo, conn);
    if (handler || !opener) {
      if (handler) this.#handOver(conn, handler);
      return;
    }
    const ctx: OpenContext = {
      channelId: this.id,
      maxPayload: this.maxDataPayload(),
      connectTimeoutMs: this.#limits.connectTimeoutMs,
      logger: this.logger,
      send: (payload) => this.#forward(connNo, payload as Buffer),
      close: (reason, message) => this.#closeConnection(conn, reason, message),
      recordChannelReason: (reason) => this.#recordReason(reason),
      endChannel: (reason) => {
        if (reason !== undefined) this.#recordReason(reason);
        this.#end(this.#closeReason, true);
      },
      signal: (kind, data) => this.#opts.signal?.(kind, data),
      abandoned: conn.openAbort.signal,
    };
    // An opener that produces no socket in time is abandoned; a socket still connecting is bounded by
    // its own connect timeout (dial), which reports the address.
    const clock = this.#host.clock;
    const timeoutMs = this.#limits.connectTimeoutMs;
    const deadline =
      timeoutMs > 0
        ? clock.setTimeout(() => {
            if (conn.state === 'opening')
              this.#closeConnection(
                conn,
                CloseConnectionReason.ConnectionFailed,
                `Open timed out after ${timeoutMs} ms`,
              );
          }, timeoutMs)
        : undefined;
    opener(conn, tail, ctx).then(
      (opened) => {
        if (deadline !== undefined) clock.clearTimeout(deadline);
        this.#openerOnOpened(conn, opened);
      },
      (err: unknown) => {
        if (deadline !== undefined) clock.clearTimeout(deadline);
        if (conn.state === 'closed') return;
        this.#closeConnection(conn, refusalReason(err), (err as Error).message);
      },
    );
  }

  /**
   * Handler mode: the connection's local end is a TubeStream given to the host's handler. Writes made
   * during the call wait (not open yet); a throw or a destroy during the call refuses the connection.
   */
  #handOver(conn: Connection, handler: (stream: TubeStream, connNo: number) => void): void {
    const stream = new TubeStream(conn, this.id, CloseConnectionReason.HandlerError);
    conn.attachStream(stream, PauseReason.NotReady | (this.#congested ? PauseReason.Congested : 0));
    let answer: unknown;
    try {
      answer = handler(stream, conn.connNo);
    } catch (err) {
      this.#handlerRefused(conn, stream, err);
      return;
    }
    if (answer instanceof DeferredAccept) {
      // Worker mode: the host's handler decides on the registry's thread.
      answer.decided.then(
        () => this.#handlerAccepted(conn),
        (err: unknown) => this.#handlerRefused(conn, stream, err),
      );
      return;
    }
    this.#handlerAccepted(conn);
  }

  #handlerRefused(conn: Connection, stream: TubeStream, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    stream.abandon();
    if (conn.state === 'opening')
      this.#closeConnection(conn, closeReasonOfError(e, CloseConnectionReason.HandlerError), e.message);
  }

  #handlerAccepted(conn: Connection): void {
    if (conn.state !== 'opening') return; // destroyed by the handler: refused with its reason
    conn.state = 'open';
    this.#control(encodeConnectionOpened(conn.connNo));
    this.#publishOpen(conn.connNo);
    this.#opts.observer?.connectionOpened();
    conn.setPaused(PauseReason.NotReady, false);
  }

  #openerOnOpened(conn: Connection, opened: Socket | Opened): void {
    const { socket, inbound } = opened instanceof Socket ? { socket: opened, inbound: undefined } : opened;
    if (conn.state === 'closing' || conn.state === 'closed' || this.#ended) {
      socket.destroy();
      return;
    }
    conn.attach(socket, this.#congested ? PauseReason.Congested : 0, inbound);
    const socketOnConnect = (): void => {
      if (conn.state !== 'opening') return;
      conn.state = 'open';
      this.#control(encodeConnectionOpened(conn.connNo));
      this.#publishOpen(conn.connNo);
      this.#opts.observer?.connectionOpened();
    };
    if (socket instanceof Socket && socket.connecting) {
      socket.once('connect', socketOnConnect);
      socket.once('error', (err) => {
        if (conn.state === 'opening')
          this.#closeConnection(conn, CloseConnectionReason.ConnectionFailed, err.message);
      });
    } else socketOnConnect();
  }

  // ---- closing -------------------------------------------------------------------------------------

  /** Our side closes one connection: its last words, CloseConnection (once), then the socket goes. */
  #closeConnection(conn: Connection, reason: number, message?: string): void {
    if (!conn.closeExchanged) {
      conn.beforeClose(reason, true); // the mode's last words go before CloseConnection (guacd)
      conn.closeExchanged = true;
      conn.closeReason = reason;
      this.#control(encodeCloseConnection(conn.connNo, reason, message));
      this.#publishClose(conn.connNo, reason, message, 'local');
    }
    conn.shutdown(reason === CloseConnectionReason.Error, reason, message);
  }

  /** A socket reached EOF (its side half-closed). */
  #connectionOnEof(conn: Connection): void {
    if (this.role === 'server') {
      this.#control(encodeSendEof(conn.connNo));
      return;
    }
    // The target closed: its own CloseConnection, always (the original suppressed it after the first one).
    this.#closeConnection(conn, CloseConnectionReason.ConnectionLost, BACKEND_CLOSED);
  }

  /**
   * A connection's socket is gone for good. When it went without a close exchanged (reset, error), the
   * peer is told now, and the close is published like any other.
   */
  #connectionOnRelease(conn: Connection): void {
    if (this.#connections.get(conn.connNo) === conn) this.#connections.delete(conn.connNo);
    this.#closedBytesToPeer += conn.bytesOut;
    this.#closedBytesFromPeer += conn.bytesIn;
    this.#opts.observer?.connectionClosed(conn.closeReason ?? CloseConnectionReason.Normal);
    if (!conn.closeExchanged && !this.#ended) {
      const client = this.role === 'client' && !conn.stream;
      const reason = client ? CloseConnectionReason.ConnectionLost : CloseConnectionReason.Normal;
      const message = client ? BACKEND_CLOSED : undefined;
      conn.closeExchanged = true;
      conn.closeReason = reason;
      this.#control(encodeCloseConnection(conn.connNo, reason, message));
      this.#publishClose(conn.connNo, reason, message, 'local');
    }
    const cb = this.#callbacks.get(conn.connNo);
    this.#callbacks.delete(conn.connNo);
    cb?.failed?.(CloseConnectionReason.Normal, undefined);
  }

  #peerOnClose(connNo: number, reason: number, message: string | undefined): void {
    if (connNo === 0) {
      this.#recordReason(reason);
      this.#end(this.#closeReason, false);
      return;
    }
    const conn = this.#connections.get(connNo);
    if (!conn) return;
    conn.closeExchanged = true;
    this.#publishClose(connNo, reason, message, 'remote');
    const cb = this.#callbacks.get(connNo);
    this.#callbacks.delete(connNo);
    cb?.failed?.(reason, message);
    if (this.verbose) this.logger.debug({ conn: connNo, reason, message }, 'peer closed connection');
    conn.closeReason ??= reason;
    conn.beforeClose(reason, false);
    conn.shutdown(false, reason, message);
  }

  #recordReason(reason: number): void {
    const stored = this.#closeReason;
    if (stored !== undefined && closeReasonInfo(stored).isCritical && !closeReasonInfo(reason).isCritical)
      return;
    this.#closeReason = reason;
  }

  #end(reason: number | undefined, sendClose = false): void {
    if (this.#ended) return;
    for (const conn of [...this.#connections.values()]) {
      if (sendClose) this.#closeConnection(conn, CloseConnectionReason.Normal);
      else {
        // The peer ended the channel (its reason, or none: the transport went).
        const lost = reason ?? CloseConnectionReason.ConnectionLost;
        conn.closeExchanged = true;
        conn.closeReason ??= lost;
        conn.beforeClose(CloseConnectionReason.Normal, false);
        conn.shutdown(false, lost);
      }
    }
    if (sendClose) this.#control(encodeCloseConnection(0, reason ?? CloseConnectionReason.Normal));
    this.#ended = true;
    this.#keepalive.stop();
    for (const [connNo, cb] of this.#callbacks) {
      this.#callbacks.delete(connNo);
      cb.failed?.(reason ?? CloseConnectionReason.Normal, undefined);
    }
    const critical = reason !== undefined && closeReasonInfo(reason).isCritical;
    const outcome: ChannelOutcome = critical ? `critical_upstream_closed: ${this.id}` : 'normal_exit';
    this.#opts.onEnd(outcome, reason);
  }
}
