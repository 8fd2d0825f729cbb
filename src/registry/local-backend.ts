/** Tubes on this thread: each handle is a Tube (tube.ts) with the registry's options applied. */
import { type Logger, silentLogger } from '../log.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import type { PeerOptions } from '../webrtc/peer.ts';
import type {
  BackendHost,
  ChannelSpec,
  ConnectionStats,
  LiveStats,
  StartedTube,
  TubeBackend,
  TubeHandle,
  TubeSpec,
} from './backend.ts';
import type { TubeRegistryOptions } from './registry.ts';
import { Tube, type TubeStatus } from './tube.ts';

export type LocalOptions = Omit<TubeRegistryOptions, 'workers' | 'workerResourceLimits'>;

export class LocalBackend implements TubeBackend {
  readonly #options: LocalOptions;
  readonly #logger: Logger;
  readonly #host: BackendHost;

  constructor(options: LocalOptions, host: BackendHost) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger();
    this.#host = host;
  }

  open(spec: TubeSpec): LocalTube {
    const handle: LocalTube = new LocalTube(
      new Tube(
        {
          id: spec.id,
          conversationId: spec.conversationId,
          settings: spec.parsed,
          trickleIce: spec.trickleIce,
          peer: this.#peerOptions(spec),
          logger: this.#logger,
          limits: this.#options.limits,
          protocolExtensions: this.#options.protocolExtensions,
          onSignal: spec.onSignal,
          gatherTimeoutMs: this.#options.iceGatherTimeoutMs ?? 30_000,
          onClosed: () => this.#host.closed(handle),
        },
        spec.offerSdp === undefined ? 'server' : 'client',
      ),
      spec.offerSdp,
    );
    return handle;
  }

  async shutdown(): Promise<void> {}

  #peerOptions(spec: TubeSpec): PeerOptions {
    const s = spec.settings;
    const servers = [...(spec.iceServers ?? this.#options.iceServers ?? [])];
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
      relayOnly: spec.turnOnly === true || s['turn_only'] === true,
      hostAddresses: this.#options.hostAddresses,
      hostAddressesOnly: this.#options.hostAddressesOnly,
      ipv6: this.#options.ipv6,
      portRange: this.#options.portRange,
      weriftPatches: this.#options.weriftPatches,
      logger: this.#logger,
    };
  }
}

/** A Tube behind the TubeHandle surface. */
export class LocalTube implements TubeHandle {
  readonly tube: Tube;
  readonly #offerSdp: string | undefined;

  constructor(tube: Tube, offerSdp: string | undefined) {
    this.tube = tube;
    this.#offerSdp = offerSdp;
  }

  get id(): string {
    return this.tube.id;
  }

  get status(): TubeStatus {
    return this.tube.status;
  }

  get connectionState(): string {
    return this.tube.connectionState;
  }

  async start(): Promise<StartedTube> {
    try {
      return this.#offerSdp === undefined
        ? await this.tube.startServer()
        : await this.tube.startClient(this.#offerSdp);
    } catch (err) {
      await this.tube.close(CloseConnectionReason.Error);
      throw err;
    }
  }

  addChannel(channel: ChannelSpec): Promise<string | undefined> {
    return this.tube.addLocalChannel(channel.conversationId, channel.parsed);
  }

  setRemoteDescription(sdp: string, isAnswer: boolean): Promise<string | undefined> {
    return this.tube.setRemoteDescription(sdp, isAnswer);
  }

  addIceCandidate(candidate: string): Promise<void> {
    return this.tube.addIceCandidate(candidate);
  }

  createOffer(): Promise<string> {
    return this.tube.createOffer();
  }

  createAnswer(): Promise<string> {
    return this.tube.createAnswer();
  }

  restartIce(): Promise<string> {
    return this.tube.restartIce();
  }

  closeChannel(conversationId: string, reason: number): Promise<void> {
    return this.tube.closeChannel(conversationId, reason);
  }

  close(reason: number): Promise<void> {
    return this.tube.close(reason);
  }

  /**
   * `{ packet_loss_rate, rtt_ms, bytes_sent, bytes_received }` of the tube: RTT of the nominated ICE pair,
   * data-channel bytes of all its channels. `packet_loss_rate` is 0: werift exposes no loss figure for data
   * channels (SCTP retransmits; the original reported 0 for data-only sessions too).
   */
  async connectionStats(): Promise<ConnectionStats> {
    const s = await this.tube.connectionStats();
    return {
      packet_loss_rate: 0,
      rtt_ms: s.rttMs ?? null,
      bytes_sent: s.bytesSent,
      bytes_received: s.bytesReceived,
    };
  }

  liveStats(conversationId: string): LiveStats | null {
    const channel = this.tube.channel(conversationId);
    if (!channel) return null;
    const s = channel.stats();
    return {
      conversation_id: conversationId,
      tube_id: this.tube.id,
      established_at: this.tube.createdAt,
      messages_sent: s.messagesSent,
      messages_received: s.messagesReceived,
      total_bytes_sent: s.bytesSent,
      total_bytes_received: s.bytesReceived,
      avg_rtt_ms: s.rttMs ?? null,
      active_connections: s.activeConnections,
      frames_discarded: s.framesDiscarded,
    };
  }
}
