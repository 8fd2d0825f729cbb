/**
 * The original's live-stats shapes (`get_live_stats`, `get_connection_health`, `get_aggregated_metrics`)
 * built from a channel's own counters and its tube's state. RTT figures come from the channel keepalive
 * (avg/p95/p99 over the last 64 round trips); werift gives no jitter or loss figure for data channels, so
 * those read 0, and there are no alerts (the original's were informational only).
 */
import type { ChannelStats } from '../channel/types.ts';
import type { LiveStats } from './backend.ts';

export type ConnectionQuality = 'excellent' | 'good' | 'fair' | 'poor';

/** The original's rule: loss > 5 % poor; RTT ≤ 50 ms and jitter ≤ 10 excellent; ≤ 100/20 good; ≤ 200 fair. */
export function connectionQuality(rttMs: number | undefined, jitterMs = 0, loss = 0): ConnectionQuality {
  if (loss > 0.05 || rttMs === undefined) return 'poor';
  if (rttMs <= 50 && jitterMs <= 10) return 'excellent';
  if (rttMs <= 100 && jitterMs <= 20) return 'good';
  if (rttMs <= 200) return 'fair';
  return 'poor';
}

export interface TubeFacts {
  tubeId: string;
  establishedAt: number;
  iceConnectionState: string;
  dtlsReady: boolean;
  activeDataChannels: number;
  role: 'server' | 'client';
}

/** `get_live_stats` of one channel: the original's keys, then ours. */
export function liveStatsOf(conversationId: string, s: ChannelStats, tube: TubeFacts): LiveStats {
  const seconds = Math.max(s.uptimeMs / 1000, 0.001);
  const bytesPerSecond = (s.bytesSent + s.bytesReceived) / seconds;
  const rtt = s.rttAvgMs;
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
      packet_loss_rate: 0,
      current_bitrate: Math.round(bytesPerSecond * 8),
      ice_connection_state: tube.iceConnectionState,
      dtls_ready: tube.dtlsReady,
      active_data_channels: tube.activeDataChannels,
      ice_stats: {},
      connection_legs: {},
    },
    connection_quality: connectionQuality(rtt),
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
    packet_loss_rate: 0,
    active_alerts: 0,
    error_rate: stats['error_rate'],
    ice_connection_state: webrtc['ice_connection_state'],
  };
}

/** `get_aggregated_metrics` over the live stats of every channel. */
export function aggregatedMetricsOf(all: LiveStats[], activeTubes: number): Record<string, unknown> {
  const quality = { excellent: 0, good: 0, fair: 0, poor: 0 };
  let rttSum = 0;
  let rttN = 0;
  let throughput = 0;
  let bandwidth = 0;
  let connections = 0;
  for (const s of all) {
    quality[s['connection_quality'] as ConnectionQuality]++;
    const rtt = s['avg_rtt_ms'];
    if (typeof rtt === 'number') {
      rttSum += rtt;
      rttN++;
    }
    throughput += s['message_throughput'] as number;
    bandwidth += s['bandwidth_utilization'] as number;
    connections += s['active_connections'] as number;
  }
  return {
    timestamp: new Date().toISOString(),
    active_connections: connections,
    active_tubes: activeTubes,
    avg_system_rtt_ms: rttN > 0 ? rttSum / rttN : 0,
    avg_packet_loss: 0,
    total_message_throughput: throughput,
    total_bandwidth: bandwidth,
    excellent_connections: quality.excellent,
    good_connections: quality.good,
    fair_connections: quality.fair,
    poor_connections: quality.poor,
    total_alerts: 0,
    critical_alerts: 0,
    warning_alerts: 0,
    memory_usage_bytes: process.memoryUsage().rss,
    cpu_utilization: 0,
    network_utilization: 0,
  };
}
