/**
 * Chromium page ↔ our tube, meant to run inside a private network namespace with only `lo` up:
 *   unshare -n sh -c 'ip link set lo up && exec node test/helpers/interop-chromium.ts'
 * Debian's /usr/bin/chromium via playwright-core, an empty user data dir, no ICE servers, host candidates
 * on 127.0.0.1 only. Two scenarios, one JSON line each:
 * - page-offers: the page creates the RTCPeerConnection and data channel (DTLS server: Chromium), our tube in
 *   client mode answers and dials a local TCP echo server; the page speaks the frame protocol
 *   (test/helpers/raw-peer.ts: OpenConnection, data, ConnectionOpened, echoed data);
 * - tube-offers: our tube in server mode offers (DTLS server: werift) with a local listener, the page
 *   answers and echoes what the tube opens; a TCP client sends through the listener and checks sha256.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { LOOPBACK } from '../../src/cli/remote.ts';
import { TubeRegistry } from '../../src/index.ts';
import { frameEchoExchange, frameEchoResponder } from './raw-peer.ts';
import { connect, echoServer, pumpAndCollect, waitFor } from './tubes.ts';

/** The few browser APIs the page code uses (the project compiles without the DOM library). */
interface PageDataChannel {
  binaryType: string;
  send(b: Uint8Array): void;
  onmessage: ((e: { data: ArrayBuffer }) => void) | null;
  addEventListener(type: 'open', fn: () => void): void;
}
interface PagePeer {
  iceGatheringState: string;
  connectionState: string;
  localDescription: { sdp: string } | null;
  createDataChannel(label: string, init: { ordered: boolean }): PageDataChannel;
  createOffer(): Promise<unknown>;
  createAnswer(): Promise<unknown>;
  setLocalDescription(d: unknown): Promise<void>;
  setRemoteDescription(d: { type: string; sdp: string }): Promise<void>;
  addEventListener(type: 'icegatheringstatechange', fn: () => void): void;
  addEventListener(type: 'datachannel', fn: (ev: { channel: PageDataChannel }) => void): void;
  getStats(): Promise<{ forEach(fn: (s: Record<string, string | undefined>) => void): void }>;
}
interface PageGlobals {
  RTCPeerConnection: new (config: { iceServers: unknown[] }) => PagePeer;
  tubeAnswer(offer: string): Promise<string>;
  pc: PagePeer;
}

export const CHROMIUM = process.env['TUBES_CHROMIUM'] ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function main(): Promise<void> {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'tubes-chromium-'));
  const echo = await echoServer();
  const registry = new TubeRegistry({ ...LOOPBACK });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: 30_000,
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const version = context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));

    // ---- page offers, tube answers (client mode, dials the echo server) ----
    const t0 = performance.now();
    let clientTube = '';
    await page.exposeFunction('tubeAnswer', async (offerB64: string) => {
      const r = await registry.createTube({
        conversationId: 'conv-chromium',
        settings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: String(echo.port) },
        trickleIce: false,
        offer: offerB64,
      });
      clientTube = r.tubeId;
      return r.answer as string;
    });
    const payload = randomBytes(256 * 1024);
    const result = await page.evaluate(
      async ({ src, payloadB64 }) => {
        const w = globalThis as unknown as PageGlobals;
        const pc = new w.RTCPeerConnection({ iceServers: [] });
        const dc = pc.createDataChannel('conv-chromium', { ordered: true });
        dc.binaryType = 'arraybuffer';
        await pc.setLocalDescription(await pc.createOffer());
        await new Promise<void>((r) => {
          if (pc.iceGatheringState === 'complete') r();
          pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r());
        });
        const answer = await w.tubeAnswer(btoa(pc.localDescription?.sdp ?? ''));
        await pc.setRemoteDescription({ type: 'answer', sdp: atob(answer) });
        await new Promise<void>((r, f) => {
          const t = setTimeout(() => f(new Error(`data channel not open (${pc.connectionState})`)), 15_000);
          dc.addEventListener('open', () => {
            clearTimeout(t);
            r();
          });
        });
        const opened = performance.now();
        const exchange = new Function(`return ${src}`)() as (
          c: unknown,
          p: Uint8Array,
          t: number,
        ) => Promise<{ opened: boolean; echoed: Uint8Array; otherFrames: number }>;
        const bytes = Uint8Array.from(atob(payloadB64), (c) => c.charCodeAt(0));
        const r = await exchange(
          {
            send: (b: Uint8Array) => dc.send(b),
            onMessage: (h: (b: Uint8Array) => void) => {
              dc.onmessage = (e) => h(new Uint8Array(e.data));
            },
          },
          bytes,
          20_000,
        );
        let bin = '';
        for (let i = 0; i < r.echoed.length; i += 8192) {
          bin += String.fromCharCode(...r.echoed.subarray(i, i + 8192));
        }
        const stats = { dtlsRole: '', candidate: '' };
        (await pc.getStats()).forEach((s) => {
          if (s.type === 'transport') stats.dtlsRole = s.dtlsRole ?? '';
          if (s.type === 'local-candidate') stats.candidate = `${s.address}:${s.port}`;
        });
        return {
          opened: r.opened,
          echoedB64: btoa(bin),
          otherFrames: r.otherFrames,
          openMs: opened,
          ...stats,
        };
      },
      { src: frameEchoExchange.toString(), payloadB64: payload.toString('base64') },
    );
    const echoed = Buffer.from(result.echoedB64, 'base64');
    console.log(
      JSON.stringify({
        scenario: 'page-offers',
        chromium: version,
        ok: result.opened && sha(echoed) === sha(payload),
        connectionOpened: result.opened,
        bytes: payload.length,
        echoedBytes: echoed.length,
        shaEqual: sha(echoed) === sha(payload),
        tubeStatus: registry.tubeFound(clientTube) ? registry.getTubeStatus(clientTube) : 'gone',
        chromiumDtlsRole: result.dtlsRole,
        ms: Math.round(performance.now() - t0),
      }),
    );
    await registry.cleanupAll();

    // ---- tube offers (server mode, listener), page answers and echoes ----
    const t1 = performance.now();
    const s = await registry.createTube({
      conversationId: 'conv-chromium-2',
      settings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0' },
      trickleIce: false,
    });
    const page2 = await context.newPage();
    const answerSdp = await page2.evaluate(
      async ({ src, offerB64 }) => {
        const w = globalThis as unknown as PageGlobals;
        const pc = new w.RTCPeerConnection({ iceServers: [] });
        w.pc = pc;
        pc.addEventListener('datachannel', (ev) => {
          const dc = ev.channel;
          dc.binaryType = 'arraybuffer';
          const responder = new Function(`return ${src}`)() as (c: unknown) => unknown;
          responder({
            send: (b: Uint8Array) => dc.send(b),
            onMessage: (h: (b: Uint8Array) => void) => {
              dc.onmessage = (e) => h(new Uint8Array(e.data));
            },
          });
        });
        await pc.setRemoteDescription({ type: 'offer', sdp: atob(offerB64) });
        await pc.setLocalDescription(await pc.createAnswer());
        await new Promise<void>((r) => {
          if (pc.iceGatheringState === 'complete') r();
          pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r());
        });
        return btoa(pc.localDescription?.sdp ?? '');
      },
      { src: frameEchoResponder.toString(), offerB64: s.offer as string },
    );
    await registry.setRemoteDescription(s.tubeId, answerSdp, true);
    await waitFor(() => registry.getTubeStatus(s.tubeId) === 'ready', 15_000, 'server tube ready');
    const readyMs = performance.now() - t1;
    const socket = await connect(s.actualLocalListenAddr as string);
    const bytes = 1024 * 1024;
    const r = await pumpAndCollect(socket, bytes, 5);
    const role = await page2.evaluate(async () => {
      let dtlsRole = '';
      (await (globalThis as unknown as PageGlobals).pc.getStats()).forEach((x) => {
        if (x.type === 'transport') dtlsRole = x.dtlsRole ?? '';
      });
      return dtlsRole;
    });
    console.log(
      JSON.stringify({
        scenario: 'tube-offers',
        chromium: version,
        ok: r.received === bytes && r.receivedHash === r.sentHash,
        bytes,
        echoedBytes: r.received,
        shaEqual: r.receivedHash === r.sentHash,
        chromiumDtlsRole: role,
        readyMs: Math.round(readyMs),
        ms: Math.round(performance.now() - t1),
      }),
    );
  } finally {
    await registry.cleanupAll();
    await context.close();
    await echo.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const guard = setTimeout(() => {
    console.error('interop-chromium: overall timeout');
    process.exit(3);
  }, 90_000);
  main()
    .then(() => {
      clearTimeout(guard);
      process.exit(0);
    })
    .catch((err: unknown) => {
      console.error(`interop-chromium failed: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    });
}
