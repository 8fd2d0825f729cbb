/**
 * Where hosts and peers of the original meet us (docs/ORIGINAL.md): which settings make a database-proxy
 * conversation, the MetricsRequest/MetricsResponse bodies, and error texts hosts match on.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, type ConnectionHost } from '../../src/channel/connection.ts';
import { guacdOpener } from '../../src/channel/guacd.ts';
import { modeFor } from '../../src/channel/modes.ts';
import type { OpenRefused as OpenFailure } from '../../src/channel/opener.ts';
import { type GuacdSettings, parseSettings } from '../../src/config/settings.ts';
import { encodeFrame } from '../../src/hotpath/index.ts';
import { TubeRegistry } from '../../src/index.ts';
import { silentLogger } from '../../src/log.ts';
import { aggregatedMetrics, connectionQuality } from '../../src/metrics/aggregated.ts';
import { rawGateway } from '../helpers/raw-gateway.ts';
import { LOOPBACK, waitFor } from '../helpers/tubes.ts';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

describe('settings: which conversations are database proxies', () => {
  const host = { hostName: 'db.internal', port: 3306 };

  it('rdp/ssh/vnc settings carrying `host` stay guacd conversations (the original made them database proxies)', async () => {
    for (const conversationType of ['rdp', 'ssh', 'vnc', 'telnet']) {
      const s = parseSettings({
        conversationType,
        host,
        guacd: { guacd_host: '127.0.0.1', guacd_port: 4822 },
      });
      expect(s.mode).toBe('guacd');
      expect(() => modeFor(s)).not.toThrow();
    }
    const tunnel = parseSettings({ conversationType: 'tunnel', host, target_host: 'h', target_port: 1 });
    expect(tunnel.mode).toBe('port-forward');
    await using registry = new TubeRegistry(LOOPBACK);
    const r = await registry.createTube({
      conversationId: 'rdp-with-host',
      settings: { conversationType: 'rdp', host, guacd: { guacd_host: '127.0.0.1', guacd_port: 4822 } },
      trickleIce: true,
    });
    expect(r.offer).toBeTruthy();
  });

  it('database-proxy conversations are still refused: tunnelType database, proxy, or a database type with host', async () => {
    const cases: Record<string, unknown>[] = [
      { conversationType: 'tunnel', tunnelType: 'database' },
      { conversationType: 'rdp', proxy: { proxy_host: 'p', proxy_port: 1 } },
      { conversationType: 'mysql', host },
      { conversationType: 'postgresql', host },
      { conversationType: 'sql-server', host },
    ];
    await using registry = new TubeRegistry(LOOPBACK);
    for (const settings of cases) {
      expect(parseSettings(settings).mode).toBe('database-proxy');
      await expect(
        registry.createTube({ conversationId: 'db', settings, trickleIce: true }),
      ).rejects.toMatchObject({
        code: 'TUBES_ERR_BAD_SETTINGS',
      });
    }
    // a database type without host/proxy is a guacd conversation, as in the original
    expect(parseSettings({ conversationType: 'mysql' }).mode).toBe('guacd');
  });
});

describe('MetricsRequest → MetricsResponse (the original bodies)', () => {
  it('type 0 aggregated metrics, 1 null, 2 uptime/count/channel, other the error text', async () => {
    const g = await rawGateway({
      settings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: 1 },
    });
    closers.push(() => g.close());
    const request = (type: number, connId?: number): Buffer => {
      const b = Buffer.alloc(connId === undefined ? 3 : 7);
      b.writeUInt16BE(301, 0);
      b[2] = type;
      if (connId !== undefined) b.writeUInt32BE(connId, 3);
      return b;
    };
    const bodies = (): string[] =>
      g
        .controls()
        .filter((c) => c.type === 'metrics-response')
        .map((c) => Buffer.from((c as { body: Uint8Array }).body).toString('utf8'));
    for (const [type, connId] of [[0], [1, 5], [2], [9]] as [number, number?][]) {
      const before = bodies().length;
      g.send(encodeFrame(0, request(type, connId)));
      await waitFor(() => bodies().length > before, 5_000, `MetricsResponse to type ${type}`);
    }
    const [agg, live, system, unknown] = bodies();
    const a = JSON.parse(agg as string);
    expect(Object.keys(a)).toEqual([
      'timestamp',
      'active_connections',
      'active_tubes',
      'avg_system_rtt_ms',
      'avg_packet_loss',
      'total_message_throughput',
      'total_bandwidth',
      'excellent_connections',
      'good_connections',
      'fair_connections',
      'poor_connections',
      'total_alerts',
      'critical_alerts',
      'warning_alerts',
      'memory_usage_bytes',
      'cpu_utilization',
      'network_utilization',
    ]);
    expect(Number.isNaN(Date.parse(a.timestamp))).toBe(false);
    expect(a).toMatchObject({
      active_connections: 1,
      active_tubes: 1,
      avg_packet_loss: 0,
      memory_usage_bytes: 0,
    });
    expect(a.excellent_connections + a.good_connections + a.fair_connections + a.poor_connections).toBe(1);
    expect(a.total_message_throughput).toBeGreaterThan(0);
    expect(live).toBe('null');
    const s = JSON.parse(system as string);
    expect(Object.keys(s)).toEqual(['uptime_seconds', 'active_connection_count', 'channel_id']);
    expect(s).toMatchObject({ active_connection_count: 0, channel_id: 'raw' });
    expect(Number.isInteger(s.uptime_seconds)).toBe(true);
    expect(unknown).toBe('error: unknown request type');
  });

  it('quality classes and averages as the original computes them', () => {
    expect(connectionQuality(undefined)).toBe('poor');
    expect(connectionQuality(50)).toBe('excellent');
    expect(connectionQuality(100)).toBe('good');
    expect(connectionQuality(200)).toBe('fair');
    expect(connectionQuality(201)).toBe('poor');
    expect(connectionQuality(10, 0.06)).toBe('poor');
    const now = 1_700_000_010_000;
    const sample = { messagesSent: 10, messagesReceived: 10, bytesSent: 500, bytesReceived: 500 };
    const m = aggregatedMetrics(
      [
        { ...sample, rttMs: 20, establishedAt: now - 10_000 },
        { ...sample, rttMs: 120, establishedAt: now - 10_000 },
        { ...sample, rttMs: undefined, establishedAt: now - 10_000 },
      ],
      2,
      now,
    );
    expect(m).toMatchObject({
      timestamp: '2023-11-14T22:13:30.000Z',
      active_connections: 3,
      active_tubes: 2,
      avg_system_rtt_ms: 70,
      total_message_throughput: 6,
      total_bandwidth: 300,
      excellent_connections: 1,
      good_connections: 0,
      fair_connections: 1,
      poor_connections: 1,
    });
    // Loss: averaged over the samples, and above 5 % a channel counts as poor whatever its RTT.
    const lossy = aggregatedMetrics(
      [
        { ...sample, rttMs: 20, establishedAt: now - 10_000, lossRate: 0.1 },
        { ...sample, rttMs: 20, establishedAt: now - 10_000, lossRate: 0 },
      ],
      1,
      now,
    );
    expect(lossy.avg_packet_loss).toBeCloseTo(0.05, 10);
    expect(lossy).toMatchObject({ excellent_connections: 1, poor_connections: 1 });
  });
});

describe('error texts hosts match on', () => {
  it('getConnectionState / getTubeStatus / closeTube / closeConnection of unknown ids', async () => {
    await using registry = new TubeRegistry(LOOPBACK);
    expect(() => registry.getConnectionState('t1')).toThrow(
      /^Failed to get connection state: Tube not found: t1$/,
    );
    expect(() => registry.getTubeStatus('t1')).toThrow(/^Failed to get tube status: Tube not found: t1$/);
    await expect(registry.closeTube('t1')).rejects.toThrow(/^Failed to close tube t1: Tube not found: t1$/);
    await expect(registry.closeConnection('c1')).rejects.toThrow(/^No tube found for connection ID: c1$/);
    expect(() => registry.createOffer('t1')).toThrow(/^Tube not found: t1$/);
  });

  it('a guacd host that does not resolve: CloseConnection(10, "DNS lookup failed for Guacd host h:p: …")', async () => {
    const settings = parseSettings({
      conversationType: 'vnc',
      guacd: { guacd_host: 'no-such-host.invalid', guacd_port: 4822 },
    });
    const host = {
      logger: silentLogger(),
      verbose: false,
      flowHighWater: 1 << 20,
      maxPendingBytes: 1 << 24,
    } as unknown as ConnectionHost;
    const ctx = { logger: silentLogger() } as never;
    const err = (await guacdOpener(settings as GuacdSettings)(
      new Connection(1, host),
      new Uint8Array(0),
      ctx,
    ).catch((e: OpenFailure) => e)) as OpenFailure;
    expect(err.closeReason).toBe(10);
    expect(err.message).toMatch(/^DNS lookup failed for Guacd host no-such-host\.invalid:4822: /);
  });

  it('a refused guacd port keeps the connect text', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const settings = parseSettings({
      conversationType: 'vnc',
      guacd: { guacd_host: '127.0.0.1', guacd_port: port },
    });
    const host = { logger: silentLogger() } as unknown as ConnectionHost;
    const err = (await guacdOpener(settings as GuacdSettings)(new Connection(1, host), new Uint8Array(0), {
      logger: silentLogger(),
    } as never).catch((e: OpenFailure) => e)) as OpenFailure;
    expect(err.message).toMatch(
      new RegExp(`^Failed to connect to Guacd 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
    );
  });
});
