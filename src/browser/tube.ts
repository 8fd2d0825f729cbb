/**
 * The browser end of a tube, in the offerer role (the Node side calls it "server mode"): the page creates
 * the RTCPeerConnection and the data channel labelled with the conversation id, and opens connections
 * itself; the gateway answers and dials (guacd, a TCP target, …). Frames and control messages are the ones
 * of docs/PROTOCOL.md, built by the same modules as on Node (src/protocol, src/hotpath).
 */
import type { EngineChoice } from '../hotpath/index.ts';
import { encodeFrame, FRAME_OVERHEAD, FrameDecoder } from '../hotpath/index.ts';
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
import {
  pageRtcPeerConnection,
  type RtcConfiguration,
  type RtcDataChannel,
  type RtcPeerConnection,
} from './dom.ts';

/** Why a tube or a connection ended. */
export interface CloseInfo {
  /** CloseConnection reason code (docs/PROTOCOL.md). */
  readonly reason: number;
  /** Its name, e.g. `GuacdError`. */
  readonly name: string;
  /** The text the peer sent with it, if any. */
  readonly message: string | undefined;
  /** `local`: this page closed it; `remote`: the peer sent CloseConnection; `transport`: WebRTC went away. */
  readonly initiator: 'local' | 'remote' | 'transport';
  readonly isCritical: boolean;
  readonly isRetryable: boolean;
}

export type TubeState = 'new' | 'connecting' | 'open' | 'closed';
export type ConnectionState = 'opening' | 'open' | 'closed';

export interface BrowserTubeOptions {
  /** The data channel label; the gateway uses it as the conversation id. */
  conversationId: string;
  /** Passed to `new RTCPeerConnection()` (ICE servers …). */
  rtcConfiguration?: RtcConfiguration;
  /** Use this peer connection instead of creating one (it must be new: no data channel, no offer yet). */
  peerConnection?: RtcPeerConnection;
  /** Probe and use the protocol extensions (flow control); default true. */
  protocolExtensions?: boolean;
  /** Keepalive Ping period (default 5,000 ms; 0 = none) and silence that closes the tube (default 30,000 ms). */
  keepaliveIntervalMs?: number;
  keepaliveTimeoutMs?: number;
  /** Engine that walks incoming frames (default auto). */
  engine?: EngineChoice;
  /** `send()` returns false above this many buffered bytes (default 1 MiB); `ondrain` fires below 256 KiB. */
  sendHighWater?: number;
}

const MAX_MESSAGE_CAP = 64 * 1024;
const LOW_WATER = 256 * 1024;
/** The capabilities this end has: per-connection flow control (no SOCKS5 UDP relay in a page). */
const BROWSER_CAPABILITIES = Capability.FlowControl;

function closeInfo(
  reason: number,
  message: string | undefined,
  initiator: CloseInfo['initiator'],
): CloseInfo {
  const info = closeReasonInfo(reason);
  return {
    reason: info.code,
    name: info.name,
    message,
    initiator,
    isCritical: info.isCritical,
    isRetryable: info.isRetryable,
  };
}

/** An error carrying the CloseInfo of a connection that closed before it opened. */
export class TubeClosedError extends Error {
  readonly close: CloseInfo;
  constructor(what: string, close: CloseInfo) {
    super(`${what} closed: ${close.name} (${close.reason})${close.message ? `: ${close.message}` : ''}`);
    this.name = 'TubeClosedError';
    this.close = close;
  }
}

/** One conn_no on the tube's data channel. */
export class TubeConnection {
  readonly connNo: number;
  state: ConnectionState = 'opening';
  closeInfo: CloseInfo | undefined;
  /** True while the peer asked us (FlowPause) to stop sending on this connection. */
  peerPaused = false;
  /** Bytes from the peer (a view: copy what must outlive the call). */
  ondata: ((bytes: Uint8Array) => void) | null = null;
  onopen: (() => void) | null = null;
  /** The peer sent SendEOF: it will send nothing more on this connection. */
  oneof: (() => void) | null = null;
  onclose: ((info: CloseInfo) => void) | null = null;
  /** The peer paused (true) or resumed (false) this connection. */
  onflowchange: ((paused: boolean) => void) | null = null;
  /** Settles when the peer sent ConnectionOpened, or rejects with a TubeClosedError. */
  readonly opened: Promise<void>;
  readonly #tube: BrowserTube;
  #settle: { resolve: () => void; reject: (e: Error) => void };
  #paused = false;

  constructor(tube: BrowserTube, connNo: number) {
    this.#tube = tube;
    this.connNo = connNo;
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    this.opened = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.opened.catch(() => {}); // observed through onclose as well
    this.#settle = settle;
  }

  /**
   * Sends bytes as data frames no larger than the peer accepts. Returns false when the data channel holds
   * more than the high-water mark (send later, on the tube's `ondrain`); the bytes are queued anyway.
   */
  send(bytes: Uint8Array): boolean {
    if (this.state === 'closed') return false;
    return this.#tube.sendData(this.connNo, bytes);
  }

  /** Tells the peer this side sends nothing more (SendEOF); the connection stays open for reading. */
  sendEof(): void {
    if (this.state !== 'closed') this.#tube.sendControl(encodeSendEof(this.connNo));
  }

  /** Asks the peer to stop (true) or resume (false) sending on this connection (flow-control extension). */
  setReceivePaused(paused: boolean): boolean {
    if (this.state === 'closed' || paused === this.#paused || !this.#tube.peerHas(Capability.FlowControl))
      return false;
    this.#paused = paused;
    this.#tube.sendControl(paused ? encodeFlowPause(this.connNo) : encodeFlowResume(this.connNo));
    return true;
  }

  /** Closes the connection with a reason (default Normal); the peer gets CloseConnection. */
  close(reason: number = CloseConnectionReason.Normal, message?: string): void {
    if (this.state === 'closed') return;
    this.#tube.sendControl(encodeCloseConnection(this.connNo, reason, message));
    this.ended(closeInfo(reason, message, 'local'));
  }

  /** @internal */
  opening(): void {
    if (this.state !== 'opening') return;
    this.state = 'open';
    this.#settle.resolve();
    this.onopen?.();
  }

  /** @internal */
  flow(paused: boolean): void {
    if (this.peerPaused === paused) return;
    this.peerPaused = paused;
    this.onflowchange?.(paused);
  }

  /** @internal */
  ended(info: CloseInfo): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeInfo = info;
    this.#tube.forget(this.connNo);
    this.#settle.reject(new TubeClosedError(`connection ${this.connNo}`, info));
    this.onclose?.(info);
  }
}

/**
 * A tube from the page: `createOffer()` → give the SDP to the gateway → `acceptAnswer()`; trickle candidates
 * both ways (`onicecandidate`, `addRemoteCandidate`) or wait for the gathered offer. Then `openConnection()`.
 */
export class BrowserTube {
  readonly conversationId: string;
  readonly pc: RtcPeerConnection;
  readonly channel: RtcDataChannel;
  state: TubeState = 'new';
  /** Round-trip time of the last keepalive Ping, in ms. */
  rttMs: number | undefined;
  /** The peer's capability bits once it answered the probe (0 for a peer without extensions). */
  peerCapabilities: number | undefined;
  closeInfo: CloseInfo | undefined;
  /** Settles when the data channel is open; rejects with a TubeClosedError if the tube ends first. */
  readonly opened: Promise<void>;
  onstatechange: ((state: TubeState) => void) | null = null;
  onclose: ((info: CloseInfo) => void) | null = null;
  /** A local ICE candidate string (`candidate:…`), `''` at the end of gathering. */
  onicecandidate: ((candidate: string) => void) | null = null;
  /** The data channel's buffer fell below the low-water mark after `send()` returned false. */
  ondrain: (() => void) | null = null;
  /** Frames that could not be decoded (the stream is discarded, as on Node). */
  onframeerror: ((error: Error) => void) | null = null;
  /** Counters since the tube was created. */
  readonly stats = { bytesSent: 0, bytesReceived: 0, messagesSent: 0, messagesReceived: 0 };

  readonly #connections = new Map<number, TubeConnection>();
  readonly #decoder: FrameDecoder;
  readonly #extensions: boolean;
  readonly #keepaliveMs: number;
  readonly #timeoutMs: number;
  readonly #highWater: number;
  #preOpen: Uint8Array[] | undefined = [];
  #nextConn = 1;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  #rxSinceTick = 0;
  #silentMs = 0;
  #congested = false;
  /** Set by close(): the peer may end the transport before we finish; the tube still closed on our word. */
  #closing: CloseInfo | undefined;
  #settle: { resolve: () => void; reject: (e: Error) => void };
  readonly #startedAt = Date.now();

  constructor(options: BrowserTubeOptions) {
    this.conversationId = options.conversationId;
    this.#extensions = options.protocolExtensions !== false;
    this.#keepaliveMs = options.keepaliveIntervalMs ?? 5_000;
    this.#timeoutMs = options.keepaliveTimeoutMs ?? 30_000;
    this.#highWater = options.sendHighWater ?? 1024 * 1024;
    this.#decoder = new FrameDecoder(options.engine !== undefined ? { engine: options.engine } : {});
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    this.opened = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.opened.catch(() => {});
    this.#settle = settle;
    const Pc = options.peerConnection === undefined ? pageRtcPeerConnection() : undefined;
    this.pc = options.peerConnection ?? new (Pc as NonNullable<typeof Pc>)(options.rtcConfiguration ?? {});
    this.channel = this.pc.createDataChannel(this.conversationId, { ordered: true });
    this.channel.binaryType = 'arraybuffer';
    this.channel.bufferedAmountLowThreshold = LOW_WATER;
    this.channel.onopen = () => this.#opened();
    this.channel.onclose = () => this.#lost('data channel closed');
    this.channel.onmessage = (ev) => this.#message(ev.data);
    this.channel.onbufferedamountlow = () => {
      if (!this.#congested) return;
      this.#congested = false;
      this.ondrain?.();
    };
    this.pc.onicecandidate = (ev) => this.onicecandidate?.(ev.candidate?.candidate ?? '');
    this.pc.onconnectionstatechange = () => {
      if (this.pc.connectionState === 'failed') this.#lost('peer connection failed');
    };
  }

  /** Creates the offer and sets it as the local description; returns its SDP (candidates trickle later). */
  async createOffer(): Promise<string> {
    this.#setState('connecting');
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    return this.pc.localDescription?.sdp ?? offer.sdp;
  }

  /** Like createOffer, but waits (≤ timeoutMs) until gathering completes: the SDP holds every candidate. */
  async createGatheredOffer(timeoutMs = 5_000): Promise<string> {
    await this.createOffer();
    if (this.pc.iceGatheringState !== 'complete') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        const prev = this.pc.onicegatheringstatechange;
        this.pc.onicegatheringstatechange = (ev) => {
          prev?.(ev);
          if (this.pc.iceGatheringState === 'complete') {
            clearTimeout(timer);
            resolve();
          }
        };
      });
    }
    return this.pc.localDescription?.sdp ?? '';
  }

  /** Applies the gateway's answer SDP. */
  async acceptAnswer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  /** A remote candidate (`candidate:…` or `a=candidate:…`); `''` marks the end of the peer's candidates. */
  async addRemoteCandidate(candidate: string): Promise<void> {
    const c = candidate.startsWith('a=') ? candidate.slice(2) : candidate;
    if (c === '') {
      await this.pc.addIceCandidate(null).catch(() => {});
      return;
    }
    await this.pc.addIceCandidate({ candidate: c, sdpMid: '0', sdpMLineIndex: 0 });
  }

  /** Opens a connection (OpenConnection with an optional tail); bytes may be sent at once. */
  openConnection(tail?: Uint8Array): TubeConnection {
    if (this.state === 'closed') throw new TubeClosedError('tube', this.closeInfo as CloseInfo);
    let connNo = this.#nextConn;
    while (this.#connections.has(connNo)) connNo = connNo >= 0xffff_ffff ? 1 : connNo + 1;
    this.#nextConn = connNo >= 0xffff_ffff ? 1 : connNo + 1;
    const conn = new TubeConnection(this, connNo);
    this.#connections.set(connNo, conn);
    this.sendControl(encodeOpenConnection(connNo, tail));
    return conn;
  }

  /** The open connections. */
  get connections(): TubeConnection[] {
    return [...this.#connections.values()];
  }

  /** Bytes queued in the data channel. */
  get bufferedAmount(): number {
    return this.channel.bufferedAmount;
  }

  /** Largest data payload per frame: the peer's max-message-size (≤ 64 KiB) less the frame overhead. */
  get maxDataPayload(): number {
    const mms = this.pc.sctp?.maxMessageSize ?? 0;
    return (mms > 0 && mms < MAX_MESSAGE_CAP ? mms : MAX_MESSAGE_CAP) - FRAME_OVERHEAD;
  }

  /** True when the peer answered the probe with this capability. */
  peerHas(capability: number): boolean {
    return this.#extensions && ((this.peerCapabilities ?? 0) & capability) !== 0;
  }

  /**
   * Closes the tube: every connection with CloseConnection(conn, Normal), then CloseConnection(0, reason) so
   * the peer learns the reason, then (once sent, ≤ 800 ms) the data channel and the peer connection.
   */
  async close(reason: number = CloseConnectionReason.Normal, message?: string): Promise<void> {
    if (this.state === 'closed' || this.#closing !== undefined) return;
    const info = closeInfo(reason, message, 'local');
    this.#closing = info;
    const open = this.channel.readyState === 'open';
    for (const conn of [...this.#connections.values()]) conn.close(CloseConnectionReason.Normal);
    if (open) {
      this.sendControl(encodeCloseConnection(0, reason, message));
      const until = Date.now() + 800;
      while (this.channel.readyState === 'open' && this.channel.bufferedAmount > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    this.#finish(info);
  }

  /** @internal Sends one data payload as frames of at most maxDataPayload bytes. */
  sendData(connNo: number, bytes: Uint8Array): boolean {
    const max = this.maxDataPayload;
    if (bytes.length <= max) this.#transmit(encodeFrame(connNo, bytes));
    else {
      for (let at = 0; at < bytes.length; at += max) {
        this.#transmit(encodeFrame(connNo, bytes.subarray(at, at + max)));
      }
    }
    if (this.channel.bufferedAmount > this.#highWater) this.#congested = true;
    return !this.#congested;
  }

  /** @internal */
  sendControl(payload: Uint8Array): void {
    this.#transmit(encodeFrame(0, payload));
  }

  /** @internal */
  forget(connNo: number): void {
    this.#connections.delete(connNo);
  }

  #transmit(frame: Uint8Array): void {
    if (this.#preOpen !== undefined) {
      this.#preOpen.push(frame);
      return;
    }
    if (this.state === 'closed' || this.channel.readyState !== 'open') return;
    this.channel.send(frame);
    this.stats.messagesSent++;
    this.stats.bytesSent += frame.length;
  }

  #setState(state: TubeState): void {
    if (this.state === state || this.state === 'closed') return;
    this.state = state;
    this.onstatechange?.(state);
  }

  #opened(): void {
    const queued = this.#preOpen ?? [];
    this.#preOpen = undefined;
    // Probe the peer's extensions first, as the Node side does; then what was queued, in order.
    if (this.#extensions) this.sendControl(encodePing(0, capabilityProbeBody()));
    for (const frame of queued) this.#transmit(frame);
    if (this.#keepaliveMs > 0) this.#keepalive = setInterval(() => this.#tick(), this.#keepaliveMs);
    this.#setState('open');
    this.#settle.resolve();
  }

  #tick(): void {
    if (this.#rxSinceTick > 0) {
      this.#rxSinceTick = 0;
      this.#silentMs = 0;
    } else this.#silentMs += this.#keepaliveMs;
    if (this.#silentMs >= this.#timeoutMs) {
      void this.close(CloseConnectionReason.Timeout, `No traffic from the peer for ${this.#silentMs} ms`);
      return;
    }
    this.sendControl(encodePing(0, keepaliveBody(Date.now())));
  }

  #message(data: unknown): void {
    if (!(data instanceof ArrayBuffer)) return; // the protocol is binary; text messages are not frames
    const chunk = new Uint8Array(data);
    this.#rxSinceTick++;
    this.stats.messagesReceived++;
    this.stats.bytesReceived += chunk.length;
    const err = this.#decoder.push(chunk, (connNo, payload) => this.#frame(connNo, payload));
    if (err !== undefined) this.onframeerror?.(err);
  }

  #frame(connNo: number, payload: Uint8Array): void {
    if (connNo !== 0) {
      this.#connections.get(connNo)?.ondata?.(payload);
      return;
    }
    const msg = parseControl(payload);
    if (msg instanceof Error) {
      this.onframeerror?.(msg);
      return;
    }
    this.#control(msg);
  }

  #control(msg: ControlMessage): void {
    switch (msg.type) {
      case 'ping':
        if (msg.short) this.sendControl(encodePong(0));
        else if (msg.connNo === 0 || this.#connections.has(msg.connNo)) {
          this.sendControl(
            encodePong(msg.connNo, pongBodyFor(msg.connNo, msg.body, this.#extensions, BROWSER_CAPABILITIES)),
          );
        }
        return;
      case 'pong': {
        const caps = readCapabilityPong(msg.body);
        if (caps !== undefined) this.peerCapabilities = caps;
        else {
          const sent = readKeepalive(msg.body);
          if (sent !== undefined) this.rttMs = Math.max(0, Date.now() - sent);
        }
        return;
      }
      case 'opened':
        this.#connections.get(msg.connNo)?.opening();
        return;
      case 'close':
        if (msg.connNo === 0) this.#finish(this.#closing ?? closeInfo(msg.reason, msg.message, 'remote'));
        else this.#connections.get(msg.connNo)?.ended(closeInfo(msg.reason, msg.message, 'remote'));
        return;
      case 'eof':
        this.#connections.get(msg.connNo)?.oneof?.();
        return;
      case 'open':
        // The offerer side of the original answers and does nothing else (the Node side does the same).
        this.sendControl(encodeConnectionOpened(msg.connNo));
        return;
      case 'flow-pause':
      case 'flow-resume':
        this.#connections.get(msg.connNo)?.flow(msg.type === 'flow-pause');
        return;
      case 'metrics-request':
        this.sendControl(encodeMetricsResponse(this.#metrics(msg.requestType)));
        return;
      default:
        return;
    }
  }

  #metrics(type: number): string {
    if (type === 0) return JSON.stringify({ ...this.stats, channel_id: this.conversationId });
    if (type === 1) return 'null';
    if (type === 2) {
      return JSON.stringify({
        uptime_seconds: Math.floor((Date.now() - this.#startedAt) / 1000),
        active_connection_count: this.#connections.size,
        channel_id: this.conversationId,
      });
    }
    return 'error: unknown request type';
  }

  #lost(why: string): void {
    if (this.state === 'closed') return;
    this.#finish(this.#closing ?? closeInfo(CloseConnectionReason.ConnectionLost, why, 'transport'));
  }

  #finish(info: CloseInfo): void {
    if (this.state === 'closed') return;
    this.closeInfo = info;
    this.state = 'closed';
    if (this.#keepalive !== undefined) clearInterval(this.#keepalive);
    for (const conn of [...this.#connections.values()]) conn.ended(info);
    this.#settle.reject(new TubeClosedError('tube', info));
    try {
      this.channel.close();
      this.pc.close();
    } catch {
      // already closed
    }
    this.onstatechange?.('closed');
    this.onclose?.(info);
  }
}
