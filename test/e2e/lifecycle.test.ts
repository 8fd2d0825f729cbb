/** Registry API edges, bad input from the host and from a hostile peer, and resource release. */

import diagnostics from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/hotpath/index.ts';
import { TubeRegistry, TubesError } from '../../src/index.ts';
import { capabilityProbeBody, readCapabilityPong } from '../../src/protocol/capabilities.ts';
import { encodeOpenConnection, encodePing, parseControl } from '../../src/protocol/control.ts';
import { Peer } from '../../src/webrtc/peer.ts';
import { decodeSdpBase64, encodeSdpBase64 } from '../../src/webrtc/sdp.ts';
import { recordDiagnostics } from '../helpers/diag.ts';
import { runCommand } from '../helpers/peers.ts';
import { connect, echoServer, LOOPBACK, pumpAndCollect, tubePair, waitFor } from '../helpers/tubes.ts';

type Closer = () => Promise<void> | void;
const cleanups: Closer[] = [];
afterEach(async () => {
  while (cleanups.length) await (cleanups.pop() as Closer)();
});

describe('registry API errors (typed, with the original wording)', () => {
  const reg = new TubeRegistry(LOOPBACK);
  const tunnel = { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: 1 };

  it('rejects bad SDP input', async () => {
    await expect(
      reg.createTube({
        conversationId: 'c',
        settings: tunnel,
        trickleIce: true,
        offer: 'v=0\r\no=- 1 1 IN IP4 0\r\n',
      }),
    ).rejects.toMatchObject({
      code: 'TUBES_ERR_BAD_SDP_BASE64',
      message: expect.stringMatching(/^Failed to decode initial_offer_sdp from base64/),
    });
    await expect(
      reg.createTube({
        conversationId: 'c',
        settings: tunnel,
        trickleIce: true,
        offer: Buffer.from('hello').toString('base64'),
      }),
    ).rejects.toMatchObject({ code: 'TUBES_ERR_BAD_SDP' });
    expect(reg.activeTubeCount()).toBe(0);
  });

  it('unknown tubes and conversations', async () => {
    expect(() => reg.getTubeStatus('nope')).toThrow(
      new TubesError('TUBES_ERR_TUBE_NOT_FOUND', 'Failed to get tube status: Tube not found: nope'),
    );
    await expect(reg.setRemoteDescription('nope', encodeSdpBase64('v=0\r\n'), true)).rejects.toMatchObject({
      code: 'TUBES_ERR_TUBE_NOT_FOUND',
    });
    await expect(
      reg.addIceCandidate('nope', 'candidate:1 1 udp 1 127.0.0.1 9 typ host'),
    ).resolves.toBeUndefined();
    expect(() => reg.getTubeIdByConversationId('x')).toThrow('No tube found for conversation: x');
    expect(reg.tubeIdFromConnectionId('x')).toBeUndefined();
    expect(reg.getLiveStats('x')).toBeNull();
  });

  it('settings validation', async () => {
    const bad: [unknown, RegExp][] = [
      [{}, /conversationType missing/],
      [{ conversationType: 7 }, /conversationType is not a string/],
      [{ conversationType: 'ftp' }, /Invalid conversationType string: ftp/],
      [[], /must be a dictionary/],
      [{ conversationType: 'tunnel', local_listen_addr: 'nonsense' }, /Invalid local_listen_addr/],
    ];
    for (const [settings, msg] of bad) {
      await expect(
        reg.createTube({
          conversationId: 'c',
          settings: settings as Record<string, unknown>,
          trickleIce: true,
        }),
      ).rejects.toMatchObject({ code: 'TUBES_ERR_BAD_SETTINGS', message: expect.stringMatching(msg) });
    }
  });

  it('admission control really rejects past maxConcurrentCreates', async () => {
    const limited = new TubeRegistry({ ...LOOPBACK, maxConcurrentCreates: 1 });
    cleanups.push(() => limited.cleanupAll());
    const settings = { conversationType: 'tunnel' };
    const results = await Promise.allSettled(
      [1, 2, 3].map((i) => limited.createTube({ conversationId: `c${i}`, settings, trickleIce: true })),
    );
    expect(results[0]?.status).toBe('fulfilled');
    for (const r of results.slice(1)) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({
        code: 'TUBES_ERR_OVERLOADED',
        message: 'System overloaded: 1 active creates (max 1). Please retry with backoff.',
      });
    }
    const cap = limited.checkCapacity();
    expect(cap).toMatchObject({
      can_accept_more: true,
      active_creates: 0,
      max_concurrent: 1,
      total_failures: 2,
    });
  });
});

describe('tube behaviour', () => {
  it('non-trickle: the SDP carries a=candidate and no icecandidate signals are emitted', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const pair = await tubePair({
      trickleIce: false,
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    cleanups.push(() => pair.close());
    expect(pair.serverSignals.some((s) => s.kind === 'icecandidate')).toBe(false);
    const offer = await pair.server.createOffer(pair.serverTube);
    expect(decodeSdpBase64(offer)).toMatch(/a=candidate:/);
    const r = await pumpAndCollect(await connect(pair.listenAddr as string), 256 * 1024);
    expect(r.receivedHash).toBe(r.sentHash);
    const stats = await pair.server.getConnectionStats(pair.serverTube);
    expect(stats.bytes_sent).toBeGreaterThan(256 * 1024);
    expect(stats.bytes_received).toBeGreaterThan(256 * 1024);
    expect(stats.rtt_ms).toBeGreaterThan(0);
    // packet_loss_rate is not asserted: it is a constant 0 (docs/API.md, werift exposes no loss figure), so
    // no test of it could fail for a real reason
  });

  it('an IPv6 listener reports [::1]:port and works', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const pair = await tubePair({
      serverSettings: { conversationType: 'tunnel', local_listen_addr: '[::1]:0' },
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    cleanups.push(() => pair.close());
    expect(pair.listenAddr).toMatch(/^\[::1\]:\d+$/);
    const r = await pumpAndCollect(await connect(pair.listenAddr as string), 100_000);
    expect(r.receivedHash).toBe(r.sentHash);
  });

  it('a throwing signal callback never breaks the tube', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const server = new TubeRegistry(LOOPBACK);
    const client = new TubeRegistry(LOOPBACK);
    cleanups.push(async () => {
      await server.cleanupAll();
      await client.cleanupAll();
    });
    let serverTube = '';
    const c = { tubeId: '' };
    const pending: string[] = [];
    const s = await server.createTube({
      conversationId: 'boom',
      settings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0' },
      trickleIce: true,
      onSignal: (sig) => {
        if (sig.kind === 'icecandidate') {
          if (c.tubeId) void client.addIceCandidate(c.tubeId, sig.data);
          else pending.push(sig.data);
        }
        throw new Error('host bug');
      },
    });
    serverTube = s.tubeId;
    const r = await client.createTube({
      conversationId: 'boom',
      settings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
      trickleIce: true,
      offer: s.offer as string,
      onSignal: (sig) => {
        if (sig.kind === 'icecandidate') void server.addIceCandidate(serverTube, sig.data);
        throw new Error('host bug');
      },
    });
    c.tubeId = r.tubeId;
    for (const cand of pending) await client.addIceCandidate(r.tubeId, cand);
    await server.setRemoteDescription(serverTube, r.answer as string, true);
    await waitFor(() => server.getTubeStatus(serverTube) === 'ready', 10_000);
    const out = await pumpAndCollect(await connect(s.actualLocalListenAddr as string), 100_000);
    expect(out.receivedHash).toBe(out.sentHash);
  });

  it('a gateway refuses connections past limits.maxConnections with a reason; the others keep working', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const rec = recordDiagnostics();
    cleanups.push(() => rec.stop());
    const pair = await tubePair({
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
      clientRegistry: { limits: { maxConnections: 2 } },
    });
    cleanups.push(() => pair.close());
    const a = await connect(pair.listenAddr as string);
    const b = await connect(pair.listenAddr as string);
    await waitFor(() => echo.sockets.size === 2, 5000, 'two target connections');
    const c = await connect(pair.listenAddr as string);
    c.resume();
    await new Promise<void>((r) => c.on('close', () => r()));
    const refused = rec.closes.find((x) => x.role === 'server' && x.initiator === 'remote');
    expect(refused).toMatchObject({
      connNo: 3,
      reason: 10,
      message: 'Too many connections on channel conv-1 (limit 2)',
    });
    for (const s of [a, b]) {
      const r = await pumpAndCollect(s, 64 * 1024);
      expect(r.receivedHash).toBe(r.sentHash);
    }
  });

  it('restartIce renegotiates ICE (new ufrag) and traffic keeps flowing (werift alone stops for good)', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const pair = await tubePair({
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    cleanups.push(() => pair.close());
    const before = await pumpAndCollect(await connect(pair.listenAddr as string), 100_000);
    expect(before.receivedHash).toBe(before.sentHash);
    const oldUfrag = /a=ice-ufrag:(\S+)/.exec(
      decodeSdpBase64(await pair.server.createOffer(pair.serverTube)),
    )?.[1];
    const offer = await pair.server.restartIce(pair.serverTube);
    expect(/a=ice-ufrag:(\S+)/.exec(decodeSdpBase64(offer))?.[1]).not.toBe(oldUfrag);
    const answer = await pair.client.setRemoteDescription(pair.clientTube, offer, false);
    await pair.server.setRemoteDescription(pair.serverTube, answer as string, true);
    const after = await pumpAndCollect(await connect(pair.listenAddr as string), 1024 * 1024);
    expect(after.receivedHash).toBe(after.sentHash);
    expect(pair.server.getTubeStatus(pair.serverTube)).toBe('ready');
  });

  it('a second conversation on an existing tube gets its own data channel and listener', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const pair = await tubePair({
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    cleanups.push(() => pair.close());
    const second = await pair.server.createTube({
      conversationId: 'conv-2',
      settings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0' },
      trickleIce: true,
      tubeId: pair.serverTube,
    });
    expect(second.tubeId).toBe(pair.serverTube);
    expect(pair.server.getConversationIdsByTubeId(pair.serverTube).sort()).toEqual(['conv-1', 'conv-2']);
    // The second channel's own listener (port 0 asked for): its address is returned and data flows through it.
    expect(second.actualLocalListenAddr).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(second.actualLocalListenAddr).not.toBe(pair.listenAddr);
    const r = await pumpAndCollect(await connect(second.actualLocalListenAddr as string), 256 * 1024, 7);
    expect(r.received).toBe(256 * 1024);
    expect(r.receivedHash).toBe(r.sentHash);
    await waitFor(
      () => Number(pair.server.getLiveStats('conv-2')?.['total_bytes_sent'] ?? 0) >= 256 * 1024,
      5_000,
      'the bytes counted on conv-2',
    );
    expect(Number(pair.server.getLiveStats('conv-1')?.['total_bytes_sent'] ?? 0)).toBeLessThan(256 * 1024);
  });

  it('after everything closes, a process exits by itself (no handle left)', async () => {
    const file = fileURLToPath(new URL('../fixtures/lifecycle-exit.ts', import.meta.url));
    const r = await runCommand(process.execPath, [file], { timeout: 20_000 });
    expect(r.stderr.toString()).toBe('');
    expect(r.stdout.toString()).toBe('closed\n');
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
  }, 30_000);
});

describe('a hostile peer on the data channel', () => {
  it('corrupt, oversized and unknown frames are discarded; the tube keeps working', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const rec = recordDiagnostics();
    cleanups.push(() => rec.stop());
    const errors: unknown[] = [];
    const onError = (m: unknown): void => void errors.push(m);
    diagnostics.subscribe('webrtc-tubes:frame:discard', onError);
    cleanups.push(() => {
      diagnostics.unsubscribe('webrtc-tubes:frame:discard', onError);
    });

    const gateway = new TubeRegistry(LOOPBACK);
    cleanups.push(() => gateway.cleanupAll());
    let tubeId = '';
    const early: string[] = [];
    const raw: Peer = new Peer(
      {
        iceServers: [],
        relayOnly: false,
        hostAddresses: ['127.0.0.1'],
        hostAddressesOnly: true,
        ipv6: false,
      },
      {
        candidate: (c) => {
          if (tubeId) void gateway.addIceCandidate(tubeId, c);
          else early.push(c);
        },
        connectionState: () => {},
        dataChannel: () => {},
      },
    );
    cleanups.push(() => raw.close());
    const port = raw.createDataChannel('hostile');
    const got: { connNo: number; payload: Buffer }[] = [];
    const decoder = new FrameDecoder();
    let opened = false;
    port.setHandlers({
      message: (m) => {
        for (const f of decoder.decode(m)) got.push({ connNo: f.connNo, payload: Buffer.from(f.payload) });
      },
      drain: () => {},
      open: () => {
        opened = true;
      },
      close: () => {},
    });
    const offer = await raw.createOffer();
    const r = await gateway.createTube({
      conversationId: 'hostile',
      settings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
      trickleIce: true,
      offer: encodeSdpBase64(offer),
      onSignal: (s) => {
        if (s.kind === 'icecandidate') void raw.addIceCandidate(s.data);
      },
    });
    tubeId = r.tubeId;
    for (const c of early) await gateway.addIceCandidate(tubeId, c);
    await raw.setRemoteDescription(decodeSdpBase64(r.answer as string), 'answer');
    await waitFor(() => opened, 10_000, 'raw data channel open');

    const send = (b: Uint8Array): void => void port.send(b);
    // 1. A corrupt terminator.
    const corrupt = encodeFrame(1, Buffer.from('abc'));
    corrupt[corrupt.length - 1] = 0x21;
    send(corrupt);
    // 2. A header declaring 4 GiB.
    const huge = Buffer.alloc(16);
    huge.writeUInt32BE(1, 0);
    huge.writeUInt32BE(0xffffffff, 12);
    send(huge);
    // 3. An unknown control code, a malformed control message, data for an unknown connection.
    send(encodeFrame(0, Buffer.from([0x77, 0x77, 1, 2])));
    send(encodeFrame(0, Buffer.from([0x00, 0x66])));
    send(encodeFrame(99, Buffer.from('nobody')));
    // 4. Then the real thing: probe, ping, open, data split across messages — all must work.
    send(encodeFrame(0, encodePing(0, capabilityProbeBody())));
    send(encodeFrame(0, encodePing(0, Buffer.from('12345678'))));
    send(encodeFrame(0, Buffer.from([0x01, 0x2d, 0x02]))); // MetricsRequest type 2
    const open = encodeFrame(0, encodeOpenConnection(1));
    const data = encodeFrame(1, Buffer.from('hello; world;'));
    const both = Buffer.concat([open, data]);
    send(both.subarray(0, 30));
    send(both.subarray(30));
    await waitFor(() => got.some((f) => f.connNo === 1), 10_000, 'echoed data');
    const controls = got.filter((f) => f.connNo === 0).map((f) => parseControl(f.payload));
    expect(controls).toContainEqual({ type: 'opened', connNo: 1 });
    const pongs = controls.filter((c) => !(c instanceof TubesError) && c.type === 'pong') as {
      body: Uint8Array;
    }[];
    expect(pongs.map((p) => readCapabilityPong(p.body))).toContain(3);
    expect(pongs.some((p) => Buffer.from(p.body).toString() === '12345678')).toBe(true);
    expect(Buffer.concat(got.filter((f) => f.connNo === 1).map((f) => f.payload)).toString()).toBe(
      'hello; world;',
    );
    expect(errors.length).toBe(2);
    expect(errors.map((e) => (e as { code: string }).code).sort()).toEqual([
      'TUBES_ERR_FRAME_CORRUPT',
      'TUBES_ERR_FRAME_TOO_LARGE',
    ]);
    expect(gateway.getTubeStatus(tubeId)).toBe('ready');
  });
});
