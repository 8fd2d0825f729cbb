/**
 * The browser end of a tube against real guacd, inside a private network namespace with only `lo` up:
 *   unshare -n sh -c 'ip link set lo up && exec node test/helpers/browser-e2e.ts <artifact dir>'
 * Starts guacd 1.3 + Xvnc (xclock) + telnetd (test/helpers/guacd.ts), `tubes gateway --guacd … --web`
 * (the CLI from src/, one per protocol) behind a recording tap in front of guacd, and Debian's Chromium via
 * playwright-core on the gateway's page. Prints one JSON line per scenario (test/interop/browser-e2e.test.ts checks
 * them): vnc (display pixels, syncs, resize → size), reload (old tube closed, new session), telnet (typed
 * keys create a file, clipboard text arrives intact), parity (hot-path engines in the page vs Node).
 * Needs the browser bundle built first (scripts/build-browser.mjs).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { encodeFrame, FrameDecoder, GuacamoleScanner } from '../../src/hotpath/index.ts';
import { Capability, capabilityAnswerBody, capabilityProbeBody } from '../../src/protocol/capabilities.ts';
import {
  encodeCloseConnection,
  encodeFlowPause,
  encodeFlowResume,
  encodeOpenConnection,
  encodePing,
  encodePong,
} from '../../src/protocol/control.ts';
import { startPeers, type TapSession, guacdTap as tap } from './guacd.ts';
import { GOLDEN_FRAMES, guacdSample, hex } from './hotpath.ts';
import { CHROMIUM, CHROMIUM_FLAGS } from './interop-chromium.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(ROOT, 'src/cli/tubes.ts');
export const TOKEN = 'browser-e2e-token';
export const CLIPBOARD_TEXT = 'Grüße 日本語 😀';

// biome-ignore lint/suspicious/noExplicitAny: guacamole-common-js objects in the page are untyped
type PageAny = any;

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
  return Date.now() - t0;
}

const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString('utf8');

export interface Gateway {
  child: ChildProcess;
  web: string;
  log: Record<string, unknown>[];
}

export async function startGateway(protocol: string, guacdPort: number, params: string[]): Promise<Gateway> {
  const flags = process.features.typescript ? [] : ['--experimental-strip-types'];
  const args = [
    ...flags,
    CLI,
    'gateway',
    '--guacd',
    `127.0.0.1:${guacdPort}`,
    '--protocol',
    protocol,
    ...params.flatMap((p) => ['--param', p]),
    '--web',
    '--listen',
    '127.0.0.1:0',
    '--token',
    TOKEN,
    '--ice-host',
    '127.0.0.1',
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: Record<string, unknown>[] = [];
  let out = '';
  let errTail = '';
  let web = '';
  child.stdout?.setEncoding('utf8').on('data', (t: string) => {
    out += t;
    const m = /^web (\S+)$/m.exec(out);
    if (m) web = m[1] as string;
  });
  let partial = '';
  child.stderr?.setEncoding('utf8').on('data', (t: string) => {
    errTail = (errTail + t).slice(-4000);
    partial += t;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      if (!l.startsWith('{')) continue;
      try {
        log.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // a status line
      }
    }
  });
  await waitFor(() => web !== '' || child.exitCode !== null, 20_000, `gateway (${protocol}) web line`).catch(
    (e: Error) => {
      throw new Error(`${e.message}\n${out}\n${errTail}`);
    },
  );
  if (web === '') throw new Error(`gateway exited ${child.exitCode}: ${errTail}`);
  return { child, web, log };
}

interface AppState {
  status: string;
  syncs: number;
  sizesSent: number;
  error: { code: number; message: string } | undefined;
}

async function appState(page: Page): Promise<AppState> {
  return page.evaluate(() => {
    const s = (globalThis as unknown as { tubesApp: { state: AppState } }).tubesApp.state;
    return { status: s.status, syncs: s.syncs, sizesSent: s.sizesSent, error: s.error };
  });
}

async function connectPage(page: Page, web: string): Promise<number> {
  await page.goto(web, { waitUntil: 'load' });
  const t0 = Date.now();
  await page.fill('#token', TOKEN);
  await page.click('#connect');
  await waitFor(
    async () => {
      const s = await appState(page);
      if (s.error) throw new Error(`page error ${s.error.code}: ${s.error.message}`);
      return s.status === 'connected';
    },
    20_000,
    'page connected',
  );
  return Date.now() - t0;
}

const closedSessions = (g: Gateway): number => g.log.filter((l) => l['msg'] === 'session closed').length;

/** VNC: display pixels, sync round trips, resize → size; then reload: old tube closed, new session works. */
async function vncScenarios(context: BrowserContext, ports: Ports, artifacts: string): Promise<void> {
  const t = await tap(ports.guacd_port);
  const gw = await startGateway('vnc', t.port, ['hostname=127.0.0.1', `port=${ports.vnc_port}`]);
  try {
    const page = await context.newPage();
    const connectMs = await connectPage(page, gw.web);
    const isolated = await page.evaluate(
      () => (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated,
    );
    const syncs0 = (await appState(page)).syncs;
    await sleep(3_000);
    const syncs1 = (await appState(page)).syncs;
    const session = t.sessions[0] as TapSession;
    const syncRepliesAtGuacd = (text(session.toGuacd).match(/4\.sync,/g) ?? []).length;
    // the remote display, composited by guacamole-common-js
    const shot = await page.evaluate(() => {
      const app = (globalThis as unknown as { tubesApp: { state: { client: PageAny } } }).tubesApp;
      const canvas = app.state.client.getDisplay().flatten() as {
        width: number;
        height: number;
        getContext(t: '2d'): {
          getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
        };
        toDataURL(type: string): string;
      };
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      const colours = new Map<number, number>();
      let opaque = 0;
      let nonBlack = 0;
      for (let i = 0; i < data.length; i += 4) {
        const r = data[i] as number;
        const g = data[i + 1] as number;
        const b = data[i + 2] as number;
        if ((data[i + 3] as number) > 0) opaque++;
        if (r + g + b > 30) nonBlack++;
        const key = (r << 16) | (g << 8) | b;
        colours.set(key, (colours.get(key) ?? 0) + 1);
      }
      const pixels = data.length / 4;
      const top = [...colours.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3);
      return {
        width: canvas.width,
        height: canvas.height,
        opaqueFraction: opaque / pixels,
        nonBlackFraction: nonBlack / pixels,
        distinctColours: colours.size,
        background336699Fraction: (colours.get(0x336699) ?? 0) / pixels,
        topColours: top.map(([c, n]) => [`#${c.toString(16).padStart(6, '0')}`, n]),
        png: canvas.toDataURL('image/png'),
      };
    });
    const pngPath = path.join(artifacts, 'browser-vnc-display.png');
    writeFileSync(pngPath, Buffer.from(shot.png.slice(shot.png.indexOf(',') + 1), 'base64'));
    await page.screenshot({ path: path.join(artifacts, 'browser-vnc-page.png') });

    // resize: the page sends `size` with its display box
    const sizesBefore = text(session.toGuacd).split('4.size,').length - 1;
    await page.setViewportSize({ width: 1000, height: 700 });
    await waitFor(
      () => text(session.toGuacd).split('4.size,').length - 1 > sizesBefore,
      5_000,
      'size at guacd',
    );
    const box = await page.evaluate(() => {
      const el = (
        globalThis as unknown as {
          document: { getElementById(id: string): { clientWidth: number; clientHeight: number } };
        }
      ).document.getElementById('display');
      return { width: el.clientWidth, height: el.clientHeight };
    });
    const sizes = [...text(session.toGuacd).matchAll(/4\.size,\d+\.(\d+),\d+\.(\d+);/g)].map((m) => [
      Number(m[1]),
      Number(m[2]),
    ]);
    console.log(
      JSON.stringify({
        scenario: 'vnc',
        connectMs,
        crossOriginIsolated: isolated,
        syncsIn3s: syncs1 - syncs0,
        syncRepliesAtGuacd,
        display: { ...shot, png: undefined },
        pngPath,
        resize: {
          box,
          sizesAtGuacd: sizes,
          handshake: text(session.toGuacd).startsWith('6.select,3.vnc;4.size,4.1024,3.768'),
        },
        errors: (await appState(page)).error ?? null,
      }),
    );

    // reload: the old tube must close on the gateway (≤ 5 s) and a new session work
    const closedBefore = closedSessions(gw);
    const tReload = Date.now();
    await page.reload({ waitUntil: 'load' });
    const closeMs = await waitFor(() => closedSessions(gw) > closedBefore, 10_000, 'old session closed').then(
      () => Date.now() - tReload,
      () => -1,
    );
    const guacdClosedMs = await waitFor(
      () => session.closedAt !== undefined,
      10_000,
      'guacd connection of the old session closed',
    ).then(
      () => (session.closedAt as number) - tReload,
      () => -1,
    );
    const sessionsBefore = t.sessions.length;
    const reconnectMs = await connectPage(page, gw.web);
    const s0 = (await appState(page)).syncs;
    await sleep(2_000);
    const s1 = (await appState(page)).syncs;
    console.log(
      JSON.stringify({
        scenario: 'reload',
        oldSessionClosedMs: closeMs,
        oldGuacdConnectionClosedMs: guacdClosedMs,
        closeReasons: gw.log.filter(
          (l) => l['msg'] === 'session ended by the tube' || l['msg'] === 'session closed',
        ).length,
        newGuacdConnections: t.sessions.length - sessionsBefore,
        reconnectMs,
        syncsAfterReload: s1 - s0,
        openGuacdConnections: t.sessions.filter((s) => s.closedAt === undefined).length,
      }),
    );
    await page.close();
  } finally {
    gw.child.kill('SIGTERM');
    await new Promise((r) => gw.child.once('exit', r));
    await t.close();
  }
}

/** Telnet: keys typed in the page create a file; clipboard text pasted in the terminal arrives intact. */
async function telnetScenario(context: BrowserContext, ports: Ports): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tubes-browser-telnet-'));
  const t = await tap(ports.guacd_port);
  const gw = await startGateway('telnet', t.port, ['hostname=127.0.0.1', `port=${ports.telnet_port}`]);
  try {
    const page = await context.newPage();
    await connectPage(page, gw.web);
    await sleep(1_500); // the shell prompt
    await page.focus('#display');
    await page.keyboard.type(`touch ${dir}/typed-ok`, { delay: 15 });
    await page.keyboard.press('Enter');
    const typedMs = await waitFor(() => existsSync(path.join(dir, 'typed-ok')), 10_000, 'typed file').catch(
      () => -1,
    );

    const clipFile = path.join(dir, 'clip.txt');
    await page.keyboard.type(`cat > ${clipFile}`, { delay: 15 });
    await page.keyboard.press('Enter');
    await sleep(500);
    await page.evaluate((value) => {
      (globalThis as unknown as { tubesApp: { setClipboard(t: string): void } }).tubesApp.setClipboard(value);
    }, CLIPBOARD_TEXT);
    await sleep(300);
    const el = await page.evaluate(() => {
      const app = (globalThis as unknown as { tubesApp: { state: { client: PageAny } } }).tubesApp;
      const r = app.state.client.getDisplay().getElement().getBoundingClientRect();
      return { x: r.x as number, y: r.y as number };
    });
    await page.mouse.click(el.x + 20, el.y + 20, { button: 'middle' });
    await sleep(300);
    await page.keyboard.press('Enter');
    await sleep(200);
    await page.keyboard.press('Control+d');
    await waitFor(
      () => existsSync(clipFile) && readFileSync(clipFile, 'utf8').endsWith('\n'),
      10_000,
      'clip.txt',
    ).catch(() => {});
    const clip = existsSync(clipFile) ? readFileSync(clipFile, 'utf8') : null;

    // guacd → page: print the file on a cleared terminal and select its first rows with the mouse; the
    // terminal sends the selection as a clipboard stream
    await page.keyboard.type(`clear; cat ${clipFile}`, { delay: 15 });
    await page.keyboard.press('Enter');
    await sleep(800);
    await page.mouse.move(el.x + 1, el.y + 2);
    await page.mouse.down();
    await page.mouse.move(el.x + 500, el.y + 40, { steps: 8 });
    await page.mouse.up();
    const clipboardIn = () =>
      page.evaluate(
        () =>
          (globalThis as unknown as { tubesApp: { state: { clipboardIn: string } } }).tubesApp.state
            .clipboardIn,
      );
    await waitFor(async () => (await clipboardIn()).includes('Grüße'), 5_000, 'clipboard from guacd').catch(
      () => {},
    );
    const fromGuacd = await clipboardIn();
    const session = t.sessions[0] as TapSession;
    const toGuacd = text(session.toGuacd);
    const m = /9\.clipboard,(\d+)\.(\d+),10\.text\/plain;4\.blob,\d+\.\2,(\d+)\.([A-Za-z0-9+/=]+);/.exec(
      toGuacd,
    );
    console.log(
      JSON.stringify({
        scenario: 'telnet',
        typedFileMs: typedMs,
        clipboardFile: clip,
        clipboardAtGuacd: m ? Buffer.from(m[4] as string, 'base64').toString('utf8') : null,
        clipboardFromGuacd: fromGuacd,
        keyInstructions: (toGuacd.match(/3\.key,/g) ?? []).length,
        errors: (await appState(page)).error ?? null,
      }),
    );
    await page.close();
  } finally {
    gw.child.kill('SIGTERM');
    await new Promise((r) => gw.child.once('exit', r));
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a scanner makes of a stream pushed in chunks of `size` bytes: opcodes + args, or the error. */
function scanNode(bytes: Uint8Array, size: number, engine: 'js' | 'wasm' | 'wasm-simd'): string[] {
  const s = new GuacamoleScanner({ engine });
  const out: string[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    const b = s.push(bytes.subarray(at, at + size));
    for (let i = 0; i < b.count; i++) out.push(JSON.stringify([b.opcode(i), ...b.args(i)]));
    if (b.error) {
      out.push(`error ${b.error.code}`);
      break;
    }
  }
  s.dispose();
  return out;
}

/** Hot-path parity inside the page: the same fixtures through JS, Wasm and Wasm SIMD, and against Node. */
async function parityScenario(context: BrowserContext, web: string): Promise<void> {
  const page = await context.newPage();
  await page.goto(web, { waitUntil: 'load' });
  const streams: Record<string, Uint8Array> = {
    'guacd-sample vnc (guacd side)': guacdSample('guacd-sample.txt', 'S'),
    'guacd-sample vnc (client side)': guacdSample('guacd-sample.txt', 'C'),
    'guacd-sample telnet (guacd side)': guacdSample('guacd-sample-telnet.txt', 'S'),
    'non-ASCII values': Buffer.from(
      '9.clipboard,1.7,10.text/plain;4.blob,1.7,13.Grüße 日本語 😀;3.end,1.7;',
      'utf8',
    ),
    'invalid UTF-8': Buffer.concat([
      Buffer.from('4.sync,3.'),
      Buffer.from([0xe6, 0x97, 0x41]),
      Buffer.from(';'),
    ]),
    malformed: Buffer.from('4.sync,1.1;5.mouse,x.1;'),
  };
  const sizes = [1, 3, 17, 256, 100_000];
  const frames = Buffer.concat(GOLDEN_FRAMES.map((f) => hex(f.frame)));
  const node: Record<string, string[]> = {};
  for (const [name, bytes] of Object.entries(streams)) {
    for (const size of sizes) node[`${name} /${size}`] = scanNode(bytes, size, 'js');
  }
  const nodeFrames: string[] = [];
  new FrameDecoder({ engine: 'js' }).push(frames, (c, p) =>
    nodeFrames.push(`${c}:${Buffer.from(p).toString('hex')}`),
  );
  const encoded = Buffer.from(encodeFrame(7, Buffer.from('hello'), 1_700_000_000_000)).toString('hex');
  const input = Object.fromEntries(
    Object.entries(streams).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  );
  const result = await page.evaluate(
    ({ input, sizes, framesB64 }) => {
      // biome-ignore lint/suspicious/noExplicitAny: the bundle's namespace in the page
      const tubes = (globalThis as any).tubes;
      const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
      const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
      const engines = ['js', 'wasm', 'wasm-simd'];
      const out: Record<string, Record<string, string[]>> = {};
      const scannerEngines: Record<string, string> = {};
      const frames: Record<string, string[]> = {};
      for (const engine of engines) {
        out[engine] = {};
        for (const [name, data] of Object.entries(input)) {
          const bytes = b64(data as string);
          for (const size of sizes) {
            const s = new tubes.GuacamoleScanner({ engine });
            scannerEngines[engine] = s.engine;
            const list: string[] = [];
            for (let at = 0; at < bytes.length; at += size) {
              const b = s.push(bytes.subarray(at, at + size));
              for (let i = 0; i < b.count; i++) list.push(JSON.stringify([b.opcode(i), ...b.args(i)]));
              if (b.error) {
                list.push(`error ${b.error.code}`);
                break;
              }
            }
            s.dispose();
            (out[engine] as Record<string, string[]>)[`${name} /${size}`] = list;
          }
        }
        const fb = b64(framesB64);
        const got: string[] = [];
        const d = new tubes.FrameDecoder({ engine });
        for (let at = 0; at < fb.length; at += 5)
          d.push(fb.subarray(at, at + 5), (c: number, p: Uint8Array) => got.push(`${c}:${hexOf(p)}`));
        frames[engine] = got;
      }
      return {
        out,
        scannerEngines,
        frames,
        info: tubes.engineInfo(),
        isolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated,
      };
    },
    { input, sizes, framesB64: frames.toString('base64') },
  );
  const cases = Object.keys(node);
  const disagreements: string[] = [];
  for (const engine of ['js', 'wasm', 'wasm-simd']) {
    for (const c of cases) {
      if (JSON.stringify(result.out[engine]?.[c]) !== JSON.stringify(node[c]))
        disagreements.push(`${engine}: ${c}`);
    }
    if (JSON.stringify(result.frames[engine]) !== JSON.stringify(nodeFrames))
      disagreements.push(`${engine}: frames`);
  }
  const pageEncoded = await page.evaluate(() => {
    // biome-ignore lint/suspicious/noExplicitAny: page namespace
    const tubes = (globalThis as any).tubes;
    return tubes.engine() as string;
  });
  console.log(
    JSON.stringify({
      scenario: 'parity',
      cases: cases.length,
      instructions: Object.values(node).reduce((n, l) => n + l.length, 0),
      frames: nodeFrames.length,
      scannerEngines: result.scannerEngines,
      engineInfo: result.info,
      defaultEngine: pageEncoded,
      crossOriginIsolated: result.isolated,
      disagreements,
      nodeEncodedFrame: encoded,
    }),
  );
  await page.close();
}

/**
 * One tube, two connections (two Guacamole sessions through one data channel): both stream; closing the
 * second leaves the first running; keepalive RTT and the gateway's capabilities reach the page.
 */
async function multiScenario(context: BrowserContext, web: string): Promise<void> {
  const page = await context.newPage();
  await page.goto(web, { waitUntil: 'load' });
  const r = await page.evaluate(async (token) => {
    const w = globalThis as PageAny;
    const { tubes, Guacamole: G } = w;
    const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
    const until = async (pred: () => boolean, ms: number, what: string) => {
      const t0 = Date.now();
      while (!pred()) {
        if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}`);
        await sleep(50);
      }
    };
    // every control frame (conn 0) the page sends, as bytes on the wire
    const sent: string[] = [];
    const proto = w.RTCDataChannel.prototype;
    const send = proto.send;
    proto.send = function (this: unknown, d: Uint8Array) {
      const u = d instanceof Uint8Array ? d : new Uint8Array(d as ArrayBuffer);
      if (sent.length < 200 && u[0] === 0 && u[1] === 0 && u[2] === 0 && u[3] === 0) {
        sent.push(Array.from(u, (x) => x.toString(16).padStart(2, '0')).join(''));
      }
      return send.call(this, d);
    };
    const session = await tubes.connectToGateway({ url: '/tubes', token });
    await session.tube.opened;
    const open = () => {
      const tunnel = new tubes.TubeTunnel({ tube: session.tube, Guacamole: G, closeTubeOnDisconnect: false });
      const client = new G.Client(tunnel);
      const s = { tunnel, client, syncs: 0 };
      client.onsync = () => {
        s.syncs++;
      };
      client.connect();
      return s;
    };
    const a = open();
    await until(() => a.syncs > 0, 15_000, 'first session syncs');
    const b = open();
    await until(() => b.syncs > 0, 15_000, 'second session syncs');
    const connNos = [a.tunnel.connection.connNo, b.tunnel.connection.connNo];
    const openBoth = session.tube.connections.length;
    b.client.disconnect();
    const aBefore = a.syncs;
    await sleep(2_500);
    await until(() => session.tube.rttMs !== undefined, 8_000, 'keepalive RTT');
    // flow control: FlowPause stops the gateway reading guacd for this connection, FlowResume restarts it
    const conn = a.tunnel.connection;
    const paused = conn.setReceivePaused(true);
    await sleep(700); // what was in flight
    const atPause = a.syncs;
    await sleep(3_000);
    const syncsWhilePaused = a.syncs - atPause;
    const resumed = conn.setReceivePaused(false);
    const atResume = a.syncs;
    await until(() => a.syncs > atResume, 10_000, 'syncs after FlowResume');
    const result = {
      connNos,
      openBoth,
      openAfter: session.tube.connections.length,
      secondState: b.tunnel.state,
      secondClose: b.tunnel.lastClose ?? null,
      firstSyncsAfter: a.syncs - aBefore,
      firstState: a.tunnel.state,
      tubeState: session.tube.state,
      peerCapabilities: session.tube.peerCapabilities,
      rttMs: session.tube.rttMs,
      flow: { paused, resumed, syncsWhilePaused, syncsAfterResume: a.syncs - atResume },
      conversationId: session.tube.conversationId,
    };
    a.client.disconnect();
    await session.close();
    proto.send = send;
    return { ...result, closeInfo: session.tube.closeInfo, sent };
  }, TOKEN);
  // the same control messages encoded by the Node side's modules (timestamps aside)
  const expected = new Map<string, string>([
    ['probe Ping', hexOf(encodePing(0, capabilityProbeBody()))],
    ['capability Pong', hexOf(encodePong(0, capabilityAnswerBody(Capability.FlowControl)))],
    ['OpenConnection 1', hexOf(encodeOpenConnection(1))],
    ['OpenConnection 2', hexOf(encodeOpenConnection(2))],
    ['CloseConnection 2 Normal', hexOf(encodeCloseConnection(2, 0))],
    ['CloseConnection 1 Normal', hexOf(encodeCloseConnection(1, 0))],
    ['CloseConnection 0 Normal', hexOf(encodeCloseConnection(0, 0))],
    ['FlowPause 1', hexOf(encodeFlowPause(1))],
    ['FlowResume 1', hexOf(encodeFlowResume(1))],
  ]);
  const seen: string[] = [];
  const unmatched: string[] = [];
  let keepalives = 0;
  let echoes = 0;
  for (const frame of r.sent) {
    const b = Buffer.from(frame, 'hex');
    const length = b.readUInt32BE(12);
    const payload = b.subarray(16, 16 + length).toString('hex');
    const wellFormed = b.length === 17 + length && b[16 + length] === 0x3b;
    const name = [...expected].find(([, hex]) => hex === payload)?.[0];
    if (wellFormed && name) seen.push(name);
    else if (wellFormed && payload.startsWith('000100000000') && length === 14) keepalives++;
    else if (wellFormed && payload.startsWith('000200000000') && length === 14)
      echoes++; // the gateway's pings
    else unmatched.push(frame);
  }
  const { sent: _sent, ...rest } = r;
  console.log(
    JSON.stringify({
      scenario: 'multi',
      ...rest,
      wire: { frames: r.sent.length, seen, keepalives, echoes, unmatched, expected: [...expected.keys()] },
    }),
  );
  await page.close();
}

/**
 * Close reasons reach the page. guacd unreachable: the gateway's CloseConnection(conn, ConnectionFailed) becomes
 * the tunnel's onerror (UPSTREAM_NOT_FOUND) with the reason on the connection. guacd up but the VNC server
 * down: guacd's own `error` instruction (519) reaches Guacamole.Client.
 */
async function errorScenario(context: BrowserContext, guacdPort: number, vncPort: number): Promise<void> {
  const deadPort = async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  };
  const run = async (gw: Gateway, what: 'tunnelError' | 'error') => {
    const page = await context.newPage();
    await page.goto(gw.web, { waitUntil: 'load' });
    await page.fill('#token', TOKEN);
    await page.click('#connect');
    await waitFor(
      async () => page.evaluate((k) => (globalThis as PageAny).tubesApp.state[k] !== undefined, what),
      15_000,
      what,
    ).catch(() => {});
    const r = await page.evaluate(() => {
      const s = (globalThis as PageAny).tubesApp.state;
      return {
        status: s.status as string,
        clientError: s.error ?? null,
        tunnelError: s.tunnelError ?? null,
        connectionClose: s.tunnel?.lastClose ?? null,
        lastOpcodes: s.lastOpcodes,
      };
    });
    await page.close();
    return r;
  };
  const noGuacd = await startGateway('vnc', await deadPort(), ['hostname=127.0.0.1', 'port=5900']);
  let unreachable: unknown;
  try {
    unreachable = await run(noGuacd, 'tunnelError');
  } finally {
    noGuacd.child.kill('SIGTERM');
    await new Promise((r) => noGuacd.child.once('exit', r));
  }
  const noVnc = await startGateway('vnc', guacdPort, ['hostname=127.0.0.1', `port=${await deadPort()}`]);
  let vncDown: unknown;
  try {
    vncDown = await run(noVnc, 'error');
  } finally {
    noVnc.child.kill('SIGTERM');
    await new Promise((r) => noVnc.child.once('exit', r));
  }
  // the gateway is stopped under a live session: the page learns AdminClosed from the tube
  const live = await startGateway('vnc', guacdPort, ['hostname=127.0.0.1', `port=${vncPort}`]);
  const page = await context.newPage();
  let adminClosed: unknown;
  try {
    await connectPage(page, live.web);
    live.child.kill('SIGTERM');
    await waitFor(
      async () => page.evaluate(() => (globalThis as PageAny).tubesApp.state.lastCloseInfo !== undefined),
      10_000,
      'tube closed by the stopping gateway',
    ).catch(() => {});
    adminClosed = await page.evaluate(() => {
      const s = (globalThis as PageAny).tubesApp.state;
      return { status: s.status as string, tubeClose: s.lastCloseInfo ?? null };
    });
  } finally {
    await page.close();
    if (live.child.exitCode === null) live.child.kill('SIGKILL');
  }
  console.log(JSON.stringify({ scenario: 'error', guacdUnreachable: unreachable, vncDown, adminClosed }));
}

interface Ports {
  guacd_port: number;
  vnc_port: number;
  telnet_port: number;
}

async function main(): Promise<void> {
  const artifacts = path.resolve(process.argv[2] ?? path.join(ROOT, 'test-artifacts'));
  mkdirSync(artifacts, { recursive: true });
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'tubes-browser-chromium-'));
  const peers = await startPeers(['guacd', 'xvnc', 'telnetd']);
  let context: BrowserContext | undefined;
  try {
    const ports: Ports = {
      guacd_port: peers.port('guacd'),
      vnc_port: peers.port('xvnc'),
      telnet_port: peers.port('telnetd'),
    };
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 800 },
      timeout: 30_000,
    });
    const only = process.env['BROWSER_E2E_ONLY'];
    if (!only || only === 'vnc') await vncScenarios(context, ports, artifacts);
    if (!only || only === 'telnet') await telnetScenario(context, ports);
    if (!only || only === 'error') await errorScenario(context, ports.guacd_port, ports.vnc_port);
    if (!only || only === 'parity') {
      const t = await tap(ports.guacd_port);
      const gw = await startGateway('vnc', t.port, ['hostname=127.0.0.1', `port=${ports.vnc_port}`]);
      try {
        await parityScenario(context, gw.web);
        await multiScenario(context, gw.web);
      } finally {
        gw.child.kill('SIGTERM');
        await t.close();
      }
    }
  } finally {
    await context?.close();
    await peers.stop();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const guard = setTimeout(() => {
    console.error('browser-e2e: overall timeout');
    process.exit(3);
  }, 170_000);
  main()
    .then(() => {
      clearTimeout(guard);
      process.exit(0);
    })
    .catch((err: unknown) => {
      console.error(`browser-e2e failed: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    });
}
