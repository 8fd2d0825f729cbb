/**
 * The public entry point: a registry of tubes keyed by tube id, with a conversation-id index
 * (docs/ORIGINAL.md, “The host API”; docs/API.md). Each registry is independent (no process-wide singleton). The registry
 * owns the index, admission and the checks of every argument; its tubes run on this thread
 * (local-backend.ts) or, with `workers`, in worker threads (worker-backend.ts), behind one interface
 * (backend.ts).
 */

import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { ResourceLimits } from 'node:worker_threads';
import type { Registry as PromRegistry } from 'prom-client';
import type { ChannelLimits } from '../channel/channel.ts';
import { modeFor } from '../channel/modes.ts';
import type { TubeStream } from '../channel/tube-stream.ts';
import { parseSettings } from '../config/settings.ts';
import { ErrorCode, TubesError } from '../errors.ts';
import { type Logger, onVerboseChange, silentLogger } from '../log.ts';
import type { AggregatedMetrics } from '../metrics/aggregated.ts';
import { prometheusRegistry } from '../metrics/prometheus.ts';
import { CloseConnectionReason, closeReasonInfo } from '../protocol/close-reason.ts';
import { encodeOpenConnectionTail } from '../protocol/socks5/request-tail.ts';
import {
  type IceServersProvider,
  type IceServersSource,
  iceServerPlan,
  resolveIceServers,
} from '../webrtc/ice-servers.ts';
import type { IceServer } from '../webrtc/peer.ts';
import { decodeSdpBase64 } from '../webrtc/sdp.ts';
import { checkTurnRest, type TurnRestOptions, withTurnRestCredentials } from '../webrtc/turn-rest.ts';
import type { BackendHost, ConnectionStats, LiveStats, TubeBackend, TubeHandle } from './backend.ts';
import { Admission, type CapacityReport } from './capacity.ts';
import type { IceRestartOptions } from './ice-restart.ts';
import { aggregatedMetricsOf, connectionHealthOf } from './live-stats.ts';
import { LocalBackend } from './local-backend.ts';
import type { SignalCallback } from './signals.ts';
import type { ConnectionInfo, TubeStatus } from './tube.ts';
import { TubeIndex } from './tube-index.ts';
import { WorkerBackend } from './worker-backend.ts';

export type { TubeStream } from '../channel/tube-stream.ts';
export type { ConnectionInfo } from './tube.ts';

/** Handler mode: receives each connection the peer opens (see CreateTubeOptions.onConnection). */
export type ConnectionHandler = (stream: TubeStream, info: ConnectionInfo) => void;

export interface OpenConnectionOptions {
  /** Aborts the open (rejects with an AbortError), or later destroys the stream (close reason Client). */
  signal?: AbortSignal;
  /** The tube whose channel to use, when the conversation id alone is ambiguous. */
  tubeId?: string;
  /**
   * SOCKS conversations: where the gateway connects (sent as the OpenConnection's SOCKS tail; the gateway
   * checks it against its allow-lists). Leave out for plain `tunnel` and guacd conversations.
   */
  destination?: { host: string; port: number };
}

export interface TubeRegistryOptions {
  /** pino-compatible logger; silent by default. */
  logger?: Logger;
  /** Tube creations in flight before createTube rejects with TUBES_ERR_OVERLOADED (env TUBES_MAX_CONCURRENT_CREATES, default 100). */
  maxConcurrentCreates?: number;
  /**
   * Default ICE servers; none unless given (werift's public STUN default is never used). A function is called
   * at each createTube and again before each ICE restart's gathering (fresh TURN credentials); not with
   * `workers` (use `turnRest` there).
   */
  iceServers?: IceServersSource;
  /**
   * TURN REST credentials minted here: TURN servers of `iceServers` listed without `username` and
   * `credential` get `turnRestCredentials({ secret, user, ttlSeconds })` at createTube and again before each
   * ICE restart's gathering. Works with `workers`.
   */
  turnRest?: TurnRestOptions;
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
   * A tube whose peer connection is not connected this long after createTube is closed with Timeout and a
   * `tube_closed` signal (default 15,000 ms, env KEEPER_GATEWAY_TUBE_CREATION_TIMEOUT_SECS; 0 = never).
   */
  creationTimeoutMs?: number;
  /**
   * A TURN allocation that has not succeeded within this is abandoned and reported (`turn_error`,
   * TUBES_ERR_TURN_UNREACHABLE). An error answer from the server is reported at once. Default 5,000 ms.
   */
  turnTimeoutMs?: number;
  /** TLS options for `turns:` servers (Node `tls.connect` options, e.g. `{ ca }` for a private CA). */
  turnTls?: TlsConnectionOptions;
  /**
   * Connection loss detection and automatic ICE restart for trickle-ICE tubes (docs/API.md "Connection loss
   * and ICE restart"); every field optional, defaults for remote desktop users.
   */
  iceRestart?: Partial<IceRestartOptions>;
  /**
   * Version-guarded werift patches for data-channel throughput (src/webrtc/patches/). Default true (unless the
   * environment has TUBES_WERIFT_PATCHES=0); false runs stock werift.
   */
  weriftPatches?: boolean;
  /**
   * Run tubes in this many `worker_threads` (each a TubeRegistry with these options minus `workers` and
   * `logger`), the API staying on this thread (src/registry/worker-backend.ts). 0 / absent: tubes run in this thread.
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
  /** This tube's ICE servers (default: the registry's); a function as for the registry option. */
  iceServers?: IceServersSource;
  turnOnly?: boolean;
  /**
   * The original's `enable_multi_channel`: turns on its FRAGMENTATION capability (frames above 16 KiB as
   * fragments, fragments reassembled). Never negotiated: both peers must set it alike. Default false.
   */
  enableMultiChannel?: boolean;
  /**
   * Handler mode, answering (gateway) side of a `tunnel` without SOCKS: every connection the peer opens is
   * handed to this function as a `stream.Duplex` (TubeStream) instead of being dialed to a target. Accepting
   * is implicit (ConnectionOpened is sent when it returns); throwing, or destroying the stream before
   * returning, refuses the connection with the error's `closeReason` (default HandlerError, 22). With
   * `workers` it still runs on this thread (the connection's stream is bridged from the tube's worker).
   */
  onConnection?: ConnectionHandler;
}

export type { SelectedCandidatePair } from './backend.ts';

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

/** `workers` as given: 0 / absent = tubes on this thread; otherwise a positive integer. */
function workerCount(workers: number | undefined): number {
  if (workers === undefined || workers === 0) return 0;
  if (!Number.isInteger(workers) || workers < 1) {
    throw new TubesError(
      ErrorCode.BAD_ARGUMENT,
      `workers must be a non-negative integer, got ${String(workers)}`,
    );
  }
  return workers;
}

/** A list, or (in-thread only: a function cannot reach a worker) a provider function. */
function checkIceServersSource(source: unknown, workers: number): IceServersSource {
  if (Array.isArray(source)) return source as IceServer[];
  if (typeof source !== 'function') {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, 'iceServers must be an array of ICE servers or a function');
  }
  if (workers > 0) {
    throw new TubesError(
      ErrorCode.BAD_ARGUMENT,
      'iceServers as a function needs an in-thread registry (a function cannot reach a worker); with workers use turnRest, or a list',
    );
  }
  return source as IceServersProvider;
}

function createFailure(err: unknown): TubesError {
  if (err instanceof TubesError) return err;
  return new TubesError(ErrorCode.WEBRTC, `Failed to create tube: ${(err as Error).message}`, { cause: err });
}

export class TubeRegistry {
  readonly #logger: Logger;
  readonly #admission: Admission;
  readonly #index = new TubeIndex<TubeHandle>();
  readonly #backend: TubeBackend;
  readonly #iceServers: IceServersSource;
  readonly #turnRest: TurnRestOptions | undefined;
  readonly #turnTimeoutMs: number;
  readonly #workers: number;
  #prometheus: PromRegistry | undefined;

  constructor(options: TubeRegistryOptions = {}) {
    const workers = workerCount(options.workers);
    this.#iceServers = checkIceServersSource(options.iceServers ?? [], workers);
    checkTurnRest(options.turnRest);
    this.#turnRest = options.turnRest;
    this.#turnTimeoutMs = options.turnTimeoutMs ?? 5_000;
    this.#workers = workers;
    this.#logger = options.logger ?? silentLogger();
    this.#admission = new Admission(
      options.maxConcurrentCreates ?? envInt('TUBES_MAX_CONCURRENT_CREATES') ?? 100,
    );
    const host: BackendHost = {
      closed: (tube) => this.#index.remove(tube),
      conversationsOf: (tubeId) => this.#index.conversationsOf(tubeId),
    };
    this.#backend =
      workers > 0 ? new WorkerBackend(this, workers, options, host) : new LocalBackend(options, host);
    onVerboseChange(this);
  }

  /** @internal setVerboseLogging() reached this registry: its channels (and workers) follow at once. */
  verboseChanged(enabled: boolean): void {
    this.#backend.setVerbose(enabled);
  }

  async createTube(opts: CreateTubeOptions): Promise<CreateTubeResult> {
    if (typeof opts.conversationId !== 'string' || opts.conversationId === '') {
      throw new TubesError(ErrorCode.BAD_ARGUMENT, 'conversationId must be a non-empty string');
    }
    const parsed = parseSettings(opts.settings);
    modeFor(parsed); // validates the mode's settings before any WebRTC work
    const source = checkIceServersSource(opts.iceServers ?? this.#iceServers, this.#workers);
    const provider: IceServersProvider | undefined = typeof source === 'function' ? source : undefined;
    // A further channel on an existing tube uses that tube's servers: no provider call for it.
    const addsChannel = opts.tubeId !== undefined && this.#index.has(opts.tubeId);
    const servers = provider && addsChannel ? [] : await resolveIceServers(source, this.#turnTimeoutMs);
    // ICE servers and turn_* keys, checked with the credentials the tube will mint.
    if (!(provider && addsChannel)) {
      iceServerPlan(withTurnRestCredentials(servers, this.#turnRest), opts.settings, opts.turnOnly);
    }
    if (opts.onConnection !== undefined) this.#checkHandlerMode(opts, parsed.mode);
    const channel = { conversationId: opts.conversationId, settings: opts.settings, parsed };
    const existing = opts.tubeId !== undefined ? this.#index.get(opts.tubeId) : undefined;
    if (existing) {
      // A further channel on an existing tube (docs/ORIGINAL.md, “The host API”).
      const listenAddr = await existing.addChannel(channel);
      this.#index.associate(opts.conversationId, existing.id);
      return { tubeId: existing.id, ...(listenAddr ? { actualLocalListenAddr: listenAddr } : {}) };
    }
    const offerSdp = opts.offer !== undefined ? decodeSdpBase64(opts.offer, 'initial_offer_sdp') : undefined;
    const done = this.#admission.enter();
    let tube: TubeHandle;
    try {
      tube = this.#backend.open({
        ...channel,
        id: opts.tubeId,
        trickleIce: opts.trickleIce,
        offerSdp,
        iceServers: opts.iceServers !== undefined || provider ? servers : undefined,
        iceServersProvider: provider,
        turnOnly: opts.turnOnly,
        enableMultiChannel: opts.enableMultiChannel === true,
        onSignal: opts.onSignal,
        onConnection: opts.onConnection,
      });
    } catch (err) {
      done(false);
      throw createFailure(err);
    }
    this.#index.add(tube, opts.conversationId);
    try {
      const result: CreateTubeResult = { tubeId: tube.id, ...(await tube.start()) };
      done(true);
      return result;
    } catch (err) {
      done(false);
      this.#index.remove(tube);
      throw createFailure(err);
    }
  }

  #checkHandlerMode(opts: CreateTubeOptions, mode: string): void {
    if (typeof opts.onConnection !== 'function')
      throw new TubesError(ErrorCode.BAD_ARGUMENT, 'onConnection must be a function');
    if (opts.offer === undefined)
      throw new TubesError(
        ErrorCode.BAD_ARGUMENT,
        'onConnection serves connections the peer opens: it applies to the answering side (createTube with an offer)',
      );
    if (mode !== 'port-forward')
      throw new TubesError(
        ErrorCode.BAD_SETTINGS,
        `onConnection is for tunnel conversations without SOCKS (this one runs in ${mode} mode, whose gateway must dial or relay itself)`,
      );
  }

  /**
   * Opens a connection on the channel of `conversationId` (offering side) whose local end is the returned
   * `stream.Duplex`: no local listener or TCP involved. Resolves when the peer answers ConnectionOpened;
   * rejects with TUBES_ERR_CONNECTION_REFUSED (`closeReason` = the peer's reason) when it refuses. See
   * docs/API.md ("Embedding") for the stream's close semantics. With `workers` the stream is on this thread
   * and its connection in the tube's worker, with flow control across the two.
   */
  async openConnection(conversationId: string, options: OpenConnectionOptions = {}): Promise<TubeStream> {
    const tube =
      options.tubeId !== undefined ? this.#tube(options.tubeId) : this.#index.byConversation(conversationId);
    if (!tube) {
      throw new TubesError(
        ErrorCode.CONVERSATION_NOT_FOUND,
        `No tube found for connection ID: ${conversationId}`,
      );
    }
    const d = options.destination;
    let tail: Uint8Array | undefined;
    if (d !== undefined) {
      try {
        tail = encodeOpenConnectionTail(d.host, d.port);
      } catch (err) {
        throw new TubesError(ErrorCode.BAD_ARGUMENT, `Bad destination: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    return tube.openConnection(conversationId, options.signal, tail);
  }

  /**
   * This registry's metrics as a prom-client `Registry` (its own, never prom-client's global one), for a
   * host that mounts it beside its other metrics (`registry.metrics()` gives the Prometheus text).
   */
  metricsRegistry(): PromRegistry {
    this.#prometheus ??= prometheusRegistry({
      snapshot: () => this.#backend.metrics(),
      admissionRejections: () => this.#admission.rejections,
      reasonName: (code) => closeReasonInfo(code).name,
    });
    return this.#prometheus;
  }

  /** The Prometheus text exposition of this registry's metrics (content type: `metricsContentType`). */
  metrics(): Promise<string> {
    return this.metricsRegistry().metrics();
  }

  /** Content-Type header for the text `metrics()` returns. */
  get metricsContentType(): string {
    return this.metricsRegistry().contentType;
  }

  /** `prefix`: the original's wording for some methods, e.g. `Failed to get tube status: `. */
  #tube(tubeId: string, prefix = ''): TubeHandle {
    const tube = this.#index.get(tubeId);
    if (!tube) throw new TubesError(ErrorCode.TUBE_NOT_FOUND, `${prefix}Tube not found: ${tubeId}`);
    return tube;
  }

  async setRemoteDescription(
    tubeId: string,
    sdpBase64: string,
    isAnswer = false,
  ): Promise<string | undefined> {
    const tube = this.#tube(tubeId);
    return tube.setRemoteDescription(decodeSdpBase64(sdpBase64), isAnswer);
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
    return this.#tube(tubeId, 'Failed to get connection state: ').connectionState;
  }

  getTubeStatus(tubeId: string): TubeStatus {
    return this.#tube(tubeId, 'Failed to get tube status: ').status;
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
   * data-channel bytes of all its channels. `packet_loss_rate`: the share of our SCTP DATA transmissions
   * that were retransmissions since the tube connected (0 before any, or without the werift patches).
   * `selected_candidate_pair`: the nominated ICE pair (`local.type` `relay` = through TURN, with
   * `relay_protocol` udp/tcp/tls), null before ICE has one.
   */
  async getConnectionStats(tubeId: string): Promise<ConnectionStats> {
    return this.#tube(tubeId).connectionStats();
  }

  /**
   * Live counters of one conversation's channel, or null if unknown. With `workers`, as last pushed by the
   * tube's worker (at most ~100 ms old).
   */
  getLiveStats(conversationId: string, tubeId?: string): LiveStats | null {
    const tube = tubeId !== undefined ? this.#index.get(tubeId) : this.#index.byConversation(conversationId);
    return tube?.liveStats(conversationId) ?? null;
  }

  /**
   * `{ tube_id, conversation_id, quality, rtt_ms, packet_loss_rate, active_alerts, error_rate,
   * ice_connection_state }` of the tube's own channel, or null if unknown.
   */
  getConnectionHealth(tubeId: string): Record<string, unknown> | null {
    const tube = this.#index.get(tubeId);
    if (!tube) return null;
    for (const conversationId of tube.conversationIds()) {
      const stats = tube.liveStats(conversationId);
      if (stats) return connectionHealthOf(stats);
    }
    return null;
  }

  /** The original's aggregated metrics over every channel of every tube (see docs/API.md). */
  getAggregatedMetrics(): AggregatedMetrics {
    const all: LiveStats[] = [];
    for (const tubeId of this.#index.ids()) {
      const tube = this.#index.get(tubeId);
      if (!tube) continue;
      for (const conversationId of tube.conversationIds()) {
        const stats = tube.liveStats(conversationId);
        if (stats) all.push(stats);
      }
    }
    return aggregatedMetricsOf(all, this.#index.size);
  }

  async cleanupTubes(tubeIds: string[]): Promise<void> {
    await Promise.all(
      tubeIds.map((id) =>
        this.#index
          .get(id)
          ?.close(CloseConnectionReason.Normal)
          .catch(() => {}),
      ),
    );
  }

  /** Closes every tube; with `workers`, then ends the workers (the next createTube starts fresh ones). */
  async cleanupAll(): Promise<void> {
    await this.cleanupTubes(this.allTubeIds());
    await this.#backend.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.cleanupAll();
  }
}
