/**
 * The numbers behind a registry's metrics, as plain counters (no metrics library here): channels and tubes
 * report events to a `MetricsSink` (one per registry, or per worker thread), never per frame. Traffic is not
 * counted here: channels keep their own per-frame counters, read when a scrape asks (`TrafficTotals`) and
 * added to `retired` when their tube goes, so totals stay monotonic.
 *
 * A `MetricsSnapshot` is what a scrape reads: plain JSON, so a worker thread can send its own and the
 * registry's thread can add them up (src/registry/worker-backend.ts).
 */

/** Traffic of one or more channels. */
export interface TrafficTotals {
  /** Payload bytes the connections sent to the peer (read from their local side). */
  connectionBytesToPeer: number;
  /** Payload bytes the connections received from the peer. */
  connectionBytesFromPeer: number;
  /** Data-channel messages (frames) and their bytes, each way. */
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  framesDiscarded: number;
}

export function zeroTraffic(): TrafficTotals {
  return {
    connectionBytesToPeer: 0,
    connectionBytesFromPeer: 0,
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    framesDiscarded: 0,
  };
}

export function addTraffic(into: TrafficTotals, from: TrafficTotals): void {
  into.connectionBytesToPeer += from.connectionBytesToPeer;
  into.connectionBytesFromPeer += from.connectionBytesFromPeer;
  into.messagesSent += from.messagesSent;
  into.messagesReceived += from.messagesReceived;
  into.bytesSent += from.bytesSent;
  into.bytesReceived += from.bytesReceived;
  into.framesDiscarded += from.framesDiscarded;
}

/** Events a channel reports (none per frame). */
export interface ChannelObserver {
  /** A connection opened (ConnectionOpened sent or received). */
  connectionOpened(): void;
  /** A connection is gone; `reason` is the CloseConnection reason it closed with. */
  connectionClosed(reason: number): void;
  /** FlowPause sent to the peer (`sent`) or received from it (`received`). */
  flowPause(direction: 'sent' | 'received'): void;
  /** A keepalive round trip, in milliseconds. */
  rtt(ms: number): void;
}

/** Events a tube reports. */
export interface TubeObserver {
  /** The tube's first data channel opened, `ms` after the tube was created. */
  ready(ms: number): void;
  /** An ICE restart was started on the tube (for the ICE-restart code to call). */
  iceRestart(): void;
}

/** What a scrape reads (plain JSON; snapshots of several threads add up with `addSnapshot`). */
export interface MetricsSnapshot {
  tubesByStatus: Record<string, number>;
  connectionsOpen: number;
  connectionsOpened: number;
  /** close reason code → connections closed with it. */
  connectionsClosed: Record<string, number>;
  traffic: TrafficTotals;
  flowPausesSent: number;
  flowPausesReceived: number;
  iceRestarts: number;
  /** Hot-path engine in use, per thread (`js`, `wasm`, `wasm-simd`) → threads. */
  engines: Record<string, number>;
  /** Observations since the previous snapshot was taken (histograms are fed from these). */
  rttMs: number[];
  readyMs: number[];
}

/** Observations kept between two scrapes at most (older ones are dropped if nobody scrapes). */
const MAX_PENDING_OBSERVATIONS = 4096;

/** The counters of one registry (or one worker thread of it). */
export class MetricsSink implements ChannelObserver, TubeObserver {
  connectionsOpened = 0;
  readonly connectionsClosed = new Map<number, number>();
  flowPausesSent = 0;
  flowPausesReceived = 0;
  iceRestarts = 0;
  /** Traffic of channels whose tube is gone. */
  readonly retired: TrafficTotals = zeroTraffic();
  #rtt: number[] = [];
  #ready: number[] = [];

  connectionOpened(): void {
    this.connectionsOpened++;
  }

  connectionClosed(reason: number): void {
    this.connectionsClosed.set(reason, (this.connectionsClosed.get(reason) ?? 0) + 1);
  }

  flowPause(direction: 'sent' | 'received'): void {
    if (direction === 'sent') this.flowPausesSent++;
    else this.flowPausesReceived++;
  }

  rtt(ms: number): void {
    if (this.#rtt.length >= MAX_PENDING_OBSERVATIONS) this.#rtt.shift();
    this.#rtt.push(ms);
  }

  ready(ms: number): void {
    if (this.#ready.length >= MAX_PENDING_OBSERVATIONS) this.#ready.shift();
    this.#ready.push(ms);
  }

  iceRestart(): void {
    this.iceRestarts++;
  }

  /**
   * The counters plus what the caller knows of live tubes (status counts, open connections, traffic of
   * live channels, engine). Takes the pending observations.
   */
  snapshot(live: {
    tubesByStatus: Record<string, number>;
    connectionsOpen: number;
    traffic: TrafficTotals;
    engine: string;
  }): MetricsSnapshot {
    const traffic = zeroTraffic();
    addTraffic(traffic, this.retired);
    addTraffic(traffic, live.traffic);
    const rttMs = this.#rtt;
    const readyMs = this.#ready;
    this.#rtt = [];
    this.#ready = [];
    return {
      tubesByStatus: { ...live.tubesByStatus },
      connectionsOpen: live.connectionsOpen,
      connectionsOpened: this.connectionsOpened,
      connectionsClosed: Object.fromEntries(this.connectionsClosed),
      traffic,
      flowPausesSent: this.flowPausesSent,
      flowPausesReceived: this.flowPausesReceived,
      iceRestarts: this.iceRestarts,
      engines: { [live.engine]: 1 },
      rttMs,
      readyMs,
    };
  }
}

export function emptySnapshot(): MetricsSnapshot {
  return {
    tubesByStatus: {},
    connectionsOpen: 0,
    connectionsOpened: 0,
    connectionsClosed: {},
    traffic: zeroTraffic(),
    flowPausesSent: 0,
    flowPausesReceived: 0,
    iceRestarts: 0,
    engines: {},
    rttMs: [],
    readyMs: [],
  };
}

function addRecord(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Adds `from` into `into` (counts, gauges and observations alike). */
export function addSnapshot(into: MetricsSnapshot, from: MetricsSnapshot): void {
  addRecord(into.tubesByStatus, from.tubesByStatus);
  into.connectionsOpen += from.connectionsOpen;
  into.connectionsOpened += from.connectionsOpened;
  addRecord(into.connectionsClosed, from.connectionsClosed);
  addTraffic(into.traffic, from.traffic);
  into.flowPausesSent += from.flowPausesSent;
  into.flowPausesReceived += from.flowPausesReceived;
  into.iceRestarts += from.iceRestarts;
  addRecord(into.engines, from.engines);
  into.rttMs.push(...from.rttMs);
  into.readyMs.push(...from.readyMs);
}
