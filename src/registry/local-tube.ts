/** One in-thread tube as the registry's index holds it: a Tube (tube.ts) behind the TubeHandle surface. */
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import type { ChannelSpec, ConnectionStats, LiveStats, StartedTube, TubeHandle } from './backend.ts';
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
      connection_lost: this.tube.connectivityLost,
      ice_restarts: this.tube.iceRestarts,
      buffered_bytes: this.tube.bufferedBytes(),
    };
  }
}
