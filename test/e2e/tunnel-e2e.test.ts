import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CloseConnectionReason } from '../../src/index.ts';
import { recordDiagnostics } from '../helpers/diag.ts';
import { scaled } from '../helpers/time.ts';
import { connect, echoServer, pumpAndCollect, type TubePair, tubePair, waitFor } from '../helpers/tubes.ts';

type Closer = () => Promise<void> | void;

describe('tunnel mode end to end (two werift tubes, one process, loopback)', () => {
  const cleanups: Closer[] = [];
  const later = (fn: Closer): void => void cleanups.push(fn);
  afterEach(async () => {
    while (cleanups.length) await (cleanups.pop() as Closer)();
  });

  async function echoPair(): Promise<TubePair> {
    const echo = await echoServer();
    later(() => echo.close());
    const pair = await tubePair({
      clientSettings: {
        conversationType: 'tunnel',
        target_host: '127.0.0.1',
        target_port: String(echo.port),
      },
    });
    later(() => pair.close());
    return pair;
  }

  /** A target: `handler` gets every accepted socket. */
  async function target(handler: (s: net.Socket) => void): Promise<number> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      handler(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    later(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
    );
    return (server.address() as net.AddressInfo).port;
  }

  it('carries 64 MiB each way with equal sha256', async () => {
    const pair = await echoPair();
    const socket = await connect(pair.listenAddr as string);
    const r = await pumpAndCollect(socket, 64 * 1024 * 1024, 7);
    expect(r.received).toBe(64 * 1024 * 1024);
    expect(r.receivedHash).toBe(r.sentHash);
  }, 180_000);

  it('runs 50 concurrent connections, each with its own integrity check', async () => {
    const pair = await echoPair();
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const socket = await connect(pair.listenAddr as string);
        return pumpAndCollect(socket, 200_000 + i * 1000, i + 1);
      }),
    );
    results.forEach((r, i) => {
      expect(r.received).toBe(200_000 + i * 1000);
      expect(r.receivedHash).toBe(r.sentHash);
    });
  }, 120_000);

  it('half-close: the request is shut, the whole response still arrives', async () => {
    const port = await target((s) => {
      const h = createHash('sha256');
      let n = 0;
      s.on('data', (d: Buffer) => {
        h.update(d);
        n += d.length;
      });
      s.on('end', () => {
        // Respond only after the client's FIN: a large body, then close.
        const body = Buffer.alloc(3 * 1024 * 1024, 0x61);
        s.write(`${n} ${h.digest('hex')}\n`);
        s.end(body);
      });
    });
    const pair = await tubePair({
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: port },
    });
    later(() => pair.close());
    const socket = await connect(pair.listenAddr as string);
    const request = Buffer.from('GET /big HTTP/1.0\r\n\r\n');
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((r) => socket.on('end', r));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.end(request);
    await ended;
    const all = Buffer.concat(chunks);
    const nl = all.indexOf(10);
    expect(all.subarray(0, nl).toString()).toBe(
      `${request.length} ${createHash('sha256').update(request).digest('hex')}`,
    );
    expect(all.length - nl - 1).toBe(3 * 1024 * 1024);
  });

  it('refused target: the local client is closed and CloseConnection(10, text) is sent', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const rec = recordDiagnostics();
    later(() => rec.stop());
    const pair = await tubePair({
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: deadPort },
    });
    later(() => pair.close());
    const socket = await connect(pair.listenAddr as string);
    socket.resume();
    await new Promise<void>((r) => socket.on('close', () => r()));
    await waitFor(
      () => rec.closes.some((c) => c.role === 'server' && c.initiator === 'remote'),
      5000,
      'close',
    );
    const gw = rec.closes.find((c) => c.role === 'client' && c.initiator === 'local');
    expect(gw?.reason).toBe(CloseConnectionReason.ConnectionFailed);
    expect(gw?.message).toMatch(/ECONNREFUSED/);
    const seen = rec.closes.find((c) => c.role === 'server' && c.initiator === 'remote');
    expect(seen?.reason).toBe(CloseConnectionReason.ConnectionFailed);
    expect(seen?.message).toBe(gw?.message);
  });

  it('a target that closes sends its own CloseConnection(9) every time (no suppression after the first)', async () => {
    const port = await target((s) => s.end('bye\n'));
    const rec = recordDiagnostics();
    later(() => rec.stop());
    const pair = await tubePair({
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: port },
    });
    later(() => pair.close());
    for (let i = 0; i < 4; i++) {
      const socket = await connect(pair.listenAddr as string);
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
      });
      await new Promise<void>((r) => socket.on('end', r));
      socket.end();
      expect(text).toBe('bye\n');
    }
    await waitFor(
      () => rec.closes.filter((c) => c.role === 'server' && c.initiator === 'remote').length === 4,
    );
    for (const c of rec.closes.filter((x) => x.role === 'server' && x.initiator === 'remote')) {
      expect(c.reason).toBe(CloseConnectionReason.ConnectionLost);
      expect(c.message).toBe('Backend connection closed unexpectedly');
    }
    // The listener keeps accepting after connections closed.
    const again = await connect(pair.listenAddr as string);
    again.destroy();
  });

  it('closeTube(15) from the server side: peer sees AIClosed, double close is fine, < 1.5 s', async () => {
    const pair = await echoPair();
    const socket = await connect(pair.listenAddr as string);
    socket.on('error', () => {});
    socket.write('x'.repeat(1000));
    const t0 = performance.now();
    await Promise.all([
      pair.server.closeTube(pair.serverTube, 15),
      pair.server.closeTube(pair.serverTube, 15),
    ]);
    expect(performance.now() - t0).toBeLessThan(scaled(1500));
    expect(pair.server.tubeFound(pair.serverTube)).toBe(false);
    await waitFor(
      () => pair.clientSignals.some((s) => s.kind === 'channel_closed'),
      3000,
      'peer channel_closed',
    );
    const sig = pair.clientSignals.find((s) => s.kind === 'channel_closed');
    expect(JSON.parse(sig?.data ?? '{}').close_reason).toEqual({
      code: 15,
      name: 'AIClosed',
      is_critical: false,
      is_retryable: false,
    });
    const own = pair.serverSignals.find((s) => s.kind === 'channel_closed');
    expect(JSON.parse(own?.data ?? '{}')).toMatchObject({
      outcome: 'tube_closed',
      close_reason: { code: 15 },
    });
    // The local client is closed too; and the peer tube goes away by itself.
    await new Promise<void>((r) => (socket.closed ? r() : socket.on('close', () => r())));
    await waitFor(() => !pair.client.tubeFound(pair.clientTube), 5000, 'peer tube closed');
    await expect(pair.server.closeTube(pair.serverTube)).rejects.toMatchObject({
      code: 'TUBES_ERR_TUBE_NOT_FOUND',
    });
  });

  it('closeTube from the client side during a transfer ends both sides', async () => {
    const pair = await echoPair();
    const socket = await connect(pair.listenAddr as string);
    socket.on('error', () => {});
    let echoed = 0;
    socket.on('data', (d: Buffer) => {
      echoed += d.length;
    });
    const pump = pumpAndCollect(socket, 32 * 1024 * 1024).catch(() => undefined);
    await waitFor(() => echoed > 0, 10_000, 'the transfer to be under way (first echoed bytes)');
    const t0 = performance.now();
    await pair.client.closeTube(pair.clientTube);
    expect(performance.now() - t0).toBeLessThan(scaled(1500));
    await waitFor(() => !pair.server.tubeFound(pair.serverTube), 5000, 'server tube closed');
    await pump;
    expect(socket.destroyed || socket.readableEnded).toBe(true);
    const reasons = () =>
      pair.serverSignals
        .filter((s) => s.kind === 'channel_closed')
        .map((s) => JSON.parse(s.data).close_reason?.code as number | undefined);
    await waitFor(() => reasons().length > 0, 3000, 'channel_closed on the server');
    expect(reasons()[0]).toBe(CloseConnectionReason.AdminClosed);
  });

  it('closeConnection(conversationId, 15) ends the channel on both sides with the reason; idempotent', async () => {
    const pair = await echoPair();
    const socket = await connect(pair.listenAddr as string);
    socket.on('error', () => {});
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    const t0 = performance.now();
    await pair.server.closeConnection('conv-1', 15);
    await pair.server.closeConnection('conv-1', 15);
    expect(performance.now() - t0).toBeLessThan(scaled(1500));
    await closed;
    await waitFor(() => pair.clientSignals.some((s) => s.kind === 'channel_closed'), 3000);
    const sig = pair.clientSignals.find((s) => s.kind === 'channel_closed');
    expect(JSON.parse(sig?.data ?? '{}').close_reason?.name).toBe('AIClosed');
    await expect(pair.server.closeConnection('nope', 1)).rejects.toMatchObject({
      code: 'TUBES_ERR_CONVERSATION_NOT_FOUND',
      message: 'No tube found for connection ID: nope',
    });
  });

  it('emits connection_state_changed "connected" and status goes to ready', async () => {
    const pair = await echoPair();
    expect(
      pair.serverSignals.some((s) => s.kind === 'connection_state_changed' && s.data === 'connected'),
    ).toBe(true);
    expect(pair.serverSignals.filter((s) => s.kind === 'icecandidate').at(-1)?.data).toBe('');
    expect(pair.server.getConnectionState(pair.serverTube)).toBe('Connected');
    expect(pair.client.getTubeStatus(pair.clientTube)).toBe('ready');
  });
});
