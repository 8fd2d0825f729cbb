/**
 * `npm run bench:browser`: the browser end of a tube in Chromium (Debian's /usr/bin/chromium via
 * playwright-core), inside a private network namespace with only `lo` (re-executes itself under
 * `unshare -n`; needs root, guacd 1.3 and telnetd, see scripts/peers/):
 *
 * 1. decode rate in the page: instructions/s of the GuacamoleScanner per engine (js, wasm, wasm-simd, auto)
 *    on the recorded guacd stream (test/fixtures/guacd-sample.txt, guacd side) repeated to 1 MiB and pushed
 *    in 16 KiB chunks (the gateway's batch size);
 * 2. input-to-display latency: a key press sent by Guacamole.Client → guacd (telnet) echoes it → the glyph
 *    is drawn (the sync after the drawing instructions, then Guacamole.Display.flush), through the tube
 *    (`tubes gateway --guacd … --web`, the page's own WebRTC) and through guacamole-lite (WebSocket relay),
 *    against the same guacd and telnetd, same page, same run, interleaved.
 *
 * Options: --samples n (key presses per path and round, default 40), --json.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { machine } from '../src/bench/lib.ts';
import { startGateway, TOKEN } from '../test/helpers/browser-e2e.ts';
import { guacdSample } from '../test/helpers/hotpath.ts';
import { CHROMIUM, CHROMIUM_FLAGS } from '../test/helpers/interop-chromium.ts';
import { spawnNodeInLoopbackNetns } from '../test/helpers/netns.ts';
import { runCommand } from '../test/helpers/peers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const SAMPLES = Number(args[args.indexOf('--samples') + 1]) || 40;
const JSON_OUT = args.includes('--json');

function reexecInNetns(): Promise<number> {
  const child = spawnNodeInLoopbackNetns(fileURLToPath(import.meta.url), args, {
    stdio: 'inherit',
    env: { ...process.env, TUBES_BENCH_NETNS: '1' },
  });
  return new Promise((r) => child.once('close', (c) => r(c ?? 1)));
}

interface GuacLiteServer {
  port: number;
  token: string;
  close(): void;
}

/** guacamole-lite on 127.0.0.1:0 with a token for a telnet session (its AES-256-CBC token format). */
async function guacamoleLite(guacdPort: number, telnetPort: number): Promise<GuacLiteServer> {
  const require = createRequire(import.meta.url);
  const GuacamoleLite = require('guacamole-lite') as new (
    ws: { server: http.Server },
    guacd: { host: string; port: number },
    client: Record<string, unknown>,
  ) => { close?: () => void };
  const Crypt = require('guacamole-lite/lib/Crypt.js') as new (
    c: string,
    k: string,
  ) => { encrypt(o: unknown): string };
  const key = 'tubes-bench-key-32-bytes-long!!!';
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  new GuacamoleLite(
    { server },
    { host: '127.0.0.1', port: guacdPort },
    {
      crypt: { cypher: 'AES-256-CBC', key },
      log: { level: 0, stdLog: () => {}, errorLog: () => {} },
      maxInactivityTime: 0,
    },
  );
  const token = new Crypt('AES-256-CBC', key).encrypt({
    connection: { type: 'telnet', settings: { hostname: '127.0.0.1', port: String(telnetPort) } },
  });
  return {
    port: (server.address() as { port: number }).port,
    token,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
  return { n: s.length, median: q(0.5), p90: q(0.9), min: s[0] as number, max: s.at(-1) as number };
};

async function main(): Promise<void> {
  const build = await runCommand(process.execPath, ['scripts/build-browser.mjs'], { cwd: ROOT });
  if (build.code !== 0) throw new Error(build.stderr);
  const state = mkdtempSync(path.join(tmpdir(), 'tubes-bench-browser-'));
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'tubes-bench-chromium-'));
  const env = { ...process.env, PEERS_GUACD_PORT: '0', PEERS_TELNET_PORT: '0' };
  const up = await runCommand(
    'bash',
    [path.join(ROOT, 'scripts/peers/peers-up.sh'), state, 'guacd', 'telnetd'],
    { env },
  );
  if (up.code !== 0) throw new Error(`peers-up.sh: ${up.stderr}`);
  const ports = JSON.parse(readFileSync(path.join(state, 'ports.json'), 'utf8')) as Record<string, number>;
  const guacdPort = ports['guacd_port'] as number;
  const telnetPort = ports['telnet_port'] as number;
  const gw = await startGateway('telnet', guacdPort, ['hostname=127.0.0.1', `port=${telnetPort}`]);
  const lite = await guacamoleLite(guacdPort, telnetPort);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    bypassCSP: true, // the bench page also opens the WebSocket of guacamole-lite (another port)
    viewport: { width: 1024, height: 768 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(gw.web, { waitUntil: 'load' });
    const version = context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));

    // ---- 1. decode rate per engine in the page
    const sample = guacdSample('guacd-sample.txt', 'S');
    const reps = Math.ceil((1024 * 1024) / sample.length);
    const stream = Buffer.concat(Array.from({ length: reps }, () => sample));
    const decode = await page.evaluate(
      async ({ b64 }) => {
        // biome-ignore lint/suspicious/noExplicitAny: the bundle's namespace in the page
        const tubes = (globalThis as any).tubes;
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const CHUNK = 16 * 1024;
        const out: Record<
          string,
          { instructionsPerSecond: number; mibPerSecond: number; instructions: number; engine: string }
        > = {};
        for (const engine of ['js', 'wasm', 'wasm-simd', 'auto']) {
          const runs: number[] = [];
          let count = 0;
          let used = '';
          for (let round = 0; round < 7; round++) {
            const s = new tubes.GuacamoleScanner({ engine });
            used = s.engine;
            count = 0;
            const t0 = performance.now();
            for (let at = 0; at < bytes.length; at += CHUNK)
              count += s.push(bytes.subarray(at, at + CHUNK)).count;
            const ms = performance.now() - t0;
            s.dispose();
            if (round >= 2) runs.push(ms); // 2 warm-up rounds
            await new Promise((r) => setTimeout(r, 0));
          }
          runs.sort((a, b) => a - b);
          const ms = runs[Math.floor(runs.length / 2)] as number;
          out[engine] = {
            instructionsPerSecond: Math.round(count / (ms / 1000)),
            mibPerSecond: Number((bytes.length / 1048576 / (ms / 1000)).toFixed(1)),
            instructions: count,
            engine: used,
          };
        }
        return out;
      },
      { b64: stream.toString('base64') },
    );

    // ---- 2. input-to-display latency: tube vs guacamole-lite, interleaved rounds
    await page.fill('#token', TOKEN);
    await page.click('#connect');
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { tubesApp: { state: { status: string } } }).tubesApp.state.status ===
        'connected',
      undefined,
      { timeout: 20_000 },
    );
    await page.evaluate(
      async ({ wsUrl, token }) => {
        // biome-ignore lint/suspicious/noExplicitAny: guacamole-common-js in the page
        const w = globalThis as any;
        const G = w.Guacamole;
        const tunnel = new G.WebSocketTunnel(wsUrl);
        const client = new G.Client(tunnel);
        w.document.body.appendChild(client.getDisplay().getElement());
        client.onsync = () => {
          w.liteSyncs = (w.liteSyncs ?? 0) + 1;
        };
        w.lite = { client, tunnel };
        client.connect(`token=${encodeURIComponent(token)}`);
        const t0 = Date.now();
        while (!(w.liteSyncs > 0)) {
          if (Date.now() - t0 > 20_000) throw new Error('guacamole-lite session did not start');
          await new Promise((r) => setTimeout(r, 50));
        }
      },
      { wsUrl: `ws://127.0.0.1:${lite.port}/`, token: lite.token },
    );
    await page.waitForTimeout(1_500); // both shell prompts
    const measure = (which: 'tube' | 'lite', n: number) =>
      page.evaluate(
        async ({ which, n }) => {
          // biome-ignore lint/suspicious/noExplicitAny: guacamole-common-js in the page
          const w = globalThis as any;
          const { client, tunnel } =
            which === 'tube' ? { client: w.tubesApp.state.client, tunnel: w.tubesApp.state.tunnel } : w.lite;
          const display = client.getDisplay();
          const original = tunnel.oninstruction;
          let waiting: { t0: number; drew: boolean; resolve: (ms: number) => void } | null = null;
          tunnel.oninstruction = (op: string, a: string[]) => {
            original.call(tunnel, op, a);
            const wt = waiting;
            if (wt === null) return;
            if (op === 'sync') {
              if (!wt.drew) return;
              waiting = null;
              display.flush(() => wt.resolve(performance.now() - wt.t0));
            } else if (op !== 'nop' && op !== '') wt.drew = true;
          };
          const press = (keysym: number) =>
            new Promise<number>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error(`no echo for ${keysym} on ${which}`)), 5_000);
              waiting = {
                t0: performance.now(),
                drew: false,
                resolve: (ms) => {
                  clearTimeout(timer);
                  resolve(ms);
                },
              };
              client.sendKeyEvent(1, keysym);
              client.sendKeyEvent(0, keysym);
            });
          const samples: number[] = [];
          try {
            for (let i = 0; i < n; i++) {
              samples.push(await press(0x61)); // 'a' echoed
              await press(0xff08); // BackSpace erases it
              await new Promise((r) => setTimeout(r, 20));
            }
          } finally {
            tunnel.oninstruction = original;
          }
          return samples;
        },
        { which, n },
      );
    const tube: number[] = [];
    const relay: number[] = [];
    for (let round = 0; round < 2; round++) {
      tube.push(...(await measure('tube', SAMPLES)));
      relay.push(...(await measure('lite', SAMPLES)));
    }
    const rtt = await page.evaluate(
      () =>
        (globalThis as unknown as { tubesApp: { state: { session: { tube: { rttMs?: number } } } } }).tubesApp
          .state.session.tube.rttMs,
    );
    const result = {
      bench: 'browser',
      machine: machine(['werift', 'guacamole-common-js', 'guacamole-lite', 'playwright-core']),
      chromium: version,
      decode: {
        stream: `guacd-sample.txt (guacd side) ×${reps} = ${stream.length} B, 16 KiB pushes`,
        ...decode,
      },
      latencyMs: {
        tube: stats(tube),
        guacamoleLite: stats(relay),
        samplesPerPath: tube.length,
        tubeKeepaliveRttMs: rtt,
      },
    };
    if (JSON_OUT) console.log(JSON.stringify(result));
    else {
      console.log(`Chromium ${version}; ${JSON.stringify(result.machine)}`);
      console.log(`\ndecode (${result.decode.stream})`);
      for (const e of ['js', 'wasm', 'wasm-simd', 'auto'] as const) {
        const d = decode[e];
        if (d)
          console.log(
            `  ${e.padEnd(10)} ${(d.instructionsPerSecond / 1e6).toFixed(2)} M instr/s  ${d.mibPerSecond} MiB/s  (${d.engine})`,
          );
      }
      const fmt = (s: ReturnType<typeof stats>) =>
        `median ${s.median.toFixed(1)} ms  p90 ${s.p90.toFixed(1)} ms  min ${s.min.toFixed(1)}  max ${s.max.toFixed(1)}  (n=${s.n})`;
      console.log('\nkey press → echoed glyph drawn (telnet via guacd)');
      console.log(`  tube (WebRTC)            ${fmt(result.latencyMs.tube)}`);
      console.log(`  guacamole-lite (WS)      ${fmt(result.latencyMs.guacamoleLite)}`);
    }
  } finally {
    await context.close();
    lite.close();
    gw.child.kill('SIGTERM');
    await runCommand('bash', [path.join(ROOT, 'scripts/peers/peers-down.sh'), state]);
    rmSync(state, { recursive: true, force: true });
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

if (process.env['TUBES_BENCH_NETNS'] === '1') {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`bench:browser failed: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
} else {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    console.error('bench:browser needs root (unshare -n for a private network namespace with only lo)');
    process.exit(2);
  }
  process.exit(await reexecInNetns());
}
