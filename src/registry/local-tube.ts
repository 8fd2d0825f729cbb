/** One in-thread tube as the registry's index holds it: a Tube (tube.ts) behind the TubeHandle surface. */
import type { TubeStream } from '../channel/tube-stream.ts';
import { ErrorCode, TubesError } from '../errors.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import type { ChannelSpec, ConnectionStats, LiveStats, StartedTube, TubeHandle } from './backend.ts';
import { liveStatsOf } from './live-stats.ts';
import type { Tube, TubeStatus } from './tube.ts';

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
   * data-channel bytes of all its channels, and the share of our SCTP DATA transmissions that were
   * retransmissions (docs/API.md).
   */
  async connectionStats(): Promise<ConnectionStats> {
    const s = await this.tube.connectionStats();
    return {
      packet_loss_rate: s.packetLossRate,
      rtt_ms: s.rttMs ?? null,
      bytes_sent: s.bytesSent,
      bytes_received: s.bytesReceived,
      selected_candidate_pair: s.selectedPair
        ? {
            local: {
              type: s.selectedPair.local.type,
              address: s.selectedPair.local.address,
              port: s.selectedPair.local.port,
              protocol: s.selectedPair.local.protocol,
              ...(s.selectedPair.local.relayProtocol
                ? { relay_protocol: s.selectedPair.local.relayProtocol }
                : {}),
            },
            remote: s.selectedPair.remote,
          }
        : null,
    };
  }

  conversationIds(): string[] {
    return this.tube.conversationIds();
  }

  liveStats(conversationId: string): LiveStats | null {
    const tube = this.tube;
    const channel = tube.channel(conversationId);
    if (!channel) return null;
    const status = tube.status;
    return {
      ...liveStatsOf(conversationId, channel.stats(), {
        tubeId: tube.id,
        establishedAt: tube.createdAt,
        iceConnectionState: tube.connectionState,
        dtlsReady: status === 'ready' || status === 'active',
        activeDataChannels: tube.channels().filter((c) => !c.ended).length,
        role: channel.role,
        packetLossRate: tube.packetLossRate,
      }),
      connection_lost: tube.connectivityLost,
      ice_restarts: tube.iceRestarts,
      buffered_bytes: tube.bufferedBytes(),
    };
  }

  openConnection(
    conversationId: string,
    signal: AbortSignal | undefined,
    tail: Uint8Array | undefined,
  ): Promise<TubeStream> {
    const channel = this.tube.channel(conversationId);
    if (!channel) {
      return Promise.reject(
        new TubesError(
          ErrorCode.CONVERSATION_NOT_FOUND,
          `No channel ${conversationId} on tube ${this.tube.id}`,
        ),
      );
    }
    return channel.openStream(signal, tail);
  }
}
