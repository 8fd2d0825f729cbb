/**
 * A tube: one WebRTC peer connection, its data channels and their channels. Server mode (no offer) creates
 * the data channel and, with `local_listen_addr`, the local listener; client mode answers and dials.
 */
import { randomUUID } from 'node:crypto';
import { Channel, type ChannelLimits, type Channel as ChannelT } from '../channel/channel.ts';
import { type Listener, listen } from '../channel/listener.ts';
import { type ChannelMode, modeFor } from '../channel/modes.ts';
import type { DataChannelPort } from '../channel/port.ts';
import type { TubeStream } from '../channel/tube-stream.ts';
import type { ParsedSettings } from '../config/settings.ts';
import { ErrorCode, TubesError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { isVerbose } from '../log.ts';
import { aggregatedMetrics } from '../metrics/aggregated.ts';
import type { ChannelObserver, TubeObserver } from '../metrics/counters.ts';
import { CloseConnectionReason, closeReasonJson } from '../protocol/close-reason.ts';
import type { IceServerPlan } from '../webrtc/ice-servers.ts';
import {
  Peer,
  type PeerConnectionState,
  type PeerOptions,
  type SelectedPair,
  type TurnOutcome,
} from '../webrtc/peer.ts';
import { encodeSdpBase64 } from '../webrtc/sdp.ts';
import { type IceRestartOptions, RestartMachine, restartMachineOptions } from './ice-restart.ts';
import { watchNetwork } from './network-watch.ts';
import type { SignalCallback, SignalKind } from './signals.ts';

export type TubeStatus =
  | 'initializing'
  | 'connecting'
  | 'active'
  | 'ready'
  | 'closed'
  | 'failed'
  | 'disconnected';

export interface TubeInit {
  id?: string | undefined;
  conversationId: string;
  settings: ParsedSettings;
  trickleIce: boolean;
  peer: PeerOptions;
  /** Fresh ICE servers (TURN credentials) for each ICE restart's gathering; absent = they never change. */
  refreshIceServers?: (() => Promise<IceServerPlan>) | undefined;
  logger: Logger;
  limits?: Partial<ChannelLimits> | undefined;
  protocolExtensions?: boolean | undefined;
  /** FRAGMENTATION capability of every channel of this tube (`enableMultiChannel`). */
  fragmentation?: boolean | undefined;
  onSignal?: SignalCallback | undefined;
  gatherTimeoutMs: number;
  /** Closed with Timeout (and a `tube_closed` signal) when not connected by then; 0 = never. */
  creationTimeoutMs?: number | undefined;
  /** Loss detection and automatic ICE restart (trickle ICE only; src/registry/ice-restart.ts). */
  iceRestart?: IceRestartOptions | undefined;
  onClosed(tube: Tube): void;
  /** Handler mode (answering side): each connection the peer opens is given to this instead of dialed. */
  onConnection?: ((stream: TubeStream, info: ConnectionInfo) => void) | undefined;
  /** The registry's metrics (connection and tube events). */
  observer?: (ChannelObserver & TubeObserver) | undefined;
}

/** What a handler learns about a connection the peer opened. */
export interface ConnectionInfo {
  tubeId: string;
  /** The data channel's label: the conversation id the offering side created it for. */
  conversationId: string;
  connNo: number;
}

interface ChannelEntry {
  channel: ChannelT;
  port: DataChannelPort;
  listener: Listener | undefined;
}

const PEER_STATE_NAMES: Record<PeerConnectionState, string> = {
  new: 'New',
  connecting: 'Connecting',
  connected: 'Connected',
  disconnected: 'Disconnected',
  failed: 'Failed',
  closed: 'Closed',
};

export class Tube {
  readonly id: string;
  readonly conversationId: string;
  readonly role: 'server' | 'client';
  readonly trickleIce: boolean;
  readonly createdAt = Date.now();
  readonly #init: TubeInit;
  readonly #peer: Peer;
  readonly #logger: Logger;
  readonly #channels = new Map<string, ChannelEntry>();
  #status: TubeStatus = 'initializing';
  #remoteSet = false;
  #pendingCandidates: string[] = [];
  #closing: Promise<void> | undefined;
  #readyAt: number | undefined;
  #creationTimer: NodeJS.Timeout | undefined;
  /** The first TURN failure, and whether relaying became impossible (turn_only, every TURN server failed). */
  #turnFailure: TubesError | undefined;
  #relayImpossible = false;
  #turnFailed = new Set<string>();
  #turnOk = false;
  /** Automatic restarts and loss handling; undefined without trickle ICE or when turned off. */
  readonly #restart: RestartMachine | undefined;
  #restartStarted = false;
  #unwatchNetwork: (() => void) | undefined;
  /** Candidates gathered while a restart offer is being made go out after the offer. */
  #heldCandidates: string[] | undefined;
  /** A remote description is being applied: candidates wait until it is. */
  #applying = 0;

  constructor(init: TubeInit, role: 'server' | 'client') {
    this.#init = init;
    this.id = init.id ?? randomUUID();
    this.conversationId = init.conversationId;
    this.role = role;
    this.trickleIce = init.trickleIce;
    this.#logger = init.logger.child({ tube: this.id });
    this.#peer = new Peer(
      { ...init.peer, trickle: init.trickleIce },
      {
        candidate: (c) => {
          if (!this.trickleIce) return;
          if (this.#heldCandidates) this.#heldCandidates.push(c);
          else this.#signal('icecandidate', c);
        },
        connectionState: (s) => this.#peerState(s),
        dataChannel: (port) => this.#remoteDataChannel(port),
        turnOutcome: (o) => this.#turnOutcome(o),
        iceState: (s) => {
          this.#logger.debug({ state: s }, 'ICE connection state');
          if (this.#restartStarted && !this.#closing) this.#restart?.iceState(s);
        },
      },
    );
    const restart = init.iceRestart;
    this.#restart =
      this.trickleIce && restart?.auto
        ? new RestartMachine(restartMachineOptions(restart, init.limits), {
            initiator: role === 'server',
            activityMarks: () => this.#activityMarks(),
            report: (state) => this.#reportConnectivity(state),
            restart: () => this.#autoRestartOffer(),
            giveUp: (reason, why) => {
              this.#logger.warn({ reason, why }, 'connection lost for good: closing the tube');
              this.#status = 'failed';
              this.#signal('connection_state_changed', 'failed');
              void this.close(reason);
            },
            log: (event, data) => this.#logger.info(data, event),
          })
        : undefined;
    this.#status = 'connecting';
    const bound = init.creationTimeoutMs ?? 0;
    if (bound > 0) {
      this.#creationTimer = setTimeout(
        () => this.#selfClose(CloseConnectionReason.Timeout, `not connected within ${bound} ms`),
        bound,
      );
      this.#creationTimer.unref();
    }
  }

  /**
   * Progress both ways: what arrived from the peer (SCTP cumulative TSN, plus channel messages as a fallback)
   * and what the peer acknowledged of ours (the channels ping every second, so both move on an idle tube).
   */
  #activityMarks(): readonly number[] {
    let received = this.#peer.receivedMark() ?? 0;
    for (const { channel } of this.#channels.values()) received += channel.messagesReceived;
    return [received, this.#peer.acknowledgedMark() ?? Number.NaN];
  }

  #reportConnectivity(state: 'disconnected' | 'connected'): void {
    if (this.#closing) return;
    if (state === 'disconnected') this.#status = 'disconnected';
    else {
      this.#status = this.#readyAt !== undefined ? 'ready' : 'active';
      this.#peer.pathRecovered();
    }
    this.#signal('connection_state_changed', state);
  }

  /** Automatic restart: new ICE credentials, the offer out as `ice_restart_offer`, then its candidates. */
  async #autoRestartOffer(): Promise<void> {
    if (this.#closing) throw new TubesError(ErrorCode.CLOSED, 'tube is closing');
    this.#heldCandidates = [];
    this.#init.observer?.iceRestart(); // tubes_ice_restarts_total: automatic restarts count as they start
    try {
      await this.#refreshIceServers();
      if (this.#closing) throw new TubesError(ErrorCode.CLOSED, 'tube is closing');
      const sdp = await this.#peer.createOffer(true);
      if (this.#closing) throw new TubesError(ErrorCode.CLOSED, 'tube is closing');
      this.#signal('ice_restart_offer', encodeSdpBase64(sdp));
    } finally {
      const held = this.#heldCandidates ?? [];
      this.#heldCandidates = undefined;
      for (const c of held) this.#signal('icecandidate', c);
    }
  }

  /**
   * Before a restart's gathering (our offer, or our answer to the peer's): fresh servers from the host's
   * provider / `turnRest`. On failure the current ones stay (their live allocations are reused).
   */
  async #refreshIceServers(): Promise<void> {
    const refresh = this.#init.refreshIceServers;
    if (!refresh) return;
    try {
      const plan = await refresh();
      if (this.#peer.setIceServers(plan)) this.#init.peer.icePlan = plan;
    } catch (err) {
      this.#logger.warn(
        { err: (err as Error).message },
        'fresh ICE servers unavailable: the restart keeps the current ones',
      );
    }
  }

  /** Loss detection and the network watch start once the tube first connected. */
  #startRestartMachine(): void {
    if (!this.#restart || this.#restartStarted) return;
    this.#restartStarted = true;
    this.#restart.start();
    const poll = this.#init.iceRestart?.networkPollMs ?? 0;
    this.#unwatchNetwork = watchNetwork(poll, () => this.#restart?.networkChanged());
  }

  /** Restarts that brought connectivity back (automatic ones). */
  get iceRestarts(): number {
    return this.#restart?.restartsCompleted ?? 0;
  }

  /** Share of our SCTP DATA transmissions that were retransmissions (docs/API.md); 0 when unknown. */
  get packetLossRate(): number {
    return this.#peer.sctpLossRate() ?? 0;
  }

  /** True while connectivity is lost (between `disconnected` and `connected`/close). */
  get connectivityLost(): boolean {
    return this.#restart?.lost ?? false;
  }

  /** Bytes buffered toward the peer: data channel buffers plus what waits in the SCTP association. */
  bufferedBytes(): number {
    let total = this.#peer.sctpQueuedBytes();
    for (const { port } of this.#channels.values()) total += port.bufferedAmount;
    return total;
  }

  get status(): TubeStatus {
    return this.#status;
  }

  get connectionState(): string {
    return PEER_STATE_NAMES[this.#peer.connectionState] ?? 'Unknown';
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Milliseconds from construction until the first data channel opened. */
  get readyAfterMs(): number | undefined {
    return this.#readyAt === undefined ? undefined : this.#readyAt - this.createdAt;
  }

  conversationIds(): string[] {
    return [...new Set([this.conversationId, ...this.#channels.keys()])];
  }

  channel(conversationId: string): ChannelT | undefined {
    return this.#channels.get(conversationId)?.channel;
  }

  channels(): ChannelT[] {
    return [...this.#channels.values()].map((e) => e.channel);
  }

  // ---- creation -------------------------------------------------------------------------------------

  /** Server mode: data channel + channel (+ listener), then the offer (base64). */
  async startServer(): Promise<{ offer: string; actualLocalListenAddr?: string }> {
    const listenAddr = await this.addLocalChannel(this.conversationId, this.#init.settings);
    const sdp = await this.#peer.createOffer();
    const offer = this.trickleIce ? sdp : await this.#gathered('offer');
    return { offer: encodeSdpBase64(offer), ...(listenAddr ? { actualLocalListenAddr: listenAddr } : {}) };
  }

  /** Client mode: apply the offer, answer (base64). Channels appear when the peer's data channels arrive. */
  async startClient(offerSdp: string): Promise<{ answer: string }> {
    await this.#peer.setRemoteDescription(offerSdp, 'offer');
    this.#remoteSet = true;
    await this.#flushCandidates();
    const sdp = await this.#peer.createAnswer();
    const answer = this.trickleIce ? sdp : await this.#gathered('answer');
    return { answer: encodeSdpBase64(answer) };
  }

  async #gathered(what: 'offer' | 'answer'): Promise<string> {
    await this.#peer.waitGatheringComplete(this.#init.gatherTimeoutMs, what);
    if (this.#relayImpossible && this.#turnFailure) throw this.#turnFailure;
    return this.#peer.localSdp();
  }

  /** A TURN allocation ended: failures are signalled (`turn_error`); with turn_only and none left, the tube ends. */
  #turnOutcome(o: TurnOutcome): void {
    const relayOnly = this.#init.peer.icePlan?.relayOnly ?? this.#init.peer.relayOnly;
    if (o.ok) {
      this.#turnOk = true;
      this.#logger.info({ turn: o.server.url, relay: o.relay, ms: o.ms }, 'TURN allocation');
      return;
    }
    this.#turnFailed.add(o.server.url);
    const message = `TURN server ${o.server.url}: ${o.reason}`;
    this.#turnFailure ??= new TubesError(o.code, message);
    this.#logger.warn(
      { turn: o.server.url, code: o.code, reason: o.reason, ms: o.ms },
      'TURN allocation failed',
    );
    this.#signal(
      'turn_error',
      JSON.stringify({
        url: o.server.url,
        code: o.code,
        message,
        ...(o.stunCode !== undefined ? { stun_error_code: o.stunCode } : {}),
        elapsed_ms: o.ms,
        relay_only: relayOnly,
      }),
    );
    const servers = this.#init.peer.icePlan?.turn.length ?? 0;
    if (relayOnly && !this.#turnOk && this.#turnFailed.size >= servers) {
      this.#relayImpossible = true;
      // Without a relay candidate a relay-only tube can never connect: end it now rather than at the timeout.
      if (this.trickleIce) {
        this.#selfClose(CloseConnectionReason.ConnectionFailed, `no TURN relay available (${message})`);
      }
    }
  }

  /** The tube ends on its own initiative: the host is told why (`tube_closed`), then the usual close. */
  #selfClose(reason: number, message: string): void {
    if (this.#closing) return;
    this.#logger.warn({ reason, message }, 'tube closing itself');
    this.#signal('tube_closed', JSON.stringify({ close_reason: closeReasonJson(reason), message }));
    void this.close(reason);
  }

  /** Creates a data channel labelled `conversationId` and its channel; returns the listener address if any. */
  async addLocalChannel(conversationId: string, settings: ParsedSettings): Promise<string | undefined> {
    if (this.#channels.has(conversationId)) {
      throw new TubesError(ErrorCode.BAD_ARGUMENT, `Channel already exists: ${conversationId}`);
    }
    const mode = modeFor(settings);
    const port = this.#peer.createDataChannel(conversationId);
    const entry = this.#attach(port, 'server', mode);
    if (settings.localListenAddr && mode.listens) {
      entry.listener = await listen(
        settings.localListenAddr,
        (socket) => {
          if (entry.channel.ended) socket.destroy();
          else mode.acceptor.accept(socket, entry.channel);
        },
        (socket) => mode.acceptor.refuse(socket),
      );
      return entry.listener.actualAddress;
    }
    return undefined;
  }

  #remoteDataChannel(port: DataChannelPort): void {
    if (this.#closing) {
      port.close();
      return;
    }
    // The peer's channels are served with this tube's own settings (as the original does).
    try {
      this.#attach(port, 'client', modeFor(this.#init.settings));
    } catch (err) {
      this.#logger.error({ err: (err as Error).message, channel: port.label }, 'cannot serve data channel');
      port.close();
    }
  }

  #attach(port: DataChannelPort, role: 'server' | 'client', mode: ChannelMode): ChannelEntry {
    const logger = this.#logger.child({ channel: port.label });
    const entry: ChannelEntry = {
      port,
      listener: undefined,
      channel: new Channel({
        port,
        role,
        logger,
        verbose: isVerbose(),
        limits: this.#restart
          ? {
              keepaliveIntervalMs: this.#init.iceRestart?.keepaliveIntervalMs,
              keepaliveTimeoutMs: Number.MAX_SAFE_INTEGER,
              ...this.#init.limits,
            }
          : this.#init.limits,
        extensions: this.#init.protocolExtensions !== false,
        fragmentation: this.#init.fragmentation === true,
        opener: role === 'client' ? mode.opener : undefined,
        handler: role === 'client' ? this.#handler(port.label) : undefined,
        observer: this.#init.observer,
        signal: (kind, data) => this.#signal(kind, data, port.label),
        aggregatedMetrics: () =>
          aggregatedMetrics(
            this.channels().map((c) => ({ ...c.metricsSample(), lossRate: this.packetLossRate })),
            1,
          ),
        onOpen: () => this.#channelOpen(),
        // With automatic restarts the restart machine decides when silence means the peer is gone.
        onPeerTimeout: () => {
          if (!this.#restart) void this.close(CloseConnectionReason.Timeout);
        },
        onEnd: (outcome, reason) => this.#channelEnded(port.label, outcome, reason),
        onTransportClose: () => this.#transportClosed(port.label),
      }),
    };
    this.#channels.set(port.label, entry);
    return entry;
  }

  #handler(label: string): ((stream: TubeStream, connNo: number) => void) | undefined {
    const onConnection = this.#init.onConnection;
    if (!onConnection) return undefined;
    const tubeId = this.id;
    return (stream, connNo) => onConnection(stream, { tubeId, conversationId: label, connNo });
  }

  /** Per-frame debug logging of this tube's channels, at once. */
  setVerbose(on: boolean): void {
    for (const { channel } of this.#channels.values()) channel.verbose = on;
  }

  #channelOpen(): void {
    if (this.#status === 'closed') return;
    if (this.#readyAt === undefined) {
      this.#readyAt = Date.now();
      this.#init.observer?.ready(this.#readyAt - this.createdAt);
    }
    this.#status = 'ready';
  }

  #channelEnded(label: string, outcome: string, reason: number | undefined): void {
    const entry = this.#channels.get(label);
    entry?.listener?.close();
    this.#signal(
      'channel_closed',
      JSON.stringify({
        channel_id: label,
        outcome,
        ...(reason !== undefined ? { close_reason: closeReasonJson(reason) } : {}),
      }),
      label,
    );
  }

  /** A data channel closed under us: when none is left open the tube has nothing to carry, so it closes. */
  #transportClosed(label: string): void {
    const entry = this.#channels.get(label);
    if (this.#closing || !entry) return;
    const anyOpen = [...this.#channels.values()].some((e) => e !== entry && e.port.readyState === 'open');
    if (!anyOpen) void this.close(entry.channel.closeReason ?? CloseConnectionReason.ConnectionLost);
  }

  // ---- signalling -----------------------------------------------------------------------------------

  async setRemoteDescription(sdp: string, isAnswer: boolean): Promise<string | undefined> {
    if (!isAnswer && this.#peer.signalingState === 'have-local-offer' && this.#impolite()) {
      // Glare: both sides offered. As in the perfect-negotiation pattern one side wins: the tube that made
      // the original offer, when its peer is one of ours (which then rolls its own offer back and answers
      // ours). With another peer (the original) we are the polite side: werift rolls our offer back.
      throw new TubesError(
        ErrorCode.WEBRTC,
        'ICE restart glare: this tube has its own offer pending and keeps it (it made the original offer); ' +
          'relay that offer to the peer instead',
      );
    }
    // Candidates relayed while the description is being applied (an ICE restart clears werift's remote
    // candidates when it takes effect) wait until it is.
    const renegotiation = !isAnswer && this.#remoteSet;
    this.#applying++;
    try {
      await this.#peer.setRemoteDescription(sdp, isAnswer ? 'answer' : 'offer');
      this.#remoteSet = true;
    } finally {
      this.#applying--;
    }
    if (this.#applying === 0) await this.#flushCandidates();
    if (isAnswer) {
      this.#restart?.answered();
      return undefined;
    }
    this.#restart?.remoteOffer();
    if (renegotiation) await this.#refreshIceServers();
    const answer = await this.#peer.createAnswer();
    return encodeSdpBase64(this.trickleIce ? answer : await this.#gathered('answer'));
  }

  /** Wins glare: the original offerer, talking to a peer that answered our capability probe (one of ours). */
  #impolite(): boolean {
    if (this.role !== 'server') return false;
    for (const { channel } of this.#channels.values()) {
      if (channel.stats().peerCapabilities !== undefined) return true;
    }
    return false;
  }

  async addIceCandidate(candidate: string): Promise<void> {
    if (candidate === '') return;
    if (!this.#remoteSet || this.#applying > 0) {
      this.#pendingCandidates.push(candidate);
      return;
    }
    await this.#peer.addIceCandidate(candidate);
  }

  async #flushCandidates(): Promise<void> {
    const pending = this.#pendingCandidates;
    this.#pendingCandidates = [];
    for (const c of pending) {
      try {
        await this.#peer.addIceCandidate(c);
      } catch (err) {
        this.#logger.warn({ err: (err as Error).message }, 'buffered ICE candidate rejected');
      }
    }
  }

  async createOffer(): Promise<string> {
    const sdp = await this.#peer.createOffer();
    return encodeSdpBase64(this.trickleIce ? sdp : await this.#gathered('offer'));
  }

  async createAnswer(): Promise<string> {
    const sdp = await this.#peer.createAnswer();
    return encodeSdpBase64(this.trickleIce ? sdp : await this.#gathered('answer'));
  }

  async restartIce(): Promise<string> {
    this.#init.observer?.iceRestart();
    await this.#refreshIceServers();
    const sdp = await this.#peer.createOffer(true);
    return encodeSdpBase64(sdp);
  }

  /**
   * RTT from werift's candidate-pair stats; bytes from our own channel counters (werift's transport stats
   * carry none for data-only sessions).
   */
  async connectionStats(): Promise<{
    rttMs: number | undefined;
    bytesSent: number;
    bytesReceived: number;
    selectedPair: SelectedPair | undefined;
    /** Share of our SCTP DATA transmissions that were retransmissions; 0 when unknown. */
    packetLossRate: number;
  }> {
    let bytesSent = 0;
    let bytesReceived = 0;
    for (const { channel } of this.#channels.values()) {
      const s = channel.stats();
      bytesSent += s.bytesSent;
      bytesReceived += s.bytesReceived;
    }
    return {
      rttMs: await this.#peer.rttMs(),
      bytesSent,
      bytesReceived,
      selectedPair: this.#peer.selectedPair(),
      packetLossRate: this.#peer.sctpLossRate() ?? 0,
    };
  }

  #peerState(state: PeerConnectionState): void {
    if (this.#closing) return;
    switch (state) {
      case 'connected':
        clearTimeout(this.#creationTimer);
        // After the first connect, recoveries are reported by the restart machine (werift does not
        // report them reliably).
        if (this.#restartStarted) return;
        if (this.#status !== 'ready') this.#status = 'active';
        this.#signal('connection_state_changed', 'connected');
        this.#startRestartMachine();
        return;
      case 'disconnected':
        if (!this.trickleIce) {
          this.#status = 'disconnected';
          this.#signal('connection_state_changed', 'disconnected');
          void this.close(CloseConnectionReason.ConnectionLost);
        }
        return;
      case 'failed':
        // A connected tube with automatic restarts restarts instead (ICE state handler).
        if (this.#restartStarted) return;
        if (!this.trickleIce) {
          this.#status = 'failed';
          this.#signal('connection_state_changed', 'failed');
        }
        void this.close(CloseConnectionReason.ConnectionFailed);
        return;
      case 'closed':
        void this.close(CloseConnectionReason.Normal);
        return;
      default:
        return;
    }
  }

  #signal(kind: SignalKind, data: string, conversationId = this.conversationId): void {
    const cb = this.#init.onSignal;
    if (!cb) return;
    try {
      cb({ tubeId: this.id, kind, data, conversationId });
    } catch (err) {
      this.#logger.error({ err: (err as Error).message, kind }, 'signal callback threw; ignored');
    }
  }

  // ---- closing --------------------------------------------------------------------------------------

  /** Ends one logical channel: its connections close, the peer gets CloseConnection(0, reason). */
  async closeChannel(conversationId: string, reason: number): Promise<void> {
    const entry = this.#channels.get(conversationId);
    if (!entry || entry.channel.ended) return;
    entry.channel.close(reason);
    entry.listener?.close();
    await entry.channel.flush(200);
  }

  /**
   * Closes the tube: `channel_closed` (tube_closed) per channel, every connection closed, CloseConnection(0,
   * reason) so the peer sees why, a short flush, then data channels and the peer connection. Idempotent;
   * bounded to about a second.
   */
  close(reason: number = CloseConnectionReason.AdminClosed): Promise<void> {
    this.#closing ??= this.#close(reason);
    return this.#closing;
  }

  async #close(reason: number): Promise<void> {
    this.#status = 'closed';
    clearTimeout(this.#creationTimer);
    this.#restart?.stop();
    this.#unwatchNetwork?.();
    this.#unwatchNetwork = undefined;
    const entries = [...this.#channels.values()];
    for (const e of entries) {
      this.#signal(
        'channel_closed',
        JSON.stringify({
          channel_id: e.port.label,
          outcome: 'tube_closed',
          close_reason: closeReasonJson(reason),
        }),
        e.port.label,
      );
    }
    for (const e of entries) e.channel.close(reason);
    for (const e of entries) e.listener?.close();
    await Promise.all(entries.map((e) => e.channel.flush(800)));
    for (const e of entries) e.port.close();
    await Promise.race([this.#peer.close(), new Promise((r) => setTimeout(r, 400).unref())]);
    this.#pendingCandidates = [];
    this.#init.onClosed(this);
  }
}
