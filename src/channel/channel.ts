/**
 * A channel: one data channel carrying many TCP connections as frames (original-behaviour §1–3).
 *
 * Frames of a channel are handled strictly in arrival order. A connection whose open is still in progress
 * keeps the bytes the peer sends for it (Node's socket buffers writes until connected; before a socket
 * exists the Connection holds them), so data never overtakes its OpenConnection while other connections
 * on the channel keep flowing.
 */
import { Socket } from 'node:net';
import { TubesError } from '../errors.ts';
import { encodeFrame, FRAME_OVERHEAD, FrameDecoder } from '../hotpath/index.ts';
import type { Logger } from '../log.ts';
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
  capabilityAnswerBody,
  capabilityProbeBody,
  isCapabilityProbe,
  keepaliveBody,
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
import {
  Connection,
  type ConnectionHost,
  type ConnectionStream,
  type InboundFilter,
  PauseReason,
} from './connection.ts';
import type { DataChannelPort } from './port.ts';

export interface ChannelLimits {
  /** Pause TCP reads while the data channel buffers more than this. */
  sendHighWater: number;
  /** Resume TCP reads when the data channel buffer falls to this. */
  sendLowWater: number;
  flowHighWater: number;
  maxPendingBytes: number;
  maxFramePayload: number;
  keepaliveIntervalMs: number;
  /** Nothing received for this long: the peer is gone. */
  keepaliveTimeoutMs: number;
  /** Connections a peer may have open on one channel at once (gateway side); more are refused. */
  maxConnections: number;
}

export const DEFAULT_LIMITS: ChannelLimits = {
  sendHighWater: 1024 * 1024,
  sendLowWater: 256 * 1024,
  flowHighWater: 1024 * 1024,
  maxPendingBytes: 16 * 1024 * 1024,
  maxFramePayload: 16 * 1024 * 1024,
  keepaliveIntervalMs: 5_000,
  keepaliveTimeoutMs: 30_000,
  maxConnections: 4096,
};

/** What a mode's opener may do for the connection it opens. */
export interface OpenContext {
  readonly channelId: string;
  /** Largest payload one data frame may carry toward the peer. */
  readonly maxPayload: number;
  readonly logger: Logger;
  /** Send a payload to the peer as one data frame of this connection (split only above max-message-size). */
  send(payload: Uint8Array): void;
  /** Close this connection with a reason (CloseConnection to the peer, socket torn down). */
  close(reason: number, message?: string): void;
  /** Record a channel-level close reason (critical reasons are kept over later non-critical ones). */
  recordChannelReason(reason: number): void;
  /** End the whole channel (e.g. the primary guacd connection ended). */
  endChannel(reason?: number): void;
  /** Emit a tube signal (e.g. `guacd_instruction`). */
  signal(kind: 'guacd_instruction', data: string): void;
  /** Aborted when the connection is closed (by the peer, or the channel ending) before the open completed. */
  readonly abandoned: AbortSignal;
}

export interface Opened {
  /** A net.Socket, or a Duplex behaving like one (e.g. a UDP relay). */
  socket: ConnectionStream;
  /** Parses/reshapes the socket's bytes before they go to the peer. */
  inbound?: InboundFilter;
}

/**
 * Client (gateway) side: turn an OpenConnection into a socket. Reject with an Error (optionally carrying
 * `closeReason`) to refuse; its message goes to the peer in CloseConnection.
 */
export type Opener = (conn: Connection, tail: Uint8Array, ctx: OpenContext) => Promise<Socket | Opened>;

export interface OpenFailure extends Error {
  closeReason?: number;
}

export interface ChannelOptions {
  port: DataChannelPort;
  role: 'server' | 'client';
  logger: Logger;
  verbose: boolean;
  limits?: Partial<ChannelLimits>;
  opener?: Opener;
  /** Answer capability probes and use our protocol extensions (default true). */
  extensions?: boolean;
  /** The channel ended (once). */
  onEnd(outcome: string, reason: number | undefined): void;
  /** No traffic from the peer for keepaliveTimeoutMs. */
  onPeerTimeout(): void;
  onOpen(): void;
  /** The data channel itself closed (the peer closed it, or the transport died). */
  onTransportClose(): void;
  /** Tube signals raised by modes. */
  signal?(kind: 'guacd_instruction', data: string): void;
}

export interface LocalConnectionCallbacks {
  /** The gateway answered ConnectionOpened. */
  opened?(): void;
  /** The gateway refused or closed the connection before it opened. */
  failed?(reason: number, message: string | undefined): void;
}

export interface ChannelStats {
  channelId: string;
  activeConnections: number;
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  framesDiscarded: number;
  rttMs: number | undefined;
  peerCapabilities: number | undefined;
}

const MAX_MESSAGE_CAP = 64 * 1024;

export class Channel implements ConnectionHost {
  readonly id: string;
  readonly role: 'server' | 'client';
  readonly logger: Logger;
  readonly verbose: boolean;
  readonly flowHighWater: number;
  readonly maxPendingBytes: number;
  readonly #port: DataChannelPort;
  readonly #limits: ChannelLimits;
  readonly #decoder: FrameDecoder;
  readonly #opts: ChannelOptions;
  readonly #connections = new Map<number, Connection>();
  readonly #callbacks = new Map<number, LocalConnectionCallbacks>();
  readonly #startedAt = Date.now();
  #nextConnNo = 1;
  #preOpen: Buffer[] | undefined = [];
  #congested = false;
  #ended = false;
  #closeReason: number | undefined;
  #peerCaps: number | undefined;
  #keepalive: NodeJS.Timeout | undefined;
  #rxSinceTick = 0;
  #silentMs = 0;
  #rttMs: number | undefined;
  #stats = { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0, framesDiscarded: 0 };
  readonly #onFrame = (connNo: number, payload: Uint8Array): void => this.#frame(connNo, payload);

  constructor(opts: ChannelOptions) {
    this.#opts = opts;
    this.#port = opts.port;
    this.id = opts.port.label;
    this.role = opts.role;
    this.logger = opts.logger;
    this.verbose = opts.verbose;
    this.#limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.flowHighWater = this.#limits.flowHighWater;
    this.maxPendingBytes = this.#limits.maxPendingBytes;
    this.#decoder = new FrameDecoder({ maxPayload: this.#limits.maxFramePayload });
    this.#port.bufferedAmountLowThreshold = this.#limits.sendLowWater;
    this.#port.setHandlers({
      message: (data) => this.#message(data),
      drain: () => this.#drain(),
      open: () => this.#opened(),
      close: () => {
        this.#end('normal_exit', this.#closeReason);
        this.#opts.onTransportClose();
      },
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  get closeReason(): number | undefined {
    return this.#closeReason;
  }

  stats(): ChannelStats {
    return {
      channelId: this.id,
      activeConnections: this.#connections.size,
      ...this.#stats,
      rttMs: this.#rttMs,
      peerCapabilities: this.#peerCaps,
    };
  }

  peerSupportsFlowControl(): boolean {
    return ((this.#peerCaps ?? 0) & Capability.FlowControl) !== 0;
  }

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
    if (this.#ended || !this.#port.send(frame)) return;
    this.#stats.messagesSent++;
    this.#stats.bytesSent += frame.length;
  }

  #sendFrame(connNo: number, payload: Uint8Array): void {
    this.#transmit(encodeFrame(connNo, payload));
  }

  #control(payload: Uint8Array): void {
    this.#sendFrame(0, payload);
  }

  maxDataPayload(): number {
    const mms = this.#port.maxMessageSize;
    return (mms > 0 && mms < MAX_MESSAGE_CAP ? mms : MAX_MESSAGE_CAP) - FRAME_OVERHEAD;
  }

  /** ConnectionHost: bytes read from a socket go out as data frames no larger than the peer accepts. */
  forward(connNo: number, chunk: Buffer): void {
    const max = this.maxDataPayload();
    for (let at = 0; at < chunk.length; at += max) {
      this.#sendFrame(connNo, at === 0 && chunk.length <= max ? chunk : chunk.subarray(at, at + max));
    }
    this.#checkCongestion();
  }

  /** ConnectionHost: a frame built in place by a direct read. */
  sendFrame(frame: Buffer): void {
    this.#transmit(frame);
    this.#checkCongestion();
  }

  #checkCongestion(): void {
    if (!this.#congested && this.#port.bufferedAmount > this.#limits.sendHighWater) {
      this.#congested = true;
      for (const c of this.#connections.values()) c.setPaused(PauseReason.Congested, true);
    }
  }

  #drain(): void {
    if (!this.#congested) return;
    this.#congested = false;
    for (const c of this.#connections.values()) c.setPaused(PauseReason.Congested, false);
  }

  flowPause(connNo: number): void {
    this.#control(encodeFlowPause(connNo));
  }

  flowResume(connNo: number): void {
    this.#control(encodeFlowResume(connNo));
  }

  // ---- connections -----------------------------------------------------------------------------------

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
    const conn = new Connection(connNo, this);
    this.#connections.set(connNo, conn);
    if (callbacks) this.#callbacks.set(connNo, callbacks);
    this.#control(encodeOpenConnection(connNo, tail));
    this.#publishOpen(connNo);
    if (initial && initial.length > 0) this.forward(connNo, initial as Buffer);
    conn.attach(
      socket,
      (this.#preOpen ? PauseReason.NotReady : 0) | (this.#congested ? PauseReason.Congested : 0),
    );
    return conn;
  }

  localEof(conn: Connection): void {
    if (this.role === 'server') {
      this.#control(encodeSendEof(conn.connNo));
      return;
    }
    // The target closed: its own CloseConnection, always (the original suppressed it after the first one).
    this.requestClose(conn, CloseConnectionReason.ConnectionLost, 'Backend connection closed unexpectedly');
  }

  requestClose(conn: Connection, reason: number, message?: string): void {
    if (!conn.closeExchanged) {
      conn.beforeClose(reason, true); // the mode's last words go before CloseConnection (guacd)
      conn.closeExchanged = true;
      this.#control(encodeCloseConnection(conn.connNo, reason, message));
      this.#publishClose(conn.connNo, reason, message, 'local');
    }
    conn.shutdown(reason === CloseConnectionReason.Error);
  }

  released(conn: Connection): void {
    if (this.#connections.get(conn.connNo) === conn) this.#connections.delete(conn.connNo);
    if (!conn.closeExchanged && !this.#ended) {
      const reason =
        this.role === 'client' ? CloseConnectionReason.ConnectionLost : CloseConnectionReason.Normal;
      this.#control(
        encodeCloseConnection(
          conn.connNo,
          reason,
          this.role === 'client' ? 'Backend connection closed unexpectedly' : undefined,
        ),
      );
    }
    const cb = this.#callbacks.get(conn.connNo);
    this.#callbacks.delete(conn.connNo);
    cb?.failed?.(CloseConnectionReason.Normal, undefined);
  }

  /** Closes one connection by number, sending CloseConnection with the reason. */
  closeConnection(connNo: number, reason: number, message?: string): void {
    const conn = this.#connections.get(connNo);
    if (conn) this.requestClose(conn, reason, message);
  }

  // ---- receiving -------------------------------------------------------------------------------------

  #message(data: Uint8Array): void {
    if (this.#ended) return;
    this.#rxSinceTick++;
    this.#stats.messagesReceived++;
    this.#stats.bytesReceived += data.length;
    const err = this.#decoder.push(data, this.#onFrame);
    if (err) {
      this.#stats.framesDiscarded++;
      this.logger.warn({ code: err.code, err: err.message }, 'discarding corrupt frame stream');
      if (frameDiscardChannel.hasSubscribers) {
        const msg: FrameDiscardMessage = { channelId: this.id, code: err.code, message: err.message };
        frameDiscardChannel.publish(msg);
      }
    }
  }

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
      case 'ping': {
        if (msg.short) {
          this.#control(encodePong(0));
          return;
        }
        if (msg.connNo !== 0 && !this.#connections.has(msg.connNo)) {
          this.logger.error({ conn: msg.connNo }, 'Ping for unknown connection');
          return;
        }
        // Our extensions answer the probe; anything else is echoed (the original's rule).
        this.#control(
          msg.connNo === 0 && this.#opts.extensions !== false && isCapabilityProbe(msg.body)
            ? encodePong(0, capabilityAnswerBody())
            : encodePong(msg.connNo, msg.body),
        );
        return;
      }
      case 'pong': {
        const caps = readCapabilityPong(msg.body);
        if (caps !== undefined) {
          this.#peerCaps = caps;
          if (this.verbose) this.logger.debug({ caps }, 'peer capabilities');
          return;
        }
        const sent = readKeepalive(msg.body);
        if (sent !== undefined) this.#rttMs = Math.max(0, Date.now() - sent);
        return;
      }
      case 'open':
        this.#remoteOpen(msg.connNo, msg.tail);
        return;
      case 'opened': {
        const conn = this.#connections.get(msg.connNo);
        if (conn && conn.state === 'opening') conn.state = 'open';
        const cb = this.#callbacks.get(msg.connNo);
        this.#callbacks.delete(msg.connNo);
        cb?.opened?.();
        return;
      }
      case 'close':
        this.#remoteClose(msg.connNo, msg.reason, msg.message);
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
        const conn = this.#connections.get(msg.connNo);
        conn?.setPaused(PauseReason.PeerFlow, msg.type === 'flow-pause');
        return;
      }
      case 'unknown':
        this.logger.error({ code: msg.code }, 'unknown control message ignored');
        return;
    }
  }

  #metricsReply(type: number): string {
    switch (type) {
      case 0:
        return JSON.stringify({ ...this.stats(), channel_id: this.id });
      case 1:
        return 'null'; // live stats of one connection: the original always answers null here too
      case 2:
        return JSON.stringify({
          uptime_seconds: Math.floor((Date.now() - this.#startedAt) / 1000),
          active_connection_count: this.#connections.size,
          channel_id: this.id,
        });
      default:
        return 'error: unknown request type';
    }
  }

  #remoteOpen(connNo: number, tail: Uint8Array): void {
    if (this.role === 'server' || !this.#opts.opener) {
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
    const conn = new Connection(connNo, this);
    this.#connections.set(connNo, conn);
    const ctx: OpenContext = {
      channelId: this.id,
      maxPayload: this.maxDataPayload(),
      logger: this.logger,
      send: (payload) => this.forward(connNo, payload as Buffer),
      close: (reason, message) => this.requestClose(conn, reason, message),
      recordChannelReason: (reason) => this.#recordReason(reason),
      endChannel: (reason) => {
        if (reason !== undefined) this.#recordReason(reason);
        this.#end('normal_exit', this.#closeReason, true);
      },
      signal: (kind, data) => this.#opts.signal?.(kind, data),
      abandoned: conn.openAbort.signal,
    };
    this.#opts.opener(conn, tail, ctx).then(
      (opened) => {
        const { socket, inbound } =
          opened instanceof Socket ? { socket: opened, inbound: undefined } : opened;
        if (conn.state === 'closing' || conn.state === 'closed' || this.#ended) {
          socket.destroy();
          return;
        }
        conn.attach(socket, this.#congested ? PauseReason.Congested : 0, inbound);
        const ready = (): void => {
          if (conn.state !== 'opening') return;
          conn.state = 'open';
          this.#control(encodeConnectionOpened(connNo));
          this.#publishOpen(connNo);
        };
        if (socket instanceof Socket && socket.connecting) {
          socket.once('connect', ready);
          socket.once('error', (err) => {
            if (conn.state === 'opening')
              this.requestClose(conn, CloseConnectionReason.ConnectionFailed, err.message);
          });
        } else ready();
      },
      (err: OpenFailure) => {
        if (conn.state === 'closed') return;
        this.requestClose(conn, err.closeReason ?? CloseConnectionReason.ConnectionFailed, err.message);
      },
    );
  }

  #remoteClose(connNo: number, reason: number, message: string | undefined): void {
    if (connNo === 0) {
      this.#recordReason(reason);
      this.#end('normal_exit', this.#closeReason, false);
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
    conn.beforeClose(reason, false);
    conn.shutdown();
  }

  #recordReason(reason: number): void {
    const stored = this.#closeReason;
    if (stored !== undefined && closeReasonInfo(stored).isCritical && !closeReasonInfo(reason).isCritical)
      return;
    this.#closeReason = reason;
  }

  // ---- lifecycle -------------------------------------------------------------------------------------

  #opened(): void {
    const queued = this.#preOpen;
    if (!queued) return;
    this.#preOpen = undefined;
    // Probe the peer's extensions first: an original peer echoes it, ours answers with its capabilities.
    if (this.#opts.extensions !== false) this.#control(encodePing(0, capabilityProbeBody()));
    for (const frame of queued) this.#transmit(frame);
    for (const c of this.#connections.values()) c.setPaused(PauseReason.NotReady, false);
    this.#startKeepalive();
    this.#opts.onOpen();
  }

  #startKeepalive(): void {
    const { keepaliveIntervalMs, keepaliveTimeoutMs } = this.#limits;
    if (keepaliveIntervalMs <= 0) return;
    this.#keepalive = setInterval(() => {
      if (this.#rxSinceTick > 0) {
        this.#rxSinceTick = 0;
        this.#silentMs = 0;
      } else this.#silentMs += keepaliveIntervalMs;
      if (this.#silentMs >= keepaliveTimeoutMs) {
        this.logger.warn({ silentMs: this.#silentMs }, 'peer silent: keepalive timeout');
        this.#opts.onPeerTimeout();
        return;
      }
      this.#control(encodePing(0, keepaliveBody(Date.now())));
    }, keepaliveIntervalMs);
    this.#keepalive.unref();
  }

  /**
   * Ends the channel on our decision: every connection closed with Normal, then CloseConnection(0, reason)
   * so the peer learns the reason. The data channel itself stays open (the tube decides about it).
   */
  close(reason: number): void {
    if (this.#ended) return;
    this.#recordReason(reason);
    this.#end('normal_exit', this.#closeReason, true);
  }

  /** Waits (≤ timeoutMs) until what was sent is delivered (acknowledged by the peer's SCTP). */
  async flush(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.#port.readyState === 'open' && !this.#port.drained && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  #end(outcome: string, reason: number | undefined, sendClose = false): void {
    if (this.#ended) return;
    for (const conn of [...this.#connections.values()]) {
      if (sendClose) this.requestClose(conn, CloseConnectionReason.Normal);
      else {
        conn.closeExchanged = true;
        conn.beforeClose(CloseConnectionReason.Normal, false);
        conn.shutdown();
      }
    }
    if (sendClose) this.#control(encodeCloseConnection(0, reason ?? CloseConnectionReason.Normal));
    this.#ended = true;
    if (this.#keepalive) clearInterval(this.#keepalive);
    for (const [connNo, cb] of this.#callbacks) {
      this.#callbacks.delete(connNo);
      cb.failed?.(reason ?? CloseConnectionReason.Normal, undefined);
    }
    const critical = reason !== undefined && closeReasonInfo(reason).isCritical;
    this.#opts.onEnd(critical ? `critical_upstream_closed: ${this.id}` : outcome, reason);
  }
}
