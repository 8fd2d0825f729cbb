/** What a channel is configured with and reports: limits, clock, options, callbacks, stats, outcomes. */
import type { Logger } from '../log.ts';
import type { AggregatedMetrics } from '../metrics/aggregated.ts';
import type { ChannelObserver } from '../metrics/counters.ts';
import type { Opener } from './opener.ts';
import type { DataChannelPort } from './port.ts';
import type { TubeStream } from './tube-stream.ts';

export interface ChannelLimits {
  /** Pause TCP reads while the data channel buffers more than this. */
  sendHighWater: number;
  /** Resume TCP reads when the data channel buffer falls to this. */
  sendLowWater: number;
  flowHighWater: number;
  maxPendingBytes: number;
  maxFramePayload: number;
  keepaliveIntervalMs: number;
  /** Nothing received for this long: the peer is gone. */
  keepaliveTimeoutMs: number;
  /** Connections a peer may have open on one channel at once (gateway side); more are refused. */
  maxConnections: number;
  /**
   * Gateway side: a target that does not accept within this gets CloseConnection (10) instead of a hang.
   * Bounds both an opener that has not produced a socket yet and the TCP connect of the socket it dialed.
   */
  connectTimeoutMs: number;
}

export const DEFAULT_LIMITS: ChannelLimits = {
  sendHighWater: 1024 * 1024,
  sendLowWater: 256 * 1024,
  flowHighWater: 1024 * 1024,
  maxPendingBytes: 16 * 1024 * 1024,
  maxFramePayload: 16 * 1024 * 1024,
  keepaliveIntervalMs: 5_000,
  keepaliveTimeoutMs: 30_000,
  maxConnections: 4096,
  connectTimeoutMs: 30_000,
};

/** Largest frame we send, whatever max-message-size the peer advertises. */
export const MAX_MESSAGE_CAP = 64 * 1024;

/**
 * The time source of a channel's own timers (keepalive, open deadline, a closing connection's progress
 * check) and timestamps. Tests inject a manual clock; the default is the process clock with unref'd timers.
 */
export interface ChannelClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const SYSTEM_CLOCK: ChannelClock = {
  now: Date.now,
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
  setInterval(callback, ms) {
    const timer = setInterval(callback, ms);
    timer.unref();
    return timer;
  },
  clearInterval(handle) {
    clearInterval(handle as NodeJS.Timeout);
  },
};

/**
 * How a channel ended, as the `channel_closed` signal reports it: `normal_exit`, or
 * `critical_upstream_closed: <channel id>` when the recorded close reason is critical.
 */
export type ChannelOutcome = 'normal_exit' | `critical_upstream_closed: ${string}`;

export interface ChannelOptions {
  port: DataChannelPort;
  role: 'server' | 'client';
  logger: Logger;
  verbose: boolean;
  limits?: Partial<ChannelLimits> | undefined;
  /** Default: the process clock. */
  clock?: ChannelClock | undefined;
  opener?: Opener | undefined;
  /**
   * Gateway side, handler mode: each OpenConnection becomes a TubeStream given to this function instead of
   * a dialed socket (the opener is not used). Throwing, or destroying the stream before returning, refuses
   * the connection; otherwise ConnectionOpened is sent as soon as it returns (or, when it returns a
   * DeferredAccept (tube-stream.ts, worker mode), once that resolves).
   */
  handler?: ((stream: TubeStream, connNo: number) => void) | undefined;
  /** Connection events for the registry's metrics. */
  observer?: ChannelObserver | undefined;
  /** Answer capability probes and use our protocol extensions (default true). */
  extensions?: boolean | undefined;
  /** The original's FRAGMENTATION capability (`enableMultiChannel`): large frames out as fragments, fragments in. */
  fragmentation?: boolean | undefined;
  /** The channel ended (once). */
  onEnd(outcome: ChannelOutcome, reason: number | undefined): void;
  /** No traffic from the peer for keepaliveTimeoutMs. */
  onPeerTimeout(): void;
  onOpen(): void;
  /** The data channel itself closed (the peer closed it, or the transport died). */
  onTransportClose(): void;
  /** Tube signals raised by modes. */
  signal?(kind: 'guacd_instruction', data: string): void;
  /** MetricsRequest type 0 hook: the aggregate the tube answers with (default: this channel alone). */
  aggregatedMetrics?(): AggregatedMetrics;
}

export interface LocalConnectionCallbacks {
  /** The gateway answered ConnectionOpened. */
  opened?(): void;
  /** The gateway refused or closed the connection before it opened. */
  failed?(reason: number, message: string | undefined): void;
}

export interface ChannelStats {
  channelId: string;
  activeConnections: number;
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  framesDiscarded: number;
  rttMs: number | undefined;
  /** Over the last keepalive round trips (up to 64). */
  rttAvgMs: number | undefined;
  rttP95Ms: number | undefined;
  rttP99Ms: number | undefined;
  peerCapabilities: number | undefined;
  /** Payload bytes of this channel's connections (closed ones included), each way. */
  connectionBytesToPeer: number;
  connectionBytesFromPeer: number;
  /** FlowPause messages sent and received. */
  flowPausesSent: number;
  flowPausesReceived: number;
  /** Milliseconds since the channel was created. */
  uptimeMs: number;
}
