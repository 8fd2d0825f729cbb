/**
 * A registry's metrics in Prometheus form, through prom-client: one `Registry` per TubeRegistry (never
 * prom-client's global default registry, so two TubeRegistries in one process never mix, and the host
 * decides where the metrics are mounted). Values are read when scraped: the first collector takes one
 * `MetricsSnapshot` (counters.ts) and every metric of that scrape reads it; histograms are fed the
 * observations the snapshot carries.
 *
 * Names and labels are listed in docs/API.md ("Metrics").
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { emptySnapshot, type MetricsSnapshot } from './counters.ts';

export interface PrometheusSource {
  /** Everything but admission, as of now (takes pending observations). */
  snapshot(): MetricsSnapshot;
  /** createTube calls refused with TUBES_ERR_OVERLOADED. */
  admissionRejections(): number;
  /** Name of a close reason code (e.g. 9 → ConnectionLost). */
  reasonName(code: number): string;
}

/** Buckets (seconds) of the keepalive RTT histogram. */
const RTT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5];
/** Buckets (seconds) of the create→ready histogram. */
const READY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

const TUBE_STATUSES = ['initializing', 'connecting', 'active', 'ready', 'closed', 'failed', 'disconnected'];

export function prometheusRegistry(source: PrometheusSource): Registry {
  const registry = new Registry();
  let now: MetricsSnapshot = emptySnapshot();
  const registers = [registry];

  new Gauge({
    name: 'tubes_tubes',
    help: 'Tubes by status.',
    labelNames: ['status'],
    registers,
    collect() {
      now = source.snapshot(); // first collector of every scrape: the others read this snapshot
      this.reset();
      for (const status of TUBE_STATUSES) this.set({ status }, now.tubesByStatus[status] ?? 0);
      for (const [status, n] of Object.entries(now.tubesByStatus))
        if (!TUBE_STATUSES.includes(status)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'tubes_connections_open',
    help: 'Tunnelled connections currently open (all channels, both roles).',
    registers,
    collect() {
      this.set(now.connectionsOpen);
    },
  });
  new Counter({
    name: 'tubes_connections_opened_total',
    help: 'Tunnelled connections opened (ConnectionOpened sent or received).',
    registers,
    collect() {
      this.reset();
      this.inc(now.connectionsOpened);
    },
  });
  new Counter({
    name: 'tubes_connections_closed_total',
    help: 'Tunnelled connections closed, by CloseConnection reason.',
    labelNames: ['reason', 'reason_name'],
    registers,
    collect() {
      this.reset();
      for (const [code, n] of Object.entries(now.connectionsClosed))
        this.inc({ reason: code, reason_name: source.reasonName(Number(code)) }, n);
    },
  });
  new Counter({
    name: 'tubes_connection_bytes_total',
    help: 'Payload bytes of tunnelled connections: to_peer (read locally, sent) and from_peer (received, delivered locally).',
    labelNames: ['direction'],
    registers,
    collect() {
      this.reset();
      this.inc({ direction: 'to_peer' }, now.traffic.connectionBytesToPeer);
      this.inc({ direction: 'from_peer' }, now.traffic.connectionBytesFromPeer);
    },
  });
  new Counter({
    name: 'tubes_channel_messages_total',
    help: 'Data-channel messages (frames), sent and received.',
    labelNames: ['direction'],
    registers,
    collect() {
      this.reset();
      this.inc({ direction: 'sent' }, now.traffic.messagesSent);
      this.inc({ direction: 'received' }, now.traffic.messagesReceived);
    },
  });
  new Counter({
    name: 'tubes_channel_bytes_total',
    help: 'Data-channel bytes (frames with their headers), sent and received.',
    labelNames: ['direction'],
    registers,
    collect() {
      this.reset();
      this.inc({ direction: 'sent' }, now.traffic.bytesSent);
      this.inc({ direction: 'received' }, now.traffic.bytesReceived);
    },
  });
  new Counter({
    name: 'tubes_frames_discarded_total',
    help: 'Frames discarded (corrupt frame stream, data for an unknown connection).',
    registers,
    collect() {
      this.reset();
      this.inc(now.traffic.framesDiscarded);
    },
  });
  new Counter({
    name: 'tubes_flow_pauses_total',
    help: 'Per-connection FlowPause messages: sent (a local reader fell behind) and received (the peer asked us to stop reading).',
    labelNames: ['direction'],
    registers,
    collect() {
      this.reset();
      this.inc({ direction: 'sent' }, now.flowPausesSent);
      this.inc({ direction: 'received' }, now.flowPausesReceived);
    },
  });
  new Histogram({
    name: 'tubes_keepalive_rtt_seconds',
    help: 'Round-trip time of channel keepalives.',
    buckets: RTT_BUCKETS,
    registers,
    collect() {
      for (const ms of now.rttMs) this.observe(ms / 1000);
      now.rttMs = [];
    },
  });
  new Counter({
    name: 'tubes_ice_restarts_total',
    help: 'ICE restarts started.',
    registers,
    collect() {
      this.reset();
      this.inc(now.iceRestarts);
    },
  });
  new Histogram({
    name: 'tubes_create_to_ready_seconds',
    help: 'Time from createTube until the tube was ready (its first data channel open).',
    buckets: READY_BUCKETS,
    registers,
    collect() {
      for (const ms of now.readyMs) this.observe(ms / 1000);
      now.readyMs = [];
    },
  });
  new Counter({
    name: 'tubes_admission_rejections_total',
    help: 'createTube calls refused because too many creations were in flight (TUBES_ERR_OVERLOADED).',
    registers,
    collect() {
      this.reset();
      this.inc(source.admissionRejections());
    },
  });
  new Gauge({
    name: 'tubes_hotpath_engine',
    help: 'Threads of this registry by the hot-path engine they use (js, wasm, wasm-simd).',
    labelNames: ['engine'],
    registers,
    collect() {
      this.reset();
      for (const [engine, n] of Object.entries(now.engines)) this.set({ engine }, n);
    },
  });
  return registry;
}
