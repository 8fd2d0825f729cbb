/**
 * `webrtc-tubes/browser` in real Chromium against real guacd 1.3 (Xvnc + xclock, telnetd), through
 * `tubes gateway --guacd … --web`, inside a private network namespace with only `lo`
 * (test/helpers/browser-e2e.ts does the work and prints one JSON line per scenario):
 * - VNC: the page's display is an 800×600 image that is not blank (pixel statistics; PNG kept in
 *   test-artifacts/), sync round trips flow, resizing the page sends `size` to guacd;
 * - reload: the old tube is closed on the gateway within 5 s (and its guacd connection), a new session works;
 * - telnet: keys typed in the page create a file on the host; clipboard "Grüße 日本語 😀" set in the page
 *   arrives intact (in guacd's terminal and in the file), and a selection in the terminal comes back to the page;
 * - one tube, two connections (two Guacamole sessions), keepalive RTT and capabilities in the page;
 * - close reasons: guacd's error code and the tube's GuacdError reach the page;
 * - hot-path parity: the same fixtures through the JS, Wasm and Wasm SIMD engines in Chromium agree with Node.
 * Skips loudly when Chromium, playwright-core, root (for `unshare -n`) or the guacd peers are missing.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnNodeInLoopbackNetns } from '../helpers/netns.ts';
import { requireTools, runCommand } from '../helpers/peers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const CHROMIUM = process.env['TUBES_CHROMIUM'] ?? '/usr/bin/chromium';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const havePlaywright = existsSync(path.join(ROOT, 'node_modules/playwright-core/package.json'));
const chromiumMissing = [
  existsSync(CHROMIUM) ? '' : `${CHROMIUM} (apt-get install -y chromium; scripts/peers/install-apt.sh)`,
  havePlaywright ? '' : 'playwright-core (npm install)',
  isRoot && existsSync('/usr/bin/unshare') ? '' : 'root + unshare for a private network namespace',
].filter(Boolean);
if (chromiumMissing.length > 0) {
  console.warn(`\n######## SKIPPED: browser end to end needs ${chromiumMissing.join(', ')} ########\n`);
}
const peersMissing = requireTools(['guacd', 'Xvnc', 'xclock', 'xsetroot', 'socat', 'telnetd', 'ip']);
const skip = chromiumMissing.length > 0 || peersMissing !== undefined;

type Result = Record<string, unknown>;

describe.skipIf(skip)('browser end of a tube: Chromium ↔ tubes gateway --web ↔ real guacd', () => {
  let results: Map<string, Result>;

  beforeAll(async () => {
    const build = await runCommand(process.execPath, ['scripts/build-browser.mjs'], {
      cwd: ROOT,
      timeout: 60_000,
    });
    if (build.code !== 0) throw new Error(`scripts/build-browser.mjs failed: ${build.stderr}`);
    const child = spawnNodeInLoopbackNetns('test/helpers/browser-e2e.ts', [ARTIFACTS], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TUBES_CHROMIUM: CHROMIUM },
    });
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.stderr?.setEncoding('utf8').on('data', (t: string) => (err = (err + t).slice(-8000)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    clearTimeout(killer);
    const lines = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Result);
    for (const r of lines) console.log(`[browser-e2e] ${JSON.stringify(r)}`);
    if (code !== 0) throw new Error(`browser-e2e helper exited ${code}\n${out}\n${err}`);
    results = new Map(lines.map((r) => [String(r['scenario']), r]));
  }, 200_000);

  it('VNC: a non-blank 800×600 display in the page, sync round trips, resizing the page sends size', () => {
    const r = results.get('vnc') as Result;
    expect(r).toBeDefined();
    expect(r['errors']).toBeNull();
    expect(r['crossOriginIsolated']).toBe(true);
    const d = r['display'] as Record<string, number>;
    expect(d['width']).toBe(800);
    expect(d['height']).toBe(600);
    expect(d['opaqueFraction']).toBe(1);
    expect(d['nonBlackFraction']).toBeGreaterThan(0.5);
    expect(d['distinctColours']).toBeGreaterThan(10); // background, clock face, antialiased hands
    expect(d['background336699Fraction']).toBeGreaterThan(0.3); // xsetroot -solid '#336699'
    expect(statSync(r['pngPath'] as string).size).toBeGreaterThan(1000);
    // the clock redraws every second: guacd syncs, the page answers each (sync replies seen at guacd)
    expect(r['syncsIn3s']).toBeGreaterThanOrEqual(2);
    expect(r['syncRepliesAtGuacd']).toBeGreaterThanOrEqual(2);
    const resize = r['resize'] as {
      box: { width: number; height: number };
      sizesAtGuacd: number[][];
      handshake: boolean;
    };
    expect(resize.handshake).toBe(true);
    expect(resize.sizesAtGuacd.at(-1)).toEqual([resize.box.width, resize.box.height]);
    expect(resize.box.width).toBe(1000);
  });

  it('reload: the old tube is closed on the gateway within 5 s, then a new session works', () => {
    const r = results.get('reload') as Result;
    expect(r).toBeDefined();
    expect(r['oldSessionClosedMs']).toBeGreaterThanOrEqual(0);
    expect(r['oldSessionClosedMs']).toBeLessThan(5_000);
    expect(r['oldGuacdConnectionClosedMs']).toBeGreaterThanOrEqual(0);
    expect(r['oldGuacdConnectionClosedMs']).toBeLessThan(5_000);
    expect(r['newGuacdConnections']).toBe(1);
    expect(r['openGuacdConnections']).toBe(1); // only the new session's
    expect(r['syncsAfterReload']).toBeGreaterThanOrEqual(1);
  });

  it('telnet: keys typed in the page create a file; clipboard "Grüße 日本語 😀" round-trips intact', () => {
    const r = results.get('telnet') as Result;
    expect(r).toBeDefined();
    expect(r['errors']).toBeNull();
    expect(r['typedFileMs']).toBeGreaterThanOrEqual(0);
    expect(r['clipboardAtGuacd']).toBe('Grüße 日本語 😀');
    expect(r['clipboardFile']).toBe('Grüße 日本語 😀\n');
    expect(r['clipboardFromGuacd']).toContain('Grüße 日本語 😀');
  });

  it('one tube, two connections: both stream, closing one keeps the other; flow control, RTT, capabilities, wire bytes', () => {
    const r = results.get('multi') as Result;
    expect(r).toBeDefined();
    expect(r['connNos']).toEqual([1, 2]);
    expect(r['openBoth']).toBe(2);
    expect(r['openAfter']).toBe(1);
    expect(r['secondState']).toBe(2); // Guacamole.Tunnel.State.CLOSED
    expect(r['secondClose']).toMatchObject({ reason: 0, name: 'Normal', initiator: 'local' });
    expect(r['firstState']).toBe(1); // OPEN
    expect(r['firstSyncsAfter']).toBeGreaterThanOrEqual(1);
    expect(r['tubeState']).toBe('open');
    expect(r['peerCapabilities']).toBe(3); // the gateway answered the probe: flow control + UDP relay
    expect(r['rttMs']).toBeGreaterThanOrEqual(0);
    // FlowPause from the page stops that session's stream (xclock redraws every second), FlowResume restarts it
    expect(r['flow']).toMatchObject({ paused: true, resumed: true, syncsWhilePaused: 0 });
    expect((r['flow'] as Result)['syncsAfterResume']).toBeGreaterThanOrEqual(1);
    expect(r['closeInfo']).toMatchObject({ reason: 0, initiator: 'local' });
    // every control frame the page sent is byte for byte what the Node side's encoders make (timestamps aside)
    const wire = r['wire'] as { seen: string[]; keepalives: number; unmatched: string[]; expected: string[] };
    expect(wire.unmatched).toEqual([]);
    expect([...new Set(wire.seen)].sort()).toEqual([...wire.expected].sort());
    expect(wire.keepalives).toBeGreaterThanOrEqual(1);
  });

  it('close reasons reach the page: guacd unreachable → tunnel onerror 0x0207 from ConnectionFailed; gateway stopped → AdminClosed', () => {
    const r = results.get('error') as Result;
    expect(r).toBeDefined();
    const unreachable = r['guacdUnreachable'] as Result;
    expect(unreachable['tunnelError']).toMatchObject({ code: 0x0207 });
    expect(unreachable['connectionClose']).toMatchObject({
      reason: 10,
      name: 'ConnectionFailed',
      initiator: 'remote',
      isRetryable: true,
    });
    expect(String((unreachable['connectionClose'] as Result)['message'])).toMatch(/ECONNREFUSED/);
    // guacd up, VNC server down: guacd 1.3 reports error 519 (or, now and then, only `disconnect`)
    const vncDown = r['vncDown'] as Result;
    if ((vncDown['lastOpcodes'] as string[]).includes('error')) {
      expect(vncDown['clientError']).toMatchObject({ code: 519 });
      expect(vncDown['status']).toMatch(/^error 0x0207/);
    } else expect(vncDown['lastOpcodes']).toEqual(['disconnect']);
    // the gateway stops under a live session: AdminClosed reaches the page
    const admin = r['adminClosed'] as Result;
    expect(admin['tubeClose']).toMatchObject({ reason: 12, name: 'AdminClosed', initiator: 'remote' });
    expect(admin['status']).toMatch(/^closed: AdminClosed \(12\)/);
  });

  it('hot-path parity in Chromium: JS, Wasm and Wasm SIMD agree with each other and with Node', () => {
    const r = results.get('parity') as Result;
    expect(r).toBeDefined();
    expect(r['scannerEngines']).toEqual({ js: 'js', wasm: 'wasm', 'wasm-simd': 'wasm-simd' });
    expect(r['engineInfo']).toMatchObject({ engine: 'wasm-simd', wasm: { wasm: true, 'wasm-simd': true } });
    expect(r['cases']).toBe(30);
    expect(r['instructions']).toBeGreaterThan(100);
    expect(r['disagreements']).toEqual([]);
  });
});
