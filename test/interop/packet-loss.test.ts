/**
 * `packet_loss_rate` (getConnectionStats, live stats, connection health): the share of our SCTP DATA
 * transmissions that were retransmissions. Through the userspace impairment proxy at 5 % random loss
 * (test/helpers/impair.ts) a transfer makes it positive on both sides; on a clean loopback pair it stays 0.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { impairedEchoTubes } from '../helpers/impair.ts';
import { connect, echoServer, pumpAndCollect, tubePair } from '../helpers/tubes.ts';

type Closer = () => Promise<unknown> | unknown;
const cleanups: Closer[] = [];
afterEach(async () => {
  while (cleanups.length) await (cleanups.pop() as Closer)();
});

const BYTES = 512 * 1024;

describe('packet_loss_rate', () => {
  it('5 % loss on the path: positive on both sides after a transfer, the same figure in live stats and health', async () => {
    const { server, client, pair } = await impairedEchoTubes(['--loss=5'], 15_000, (c) => cleanups.push(c));
    expect(pair.readyMs).toBeDefined();
    const socket = await connect(pair.listenAddr as string);
    const r = await pumpAndCollect(socket, BYTES, 5);
    expect(r.receivedHash).toBe(r.sentHash);

    const s = await server.getConnectionStats(pair.serverTube);
    const c = await client.getConnectionStats(pair.clientTube);
    console.log(
      `[loss] 5 % path loss: packet_loss_rate server ${s.packet_loss_rate}, client ${c.packet_loss_rate}`,
    );
    for (const rate of [s.packet_loss_rate, c.packet_loss_rate]) {
      expect(rate).toBeGreaterThan(0);
      expect(rate).toBeLessThan(0.5);
    }
    const live = server.getLiveStats('conv-faults', pair.serverTube) as Record<string, unknown>;
    const webrtc = live['webrtc_stats'] as Record<string, unknown>;
    expect(webrtc['packet_loss_rate']).toBeGreaterThanOrEqual(s.packet_loss_rate); // cumulative: never falls
    const health = server.getConnectionHealth(pair.serverTube) as Record<string, unknown>;
    expect(health['packet_loss_rate']).toBeGreaterThan(0);
  }, 90_000);

  it('a clean loopback pair: 0 after the same transfer', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const pair = await tubePair({
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    cleanups.push(() => pair.close());
    const socket = await connect(pair.listenAddr as string);
    const r = await pumpAndCollect(socket, BYTES, 6);
    expect(r.receivedHash).toBe(r.sentHash);
    expect((await pair.server.getConnectionStats(pair.serverTube)).packet_loss_rate).toBe(0);
    expect((await pair.client.getConnectionStats(pair.clientTube)).packet_loss_rate).toBe(0);
  }, 60_000);
});
