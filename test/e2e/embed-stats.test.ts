/**
 * Live stats with the original's key set, addressable per tube when both tubes of a pair live in one
 * registry; getConnectionHealth / getAggregatedMetrics; setVerboseLogging() reaching channels that already
 * exist, in-thread and in worker mode.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Logger, setVerboseLogging, TubeRegistry } from '../../src/index.ts';
import { type EmbedPair, embedPair } from '../helpers/embed.ts';
import { echoServer, LOOPBACK, waitFor } from '../helpers/tubes.ts';

const ORIGINAL_KEYS = [
  'conversation_id',
  'tube_id',
  'established_at',
  'messages_sent',
  'messages_received',
  'total_bytes_sent',
  'total_bytes_received',
  'avg_rtt_ms',
  'p95_latency_ms',
  'p99_latency_ms',
  'current_message_latency_ms',
  'webrtc_stats',
  'connection_quality',
  'active_alert_count',
  'error_rate',
  'total_errors',
  'retry_count',
  'message_throughput',
  'bandwidth_utilization',
];
const WEBRTC_KEYS = [
  'rtt_ms',
  'jitter_ms',
  'packet_loss_rate',
  'current_bitrate',
  'ice_connection_state',
  'dtls_ready',
  'active_data_channels',
  'ice_stats',
  'connection_legs',
];

let pair: EmbedPair | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  setVerboseLogging(false);
  for (const c of cleanups.splice(0)) await c();
  await pair?.close();
  pair = undefined;
});

describe('live stats', () => {
  it('both tubes in one registry: (conversationId, tubeId) reaches each side of the pair', async () => {
    const registry = new TubeRegistry({ ...LOOPBACK, limits: { keepaliveIntervalMs: 100 } });
    cleanups.push(() => registry.cleanupAll());
    const conv = 'one-registry';
    const offer = await registry.createTube({
      conversationId: conv,
      settings: { conversationType: 'tunnel' },
      trickleIce: false,
    });
    const answer = await registry.createTube({
      conversationId: conv,
      settings: { conversationType: 'tunnel' },
      trickleIce: false,
      offer: offer.offer as string,
      onConnection: (s) => void s.pipe(s),
    });
    await registry.setRemoteDescription(offer.tubeId, answer.answer as string, true);
    await waitFor(
      () =>
        registry.getTubeStatus(offer.tubeId) === 'ready' && registry.getTubeStatus(answer.tubeId) === 'ready',
    );
    const stream = await registry.openConnection(conv, { tubeId: offer.tubeId });
    stream.write('x'.repeat(1000));
    await new Promise((r) => stream.once('data', r));
    // RTT from keepalives (every 100 ms here).
    await waitFor(
      () => typeof registry.getLiveStats(conv, answer.tubeId)?.['avg_rtt_ms'] === 'number',
      5000,
      'rtt',
    );
    // The conversation id alone reaches one of the two tubes; the tube id picks either.
    expect([offer.tubeId, answer.tubeId]).toContain(registry.getLiveStats(conv)?.['tube_id']);
    const server = registry.getLiveStats(conv, offer.tubeId) as Record<string, unknown>;
    const gateway = registry.getLiveStats(conv, answer.tubeId) as Record<string, unknown>;
    expect(server['tube_id']).toBe(offer.tubeId);
    expect(server['role']).toBe('server');
    expect(gateway['tube_id']).toBe(answer.tubeId);
    expect(gateway['role']).toBe('client');
    for (const key of ORIGINAL_KEYS) expect(gateway).toHaveProperty(key);
    for (const key of WEBRTC_KEYS) expect(gateway['webrtc_stats']).toHaveProperty(key);
    expect(gateway['connection_bytes_from_peer']).toBe(1000);
    expect(gateway['active_connections']).toBe(1);
    const rtt = gateway['avg_rtt_ms'] as number;
    expect(gateway['p95_latency_ms'] as number).toBeGreaterThanOrEqual(0);
    expect(gateway['p99_latency_ms'] as number).toBeGreaterThanOrEqual(gateway['p95_latency_ms'] as number);
    expect(gateway['connection_quality']).toBe(
      rtt <= 50 ? 'excellent' : rtt <= 100 ? 'good' : rtt <= 200 ? 'fair' : 'poor',
    );
    expect((gateway['webrtc_stats'] as Record<string, unknown>)['ice_connection_state']).toBe('Connected');
    expect(registry.getLiveStats(conv, 'no-such-tube')).toBeNull();

    const health = registry.getConnectionHealth(answer.tubeId) as Record<string, unknown>;
    expect(Object.keys(health).sort()).toEqual(
      [
        'tube_id',
        'conversation_id',
        'quality',
        'rtt_ms',
        'packet_loss_rate',
        'active_alerts',
        'error_rate',
        'ice_connection_state',
      ].sort(),
    );
    expect(health['tube_id']).toBe(answer.tubeId);
    const agg = registry.getAggregatedMetrics();
    expect(agg['active_tubes']).toBe(2);
    expect(agg['active_connections']).toBe(2); // one connection, seen from both channels
    expect(
      (agg['excellent_connections'] as number) +
        (agg['good_connections'] as number) +
        (agg['fair_connections'] as number) +
        (agg['poor_connections'] as number),
    ).toBe(2);
    stream.destroy();
  }, 30_000);
});

/** A pino-shaped logger at debug level that keeps every message. */
function captureLogger(lines: string[]): Logger {
  const logger: Logger & { level: string } = {
    level: 'debug',
    debug: (_o, msg) => void lines.push(`debug ${msg}`),
    info: (_o, msg) => void lines.push(`info ${msg}`),
    warn: (_o, msg) => void lines.push(`warn ${msg}`),
    error: (_o, msg) => void lines.push(`error ${msg}`),
    child: () => logger,
  };
  return logger;
}

describe('setVerboseLogging reaches existing channels', () => {
  it('in-thread: per-connection debug lines start without recreating anything', async () => {
    const lines: string[] = [];
    pair = await embedPair({
      onConnection: (s) => void s.pipe(s),
      gatewayRegistry: { logger: captureLogger(lines) },
    });
    const closeOne = async (): Promise<void> => {
      const s = await (pair as EmbedPair).client.openConnection('embed-1');
      s.destroy();
      await waitFor(() => (pair as EmbedPair).gateway.getLiveStats('embed-1')?.['active_connections'] === 0);
    };
    await closeOne();
    expect(lines.filter((l) => l === 'debug peer closed connection')).toHaveLength(0);
    setVerboseLogging(true);
    await closeOne();
    expect(lines.filter((l) => l === 'debug peer closed connection')).toHaveLength(1);
  }, 30_000);

  it('workers: 2 — forwarded to the workers', async () => {
    const lines: string[] = [];
    const echo = await echoServer();
    cleanups.push(echo.close);
    pair = await embedPair({
      gatewayRegistry: { workers: 2, logger: captureLogger(lines) },
      gatewaySettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    const closeOne = async (): Promise<void> => {
      const s = await (pair as EmbedPair).client.openConnection('embed-1');
      s.destroy();
      await waitFor(() => (pair as EmbedPair).gateway.getLiveStats('embed-1')?.['active_connections'] === 0);
    };
    await closeOne();
    expect(lines.filter((l) => l === 'debug peer closed connection')).toHaveLength(0);
    setVerboseLogging(true);
    await new Promise((r) => setTimeout(r, 100)); // the message reaches the worker
    await closeOne();
    await waitFor(() => lines.includes('debug peer closed connection'), 5000, 'forwarded debug line');
  }, 30_000);
});

describe('guacd conversation through openConnection', () => {
  it('the stream carries the instruction stream after the handshake, whole instructions per chunk', async () => {
    const net = await import('node:net');
    const got: string[] = [];
    const guacd = net.createServer((s) => {
      s.on('error', () => {});
      let seen = '';
      let state = 0;
      s.on('data', (d: Buffer) => {
        seen += d.toString('latin1');
        if (state === 0 && seen.includes('6.select,')) {
          state = 1;
          s.write('4.args,13.VERSION_1_3_0,8.hostname;');
        } else if (state === 1 && seen.includes('7.connect,')) {
          state = 2;
          seen = '';
          s.write('5.ready,6.$embed;');
          // Instructions split at awkward places across writes.
          s.write('4.sync,3.123;4.si');
          setTimeout(() => s.write('ze,1.0,3.800,3.600;3.nop;'), 50);
        } else if (state === 2) got.push(seen);
      });
    });
    await new Promise<void>((r) => guacd.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => guacd.close(() => r())));
    const port = (guacd.address() as import('node:net').AddressInfo).port;
    pair = await embedPair({
      clientSettings: { conversationType: 'vnc' },
      gatewaySettings: {
        conversationType: 'vnc',
        guacd: { guacd_host: '127.0.0.1', guacd_port: port },
        guacd_params: { hostname: 'x' },
      },
    });
    const stream = await pair.client.openConnection(pair.conversationId);
    const chunks: string[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c.toString('latin1')));
    await waitFor(() => chunks.join('').includes('3.nop;'), 5000, 'instructions');
    for (const c of chunks) expect(c.endsWith(';')).toBe(true);
    expect(chunks.join('')).toContain('4.sync,3.123;4.size,1.0,3.800,3.600;3.nop;');
    stream.write('4.sync,3.123;');
    await waitFor(() => got.join('').includes('4.sync,3.123;'), 5000, 'guacd got the client instruction');
    stream.destroy();
  }, 30_000);
});

describe('SOCKS conversation through openConnection', () => {
  it('the destination goes as the SOCKS tail; the gateway checks its allow-list', async () => {
    const echo = await echoServer();
    cleanups.push(echo.close);
    pair = await embedPair({
      clientSettings: { conversationType: 'tunnel', socks_mode: true },
      gatewaySettings: {
        conversationType: 'tunnel',
        allowed_hosts: '127.0.0.1',
        allowed_ports: String(echo.port),
      },
    });
    const stream = await pair.client.openConnection(pair.conversationId, {
      destination: { host: '127.0.0.1', port: echo.port },
    });
    stream.write('through socks');
    const [chunk] = (await new Promise((r) => stream.once('data', (c: Buffer) => r([c])))) as [Buffer];
    expect(chunk.toString()).toBe('through socks');
    stream.destroy();
    const refused = (await pair.client
      .openConnection(pair.conversationId, { destination: { host: '127.0.0.1', port: 1 } })
      .catch((e: unknown) => e)) as { code: string; closeReason: number };
    expect(refused.code).toBe('TUBES_ERR_CONNECTION_REFUSED');
    expect(typeof refused.closeReason).toBe('number');
  }, 30_000);
});
