/**
 * Interop smoke: our tuned tube side (whatever src/webrtc does by default, werift patches included) against
 * - a stock werift 0.25.2 peer (no patches), in both DTLS roles, speaking the frame protocol
 *   (test/helpers/raw-peer.ts);
 * - another tuned tube (tubePair);
 * - a Chromium page (Debian's /usr/bin/chromium via playwright-core) inside a private network namespace
 *   with only `lo` (test/helpers/interop-chromium.ts), in both DTLS roles. Skips loudly when Chromium,
 *   playwright-core, root or a working `unshare -n` is missing, and fails instead under TUBES_REQUIRE_PEERS=1
 *   (test/helpers/skip.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RTCPeerConnection } from 'werift';
import { LOOPBACK } from '../../src/cli/remote.ts';
import { TubeRegistry } from '../../src/index.ts';
import { encodeSdpBase64 } from '../../src/webrtc/sdp.ts';
import { spawnNodeInLoopbackNetns } from '../helpers/netns.ts';
import { frameEchoExchange, frameEchoResponder, type RawChannel } from '../helpers/raw-peer.ts';
import { CHROMIUM, requireChromium } from '../helpers/skip.ts';
import { connect, echoServer, pumpAndCollect, tubePair, waitFor } from '../helpers/tubes.ts';

type Closer = () => Promise<unknown> | unknown;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A stock werift peer connection: no patches installed, loopback host candidates. */
function stockPeer(): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
  });
}

async function gathered(pc: RTCPeerConnection): Promise<string> {
  if (pc.iceGatheringState !== 'complete') {
    await new Promise<void>((r) => {
      const sub = pc.iceGatheringStateChange.subscribe((s) => {
        if (s === 'complete') {
          sub.unSubscribe();
          r();
        }
      });
    });
  }
  return pc.localDescription?.sdp ?? '';
}

function rawChannel(dc: ReturnType<RTCPeerConnection['createDataChannel']>): RawChannel {
  return {
    send: (b) => dc.send(Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
    onMessage: (h) => {
      dc.onMessage.subscribe((m) => h(typeof m === 'string' ? Buffer.from(m) : m));
    },
  };
}

describe('interop: stock werift ↔ tuned tube, tuned ↔ tuned', () => {
  const cleanups: Closer[] = [];
  afterEach(async () => {
    while (cleanups.length) await (cleanups.pop() as Closer)();
  });

  it('stock werift offers (DTLS server), tuned tube answers and dials: frames and 256 KiB echo', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const registry = new TubeRegistry({ ...LOOPBACK });
    cleanups.push(() => registry.cleanupAll());
    const pc = stockPeer();
    cleanups.push(() => pc.close());
    const dc = pc.createDataChannel('conv-stock', { ordered: true });
    await pc.setLocalDescription(await pc.createOffer());
    const r = await registry.createTube({
      conversationId: 'conv-stock',
      settings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: String(echo.port) },
      trickleIce: false,
      offer: encodeSdpBase64(await gathered(pc)),
    });
    await pc.setRemoteDescription({
      type: 'answer',
      sdp: Buffer.from(r.answer as string, 'base64').toString(),
    });
    await waitFor(() => dc.readyState === 'open', 10_000, 'stock data channel open');
    const payload = randomBytes(256 * 1024);
    const out = await frameEchoExchange(rawChannel(dc), payload, 20_000);
    expect(out.opened).toBe(true);
    expect(sha(out.echoed)).toBe(sha(payload));
    expect(registry.getTubeStatus(r.tubeId)).toBe('ready');
  }, 40_000);

  it('tuned tube offers (DTLS server) with a listener, stock werift answers and echoes: 1 MiB sha256', async () => {
    const registry = new TubeRegistry({ ...LOOPBACK });
    cleanups.push(() => registry.cleanupAll());
    const s = await registry.createTube({
      conversationId: 'conv-stock-2',
      settings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0' },
      trickleIce: false,
    });
    const pc = stockPeer();
    cleanups.push(() => pc.close());
    pc.onDataChannel.subscribe((dc) => void frameEchoResponder(rawChannel(dc)));
    await pc.setRemoteDescription({
      type: 'offer',
      sdp: Buffer.from(s.offer as string, 'base64').toString(),
    });
    await pc.setLocalDescription(await pc.createAnswer());
    await registry.setRemoteDescription(s.tubeId, encodeSdpBase64(await gathered(pc)), true);
    await waitFor(() => registry.getTubeStatus(s.tubeId) === 'ready', 10_000, 'tube ready');
    const socket = await connect(s.actualLocalListenAddr as string);
    const r = await pumpAndCollect(socket, 1024 * 1024, 3);
    expect(r.received).toBe(1024 * 1024);
    expect(r.receivedHash).toBe(r.sentHash);
  }, 40_000);

  it('tuned ↔ tuned: 4 MiB each way with equal sha256', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const pair = await tubePair({
      clientSettings: {
        conversationType: 'tunnel',
        target_host: '127.0.0.1',
        target_port: String(echo.port),
      },
    });
    cleanups.push(() => pair.close());
    const socket = await connect(pair.listenAddr as string);
    const r = await pumpAndCollect(socket, 4 * 1024 * 1024, 9);
    expect(r.received).toBe(4 * 1024 * 1024);
    expect(r.receivedHash).toBe(r.sentHash);
  }, 60_000);
});

const chromiumSkip = requireChromium();

describe.skipIf(chromiumSkip !== undefined)(
  'interop: Chromium page ↔ tuned tube (unshare -n, lo only)',
  () => {
    it('page offers (Chromium DTLS server) and tube offers (werift DTLS server): frames, echo, sha256', async () => {
      const child = spawnNodeInLoopbackNetns('test/helpers/interop-chromium.ts', [], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, TUBES_CHROMIUM: CHROMIUM },
      });
      let out = '';
      let err = '';
      child.stdout?.setEncoding('utf8').on('data', (t: string) => (out += t));
      child.stderr?.setEncoding('utf8').on('data', (t: string) => (err += t));
      const killer = setTimeout(() => child.kill('SIGKILL'), 100_000);
      const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
      clearTimeout(killer);
      const results = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const r of results) console.log(`[interop] chromium ${JSON.stringify(r)}`);
      expect(code, `${out}\n${err}`).toBe(0);
      const byName = new Map(results.map((r) => [r['scenario'], r]));
      expect(byName.get('page-offers')).toMatchObject({
        ok: true,
        connectionOpened: true,
        shaEqual: true,
        chromiumDtlsRole: 'server',
      });
      expect(byName.get('tube-offers')).toMatchObject({
        ok: true,
        shaEqual: true,
        chromiumDtlsRole: 'client',
      });
    }, 120_000);
  },
);
