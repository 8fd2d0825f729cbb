/**
 * The body of a MetricsResponse to MetricsRequest type 0: the original's aggregated-metrics JSON object, its
 * keys in its order (docs/ORIGINAL.md, "Metrics"). Computed from the channels of the tube the request came
 * in on (the original aggregates its whole process; a peer learns nothing about other tubes here).
 */

/** What one conversation (channel) contributes. */
export interface MetricsSample {
  /** Keepalive round trip, when measured. */
  rttMs: number | undefined;
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** When the conversation started (ms since the epoch). */
  establishedAt: number;
  /** The tube's SCTP retransmission share (0–1), when known. */
  lossRate?: number | undefined;
}

export interface AggregatedMetrics {
  timestamp: string;
  active_connections: number;
  active_tubes: number;
  avg_system_rtt_ms: number;
  avg_packet_loss: number;
  total_message_throughput: number;
  total_bandwidth: number;
  excellent_connections: number;
  good_connections: number;
  fair_connections: number;
  poor_connections: number;
  total_alerts: number;
  critical_alerts: number;
  warning_alerts: number;
  memory_usage_bytes: number;
  cpu_utilization: number;
  network_utilization: number;
}

export type ConnectionQuality = 'excellent' | 'good' | 'fair' | 'poor';

/**
 * The original's quality classes: poor above 5 % loss; excellent ≤ 50 ms RTT and ≤ 10 ms jitter; good ≤ 100 /
 * 20; fair ≤ 200 ms; else poor; poor when the RTT is unknown.
 */
export function connectionQuality(rttMs: number | undefined, lossRate = 0, jitterMs = 0): ConnectionQuality {
  if (lossRate > 0.05 || rttMs === undefined) return 'poor';
  if (rttMs <= 50 && jitterMs <= 10) return 'excellent';
  if (rttMs <= 100 && jitterMs <= 20) return 'good';
  if (rttMs <= 200) return 'fair';
  return 'poor';
}

/**
 * Aggregates samples. Loss is the tube's SCTP retransmission share (0 when unknown), jitter is not measured,
 * there are no alerts, and memory/cpu/network utilisation are 0 as in the original.
 */
export function aggregatedMetrics(
  samples: readonly MetricsSample[],
  activeTubes: number,
  now: number = Date.now(),
): AggregatedMetrics {
  const quality = { excellent: 0, good: 0, fair: 0, poor: 0 };
  let rttSum = 0;
  let rttCount = 0;
  let throughput = 0;
  let bandwidth = 0;
  let lossSum = 0;
  for (const s of samples) {
    const loss = s.lossRate ?? 0;
    lossSum += loss;
    quality[connectionQuality(s.rttMs, loss)]++;
    if (s.rttMs !== undefined) {
      rttSum += s.rttMs;
      rttCount++;
    }
    const seconds = Math.max(0.001, (now - s.establishedAt) / 1000);
    throughput += (s.messagesSent + s.messagesReceived) / seconds;
    bandwidth += (s.bytesSent + s.bytesReceived) / seconds;
  }
  return {
    timestamp: new Date(now).toISOString(),
    active_connections: samples.length,
    active_tubes: activeTubes,
    avg_system_rtt_ms: rttCount > 0 ? rttSum / rttCount : 0,
    avg_packet_loss: samples.length > 0 ? lossSum / samples.length : 0,
    total_message_throughput: throughput,
    total_bandwidth: bandwidth,
    excellent_connections: quality.excellent,
    good_connections: quality.good,
    fair_connections: quality.fair,
    poor_connections: quality.poor,
    total_alerts: 0,
    critical_alerts: 0,
    warning_alerts: 0,
    memory_usage_bytes: 0,
    cpu_utilization: 0,
    network_utilization: 0,
  };
}
