/**
 * The public entry point: a registry of tubes keyed by tube id, with a conversation-id index
 * (original-behaviour §4, DESIGN §2). Each registry is independent (no process-wide singleton).
 */
import type { ResourceLimits } from 'node:worker_threads';
import type { ChannelLimits } from '../channel/channel.ts';
import { modeFor } from '../channel/modes.ts';
import { parseSettings } from '../config/settings.ts';
import { ErrorCode, TubesError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import type { IceServer, PeerOptions } from '../webrtc/peer.ts';
import { decodeSdpBase64 } from '../webrtc/sdp.ts';
import { Admission, type CapacityReport } from './capacity.ts';
import type { SignalCallback } from './signals.ts';
import { Tube, type TubeStatus } from './tube.ts';
import { TubeIndex } from './tube-index.ts';
import { createWorkerRegistry } from './workers.ts';

export interface TubeRegistryOptions {
  /** pino-compatible logger; silent by default. */
  logger?: Logger;
  /** Tube creations in flight before createTube rejects with TUBES_ERR_OVERLOADED (env TUBES_MAX_CONCURRENT_CREATES, default 100). */
  maxConcurrentCreates?: number;
  /** Default ICE servers; none unless given (werift's public STUN default is never used). */
  iceServers?: IceServer[];
  /** Extra host-candidate addresses, e.g. ['127.0.0.1'] (werift skips loopback by default). */
  hostAddresses?: string[];
  /** Only use `hostAddresses` as candidates, and only pair with remote candidates on them (loopback tests). */
  hostAddressesOnly?: boolean;
  ipv6?: boolean;
  portRange?: [number, number];
  /** Channel buffer limits and keepalive timing. */
  limits?: Partial<ChannelLimits>;
  /**
   * Offer and answer our wire extensions (per-connection flow control, SOCKS5 UDP). Default true; false makes
   * this side behave exactly as the original on the wire.
   */
  protocolExtensions?: boolean;
  /** Non-trickle ICE gathering timeout (default 30 s). */
  iceGatherTimeoutMs?: number;
  /**
   * Version-guarded werift patches for data-channel throughput (src/webrtc/patches/). Default true (unless the
   * environment has TUBES_WERIFT_PATCHES=0); false runs stock werift.
   */
  weriftPatches?: boolean;
  /**
   * Run tubes in this many `worker_threads` (each a TubeRegistry with these options minus `workers` and
   * `logger`), the API staying on this thread (src/registry/workers.ts). 0 / absent: tubes run in this thread.
   */
  workers?: number;
  /** Worker mode only: `resourceLimits` of each worker (e.g. `{ maxOldGenerationSizeMb }`); a worker that runs
   * out of memory dies alone, like any crashed worker. */
  workerResourceLimits?: ResourceLimits;
}

export interface CreateTubeOptions {
  conversationId: string;
  settings: Record<string, unknown>;
  trickleIce: boolean;
  /** base64 SDP offer: present = client mode (answerer, dials targets); absent = server mode (offerer). */
  offer?: string;
  tubeId?: string;
  onSignal?: SignalCallback;
  iceServers?: IceServer[];
  turnOnly?: boolean;
}

export interface CreateTubeResult {
  tubeId: string;
  offer?: string;
  answer?: string;
  actualLocalListenAddr?: string;
}

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

export class TubeRegistry {
  // `!`: the constructor returns early (another object) in worker mode; otherwise they are always assigned.
  readonly #logger!: Logger;
  readonly #options!: TubeRegistryOptions;
  readonly #admission!: Admission;
  readonly #index = new TubeIndex<Tube>();

  constructor(options: TubeRegistryOptions = {}) {
    if (options.workers !== undefined && options.workers !== 0) {
      // biome-ignore lint/correctness/noConstructorReturn: worker mode implements this same API in workers.ts
      return createWorkerRegistry(options, TubeRegistry.prototype);
    }
    this.#options = options;
    this.#logger = options.logger ?? silentLogger();
    this.#admission = new Admission(
      options.maxConcurrentCreates ?? envInt('TUBES_MAX_CONCURRENT_CREATES') ?? 100,
    );
  }

  #peerOptions(opts: CreateTubeOptions): PeerOptions {
    const s = opts.settings;
    const servers = [...(opts.iceServers ?? this.#options.iceServers ?? [])];
    const turnUrl = s['turn_url'];
    if (
      typeof turnUrl === 'string' &&
      typeof s['turn_username'] === 'string' &&
      typeof s['turn_password'] === 'string'
    ) {
      servers.push({ urls: turnUrl, username: s['turn_username'], credential: s['turn_password'] });
    }
    return {
      iceServers: servers,
      relayOnly: opts.turnOnly === true || s['turn_only'] === true,
      hostAddresses: this.#options.hostAddresses,
      hostAddressesOnly: this.#options.hostAddressesOnly,
      ipv6: this.#options.ipv6,
      portRange: this.#options.portRange,
      weriftPatches: this.#options.weriftPatches,
      logger: this.#logger,
    };
  }

  async createTube(opts: CreateTubeOptions): Promise<CreateTubeResult> {
    if (typeof opts.conversationId !== 'string' || opts.conversationId === '') {
      throw new TubesError(ErrorCode.BAD_ARGUMENT, 'conversationId must be a non-empty string');
    }
    const settings = parseSettings(opts.settings);
    modeFor(settings); // validates the mode's settings before any WebRTC work
    const existing = opts.tubeId !== undefined ? this.#index.get(opts.tubeId) : undefined;
    if (existing) {
      // A further channel on an existing tube (original §4.2 step 1).
      await existing.addLocalChannel(opts.conversationId, settings);
      this.#index.associate(opts.conversationId, existing.id);
      return { tubeId: existing.id };
    }
    const offerSdp = opts.offer !== undefined ? decodeSdpBase64(opts.offer, 'initial_offer_sdp') : undefined;
    const done = this.#admission.enter();
    const tube = new Tube(
      {
        id: opts.tubeId,
        conversationId: opts.conversationId,
        settings,
        trickleIce: opts.trickleIce,
        peer: this.#peerOptions(opts),
        logger: this.#logger,
        limits: this.#options.limits,
        protocolExtensions: this.#options.protocolExtensions,
        onSignal: opts.onSignal,
        gatherTimeoutMs: this.#options.iceGatherTimeoutMs ?? 30_000,
        onClosed: (t) => this.#forget(t),
      },
      offerSdp === undefined ? 'server' : 'client',
    );
    this.#index.add(tube, opts.conversationId);
    try {
      const result: CreateTubeResult = { tubeId: tube.id };
      if (offerSdp === undefined) Object.assign(result, await tube.startServer());
      else Object.assign(result, await tube.startClient(offerSdp));
      done(true);
      return result;
    } catch (err) {
      done(false);
      await tube.close(CloseConnectionReason.Error);
      if (err instanceof TubesError) throw err;
      throw new TubesError(ErrorCode.WEBRTC, `Failed to create tube: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  #forget(tube: Tube): void {
    this.#index.remove(tube);
  }

  #tube(tubeId: string): Tube {
    const tube = this.#index.get(tubeId);
    if (!tube) throw new TubesError(ErrorCode.TUBE_NOT_FOUND, `Tube not found: ${tubeId}`);
    return tube;
  }

  async setRemoteDescription(
    tubeId: string,
    sdpBase64: string,
    isAnswer = false,
  ): Promise<string | undefined> {
    const tube = this.#tube(tubeId);
    const sdp = decodeSdpBase64(sdpBase64);
    return tube.setRemoteDescription(sdp, isAnswer);
  }

  /** Fire-and-forget as the original: never throws, unknown tubes are ignored. `""` ends the candidates. */
  async addIceCandidate(tubeId: string, candidate: string): Promise<void> {
    const tube = this.#index.get(tubeId);
    if (!tube) return;
    try {
      await tube.addIceCandidate(candidate);
    } catch (err) {
      this.#logger.warn({ tube: tubeId, err: (err as Error).message }, 'ICE candidate rejected');
    }
  }

  createOffer(tubeId: string): Promise<string> {
    return this.#tube(tubeId).createOffer();
  }

  createAnswer(tubeId: string): Promise<string> {
    return this.#tube(tubeId).createAnswer();
  }

  async restartIce(tubeId: string): Promise<string> {
    try {
      return await this.#tube(tubeId).restartIce();
    } catch (err) {
      if (err instanceof TubesError) throw err;
      throw new TubesError(ErrorCode.WEBRTC, `ICE restart failed: ${(err as Error).message}`, { cause: err });
    }
  }

  getConnectionState(tubeId: string): string {
    return this.#tube(tubeId).connectionState;
  }

  getTubeStatus(tubeId: string): TubeStatus {
    return this.#tube(tubeId).status;
  }

  /** Closes one logical channel (the data channel stays). Default reason Unknown (6), as the original. */
  async closeConnection(
    conversationId: string,
    reason: number = CloseConnectionReason.Unknown,
  ): Promise<void> {
    const tube = this.#index.byConversation(conversationId);
    if (!tube) {
      throw new TubesError(
        ErrorCode.CONVERSATION_NOT_FOUND,
        `No tube found for connection ID: ${conversationId}`,
      );
    }
    await tube.closeChannel(conversationId, reason);
  }

  /** Closes a tube (default reason AdminClosed, 12). Idempotent while it closes. */
  async closeTube(tubeId: string, reason: number = CloseConnectionReason.AdminClosed): Promise<void> {
    const tube = this.#index.get(tubeId);
    if (!tube)
      throw new TubesError(
        ErrorCode.TUBE_NOT_FOUND,
        `Failed to close tube ${tubeId}: Tube not found: ${tubeId}`,
      );
    await tube.close(reason);
  }

  tubeFound(tubeId: string): boolean {
    return this.#index.has(tubeId);
  }

  allTubeIds(): string[] {
    return this.#index.ids();
  }

  findTubes(searchTerm: string): string[] {
    return this.#index.find(searchTerm);
  }

  getConversationIdsByTubeId(tubeId: string): string[] {
    return this.#index.conversationsOf(tubeId);
  }

  tubeIdFromConnectionId(connectionId: string): string | undefined {
    return this.#index.tubeIdOf(connectionId);
  }

  getTubeIdByConversationId(conversationId: string): string {
    return this.#index.requireTubeIdOf(conversationId);
  }

  associateConversation(tubeId: string, connectionId: string): void {
    this.#index.associate(connectionId, tubeId);
  }

  activeTubeCount(): number {
    return this.#index.size;
  }

  hasActiveTubes(): boolean {
    return this.#index.size > 0;
  }

  checkCapacity(): CapacityReport {
    return this.#admission.report();
  }

  /**
   * `{ packet_loss_rate, rtt_ms, bytes_sent, bytes_received }` of the tube: RTT of the nominated ICE pair,
   * data-channel bytes of all its channels. `packet_loss_rate` is 0: werift exposes no loss figure for data
   * channels (SCTP retransmits; the original reported 0 for data-only sessions too).
   */
  async getConnectionStats(tubeId: string): Promise<{
    packet_loss_rate: number;
    rtt_ms: number | null;
    bytes_sent: number;
    bytes_received: number;
  }> {
    const tube = this.#tube(tubeId);
    const s = await tube.connectionStats();
    return {
      packet_loss_rate: 0,
      rtt_ms: s.rttMs ?? null,
      bytes_sent: s.bytesSent,
      bytes_received: s.bytesReceived,
    };
  }

  /** Live counters of one conversation's channel, or null if unknown. */
  getLiveStats(conversationId: string): Record<string, unknown> | null {
    const tube = this.#index.byConversation(conversationId);
    const channel = tube?.channel(conversationId);
    if (!tube || !channel) return null;
    const s = channel.stats();
    return {
      conversation_id: conversationId,
      tube_id: tube.id,
      established_at: tube.createdAt,
      messages_sent: s.messagesSent,
      messages_received: s.messagesReceived,
      total_bytes_sent: s.bytesSent,
      total_bytes_received: s.bytesReceived,
      avg_rtt_ms: s.rttMs ?? null,
      active_connections: s.activeConnections,
      frames_discarded: s.framesDiscarded,
    };
  }

  async cleanupTubes(tubeIds: string[]): Promise<void> {
    await Promise.all(
      tubeIds.map((id) => this.#index.get(id)?.close(CloseConnectionReason.Normal) ?? Promise.resolve()),
    );
  }

  async cleanupAll(): Promise<void> {
    await this.cleanupTubes(this.allTubeIds());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.cleanupAll();
  }
}
