/**
 * The original's live-stats shapes (`get_live_stats`, `get_connection_health`, `get_aggregated_metrics`)
 * built from a channel's own counters and its tube's state. RTT figures come from the channel keepalive
 * (avg/p95/p99 over the last 64 round trips); the loss figure is the tube's share of SCTP DATA
 * retransmissions; werift gives no jitter figure for data channels, so that reads 0, and there are no alerts
 * (the original's were informational only).
 */
import type { ChannelStats } from '../channel/types.ts';
import { type AggregatedMetrics, aggregatedMetrics, connectionQuality } from '../metrics/aggregated.ts';
import type { LiveStats } from './backend.ts';

export interface TubeFacts {
  tubeId: string;
  establishedAt: number;
  iceConnectionState: string;
  dtlsReady: boolean;
  activeDataChannels: number;
  role: 'server' | 'client';
  /** Share of the tube's SCTP DATA transmissions that were retransmissions (0 when unknown). */
  packetLossRate?: number | undefined;
}

/** `get_live_stats` of one channel: the original's keys, then ours. */
export function liveStatsOf(conversationId: string, s: ChannelStats, tube: TubeFacts): LiveStats {
  const seconds = Math.max(s.uptimeMs / 1000, 0.001);
  const bytesPerSecond = (s.bytesSent + s.bytesReceived) / seconds;
  const rtt = s.rttAvgMs;
  const loss = tube.packetLossRate ?? 0;
  return {
    conversation_id: conversationId,
    tube_id: tube.tubeId,
    established_at: tube.establishedAt,
    messages_sent: s.messagesSent,
    messages_received: s.messagesReceived,
    total_bytes_sent: s.bytesSent,
    total_bytes_received: s.bytesReceived,
    avg_rtt_ms: rtt ?? null,
    p95_latency_ms: s.rttP95Ms ?? null,
    p99_latency_ms: s.rttP99Ms ?? null,
    current_message_latency_ms: s.rttMs ?? null,
    webrtc_stats: {
      rtt_ms: s.rttMs ?? null,
      jitter_ms: 0,
      packet_loss_rate: loss,
      current_bitrate: Math.round(bytesPerSecond * 8),
      ice_connection_state: tube.iceConnectionState,
      dtls_ready: tube.dtlsReady,
      active_data_channels: tube.activeDataChannels,
      ice_stats: {},
      connection_legs: {},
    },
    connection_quality: connectionQuality(rtt, loss),
    active_alert_count: 0,
    error_rate: s.framesDiscarded / seconds,
    total_errors: s.framesDiscarded,
    retry_count: 0,
    message_throughput: (s.messagesSent + s.messagesReceived) / seconds,
    bandwidth_utilization: bytesPerSecond,
    // ours
    role: tube.role,
    active_connections: s.activeConnections,
    frames_discarded: s.framesDiscarded,
    connection_bytes_to_peer: s.connectionBytesToPeer,
    connection_bytes_from_peer: s.connectionBytesFromPeer,
    flow_pauses_sent: s.flowPausesSent,
    flow_pauses_received: s.flowPausesReceived,
  };
}

/** `get_connection_health` of a tube, from the live stats of its channel. */
export function connectionHealthOf(stats: LiveStats): Record<string, unknown> {
  const webrtc = stats['webrtc_stats'] as Record<string, unknown>;
  return {
    tube_id: stats['tube_id'],
    conversation_id: stats['conversation_id'],
    quality: stats['connection_quality'],
    rtt_ms: stats['avg_rtt_ms'],
    packet_loss_rate: webrtc['packet_loss_rate'],
    active_alerts: 0,
    error_rate: stats['error_rate'],
    ice_connection_state: webrtc['ice_connection_state'],
  };
}

/**
 * `get_aggregated_metrics` over the live stats of every channel (the same object a peer's MetricsRequest type 0
 * gets for one tube: src/metrics/aggregated.ts).
 */
export function aggregatedMetricsOf(all: LiveStats[], activeTubes: number): AggregatedMetrics {
  return aggregatedMetrics(
    all.map((s) => ({
      rttMs: typeof s['avg_rtt_ms'] === 'number' ? s['avg_rtt_ms'] : undefined,
      messagesSent: s['messages_sent'] as number,
      messagesReceived: s['messages_received'] as number,
      bytesSent: s['total_bytes_sent'] as number,
      bytesReceived: s['total_bytes_received'] as number,
      establishedAt: s['established_at'] as number,
      lossRate: (s['webrtc_stats'] as Record<string, unknown> | undefined)?.['packet_loss_rate'] as
        | number
        | undefined,
    })),
    activeTubes,
  );
}
