/**
 * `tubes bench guacd` (npm run bench:guacd): the guacd relay. No guacd is needed: a fake guacd (below)
 * does the handshake and streams synthetic guacd-shaped output.
 *
 * 1. Relay: GuacdRelay (scanner + whole-instruction framing + frame encoding, what the gateway does per
 *    guacd read) over two streams shaped like guacd 1.3 output, fed in socket-read-sized chunks, on every
 *    scanner engine in the same run: instructions/s and MB/s of guacd output.
 *    - display: `img` + `blob` (guacd's 6,048-byte blobs → 8,064 base64 characters) + `end`, a `sync` every
 *      8 images, image sizes 2–40 KB, read in 64 KiB chunks;
 *    - interactive: one read per keystroke echo (`rect`, `cfill`, a small glyph `img`/`blob`/`end`, `sync`).
 * 2. End to end through a real tube pair (two werift tubes in this process, loopback): a fake guacd does the
 *    handshake and then streams; the Guacamole client on the offerer's local listener parses everything.
 *    - display throughput per engine (TUBES_HOTPATH switched between runs), and the same bytes through a
 *      `tunnel` mode pair (no parsing) as the baseline of this process and machine;
 *    - `sync` latency guacd → client, p50/p99, against the same fake guacd read directly over TCP (the
 *      difference is what the tube adds), idle and under ~6 MB/s of display traffic.
 */

import net from 'node:net';
import { cpus, loadavg } from 'node:os';
import { GuacdRelay, type GuacdRelaySink } from '../channel/guacd.ts';
import { UsageError } from '../cli/cli-common.ts';
import { connectTubes, LOOPBACK } from '../cli/remote.ts';
import {
  type EngineChoice,
  encodeFrame,
  encodeInstruction,
  GuacamoleScanner,
  resetEnginesForTests,
  resolveEngine,
} from '../hotpath/internal.ts';
import { TubeRegistry } from '../index.ts';
import { barChart, type Chart } from './charts.ts';
import { machine } from './lib.ts';
import type { BenchContext, BenchDef, BenchOutput, BenchValues } from './types.ts';

let ROUNDS = 3;
let TIME_MS = 300;
let SAMPLES = 600;
const ENGINES: EngineChoice[] = ['js', 'wasm', 'wasm-simd', 'auto'];
const enc = encodeInstruction;

// ---- streams ------------------------------------------------------------------------------------------

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function base64Of(bytes: number, r: () => number): string {
  const b = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) b[i] = Math.floor(r() * 256);
  return b.toString('base64');
}

interface Stream {
  name: string;
  reads: Buffer[];
  bytes: number;
  instructions: number;
}

function displayStream(totalBytes: number): Stream {
  const r = rng(11);
  let text = '';
  let instructions = 0;
  for (let img = 0; text.length < totalBytes; img++) {
    const stream = String(img % 64);
    text += enc('img', stream, '14', '0', 'image/png', String((img * 37) % 800), String((img * 53) % 600));
    let left = 2_000 + Math.floor(r() * 38_000);
    instructions++;
    while (left > 0) {
      const n = Math.min(6048, left);
      text += enc('blob', stream, base64Of(n, r));
      left -= n;
      instructions++;
    }
    text += enc('end', stream);
    instructions++;
    if (img % 8 === 7) {
      text += enc('sync', String(1_700_000_000_000 + img), '1');
      instructions++;
    }
  }
  const all = Buffer.from(text, 'latin1');
  const reads: Buffer[] = [];
  for (let at = 0; at < all.length; at += 65_536) reads.push(all.subarray(at, at + 65_536));
  return { name: 'display (img+blob, 64 KiB reads)', reads, bytes: all.length, instructions };
}

function interactiveStream(keystrokes: number): Stream {
  const r = rng(5);
  const reads: Buffer[] = [];
  let bytes = 0;
  let instructions = 0;
  for (let k = 0; k < keystrokes; k++) {
    const x = String((k % 80) * 9);
    const y = String((Math.floor(k / 80) % 24) * 18);
    const text =
      enc('rect', '0', x, y, '9', '18') +
      enc('cfill', '14', '0', '0', '0', '0', '255') +
      enc('img', '1', '12', '0', 'image/png', x, y) +
      enc('blob', '1', base64Of(96 + Math.floor(r() * 64), r)) +
      enc('end', '1') +
      enc('sync', String(1_700_000_000_000 + k), '1');
    const b = Buffer.from(text, 'latin1');
    reads.push(b);
    bytes += b.length;
    instructions += 6;
  }
  return { name: 'interactive (keystroke echo per read)', reads, bytes, instructions };
}

// ---- 1. relay -----------------------------------------------------------------------------------------

interface RelayRow {
  stream: string;
  engine: string;
  ran: string;
  instructionsPerSec: number;
  mbPerSec: number;
  framesPerRead: number;
}

function relayOnce(s: Stream, engine: EngineChoice): { ms: number; frames: number; ran: string } {
  let sinkBytes = 0;
  let frames = 0;
  const sink: GuacdRelaySink = {
    send: (p) => {
      sinkBytes += encodeFrame(1, p).length; // what the channel does with every frame
      frames++;
    },
    close: () => {
      throw new Error('relay closed the stream');
    },
    recordChannelReason: () => {},
    signal: () => {},
  };
  const relay = new GuacdRelay(sink, { engine });
  const t0 = performance.now();
  for (const read of s.reads) relay.push(read);
  const ms = performance.now() - t0;
  if (relay.instructions !== s.instructions)
    throw new Error(`relayed ${relay.instructions} of ${s.instructions}`);
  if (sinkBytes < s.bytes) throw new Error('short relay');
  const ran = relay.engine;
  relay.dispose();
  return { ms, frames, ran };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

function benchRelay(streams: Stream[]): RelayRow[] {
  const rows: RelayRow[] = [];
  for (const s of streams) {
    const perEngine = new Map<EngineChoice, { rates: number[]; frames: number; ran: string }>();
    for (const e of ENGINES) perEngine.set(e, { rates: [], frames: 0, ran: '' });
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ENGINES : [...ENGINES].reverse();
      for (const e of order) {
        relayOnce(s, e); // warm-up
        let ms = 0;
        let passes = 0;
        let frames = 0;
        let ran = '';
        while (ms < TIME_MS) {
          const r = relayOnce(s, e);
          ms += r.ms;
          frames = r.frames;
          ran = r.ran;
          passes++;
        }
        const cell = perEngine.get(e)!;
        cell.rates.push((passes * s.bytes) / (ms / 1000));
        cell.frames = frames;
        cell.ran = ran;
      }
    }
    for (const e of ENGINES) {
      const cell = perEngine.get(e)!;
      const bytesPerSec = median(cell.rates);
      rows.push({
        stream: s.name,
        engine: e,
        ran: cell.ran,
        mbPerSec: bytesPerSec / 1e6,
        instructionsPerSec: (bytesPerSec / s.bytes) * s.instructions,
        framesPerRead: cell.frames / s.reads.length,
      });
    }
  }
  return rows;
}

// ---- 2. end to end --------------------------------------------------------------------------------------

/** A fake guacd: handshake (unless `direct`), then `onReady(socket)`. */
async function fakeGuacd(onReady: (s: net.Socket) => void, direct = false): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on('error', () => {});
    if (direct) {
      onReady(s);
      return;
    }
    let got = '';
    let state = 0;
    const onData = (d: Buffer): void => {
      got += d.toString('latin1');
      if (state === 0 && got.includes('6.select,')) {
        state = 1;
        s.write(enc('args', 'VERSION_1_3_0', 'hostname'));
      }
      if (state === 1 && got.includes('7.connect,')) {
        state = 2;
        s.off('data', onData);
        s.write(enc('ready', '$bench'));
        onReady(s);
      }
    };
    s.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;

async function pair(guacdPort: number) {
  const server = new TubeRegistry({ ...LOOPBACK });
  const client = new TubeRegistry({ ...LOOPBACK });
  const p = await connectTubes({
    server,
    client,
    serverSettings: { conversationType: 'vnc', local_listen_addr: '127.0.0.1:0' },
    clientSettings: {
      conversationType: 'vnc',
      guacd: { guacd_host: '127.0.0.1', guacd_port: guacdPort },
      guacd_params: { hostname: 'x' },
    },
  });
  const addr = p.listenAddr as string;
  const i = addr.lastIndexOf(':');
  return {
    host: addr.slice(0, i),
    port: Number(addr.slice(i + 1)),
    close: () => Promise.all([server.cleanupAll(), client.cleanupAll()]),
  };
}

function writeAll(s: net.Socket, chunks: Buffer[], done: () => void): void {
  let i = 0;
  const more = (): void => {
    while (i < chunks.length) {
      if (s.destroyed) return;
      if (!s.write(chunks[i++] as Buffer)) {
        s.once('drain', more);
        return;
      }
    }
    done();
  };
  more();
}

/** The same bytes through a `tunnel` pair (no parsing): the ceiling of two tubes in one process. */
async function e2eTunnel(s: Stream): Promise<E2eRow> {
  const target = net.createServer((sock) => {
    sock.on('error', () => {});
    writeAll(sock, s.reads, () => {});
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const server = new TubeRegistry({ ...LOOPBACK });
  const client = new TubeRegistry({ ...LOOPBACK });
  const p = await connectTubes({
    server,
    client,
    clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: portOf(target) },
  });
  const addr = p.listenAddr as string;
  let got = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port: Number(addr.slice(addr.lastIndexOf(':') + 1)) });
    c.on('error', reject);
    c.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= s.bytes) {
        c.destroy();
        resolve();
      }
    });
  });
  const sec = (performance.now() - t0) / 1000;
  await Promise.all([server.cleanupAll(), client.cleanupAll()]);
  target.close();
  return { engine: 'tunnel', mbPerSec: s.bytes / sec / 1e6, instructionsPerSec: s.instructions / sec };
}

interface E2eRow {
  engine: string;
  mbPerSec: number;
  instructionsPerSec: number;
}

async function e2eThroughput(s: Stream, engine: EngineChoice): Promise<E2eRow> {
  process.env['TUBES_HOTPATH'] = engine;
  resetEnginesForTests();
  const guacd = await fakeGuacd((sock) => writeAll(sock, s.reads, () => {}));
  const p = await pair(portOf(guacd));
  const scanner = new GuacamoleScanner({ strict: true });
  let got = 0;
  let instructions = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const c = net.connect({ host: p.host, port: p.port });
    c.on('error', reject);
    c.on('data', (d: Buffer) => {
      const b = scanner.push(d);
      if (b.error) reject(b.error);
      instructions += b.count;
      got += b.byteLength;
      if (got >= s.bytes) {
        c.destroy();
        resolve();
      }
    });
  });
  const sec = (performance.now() - t0) / 1000;
  await p.close();
  guacd.close();
  return { engine, mbPerSec: s.bytes / sec / 1e6, instructionsPerSec: instructions / sec };
}

const LOADED = 'display traffic ~0.8 MB/s';

interface LatencyRow {
  path: string;
  load: string;
  p50Ms: number;
  p99Ms: number;
  samples: number;
}

/** guacd writes `sync,<seq>` every 10 ms (optionally display data in between); the client timestamps. */
async function syncLatency(viaTube: boolean, load: boolean): Promise<LatencyRow> {
  process.env['TUBES_HOTPATH'] = 'auto';
  resetEnginesForTests();
  const sentAt = new Map<string, number>();
  const blob = enc('blob', '1', 'A'.repeat(8064));
  const filler = Buffer.from(blob, 'latin1'); // ~8 KiB per tick → ~0.8 MB/s (a busy VNC screen)
  let timer: NodeJS.Timeout | undefined;
  const guacd = await fakeGuacd((sock) => {
    let seq = 0;
    timer = setInterval(() => {
      if (sock.destroyed) return;
      if (load && sock.writableLength < 1 << 20) sock.write(filler);
      const id = String(seq++);
      sentAt.set(id, performance.now());
      sock.write(enc('sync', id, '1'));
    }, 10);
  }, !viaTube);
  const target = viaTube
    ? await pair(portOf(guacd))
    : { host: '127.0.0.1', port: portOf(guacd), close: async () => [] };
  const scanner = new GuacamoleScanner({ strict: true });
  const delays: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const c = net.connect({ host: target.host, port: target.port });
    c.setNoDelay(true);
    c.on('error', reject);
    c.on('data', (d: Buffer) => {
      const now = performance.now();
      const b = scanner.push(d);
      for (let i = 0; i < b.count; i++) {
        if (!b.opcodeIs(i, 'sync')) continue;
        const t = sentAt.get(b.element(i, 1));
        if (t !== undefined) delays.push(now - t);
        c.write(enc('sync', b.element(i, 1)));
      }
      if (delays.length >= SAMPLES) {
        c.destroy();
        resolve();
      }
    });
  });
  clearInterval(timer);
  await target.close();
  guacd.close();
  const kept = delays.slice(Math.floor(delays.length / 10)); // drop the start-up tenth
  return {
    path: viaTube ? 'through the tube' : 'direct TCP',
    load: load ? LOADED : 'idle',
    p50Ms: percentile(kept, 50),
    p99Ms: percentile(kept, 99),
    samples: kept.length,
  };
}

// ---- charts -------------------------------------------------------------------------------------------

export interface GuacdChartInput {
  relay: { stream: string; engine: string; mbPerSec: number }[];
  latency: { path: string; load: string; p50Ms: number; p99Ms: number }[];
}

export function guacdCharts(input: GuacdChartInput, subtitle: string): Chart[] {
  const charts: Chart[] = [];
  const streams = [...new Set(input.relay.map((r) => r.stream))];
  if (streams.length > 0) {
    charts.push(
      barChart({
        id: 'guacd-relay',
        title: 'guacd relay in memory: MB/s of guacd output per engine (log scale; higher is better)',
        subtitle,
        yLabel: 'MB/s',
        yLog: true,
        groups: streams.map((s) => ({
          label: s,
          bars: input.relay
            .filter((r) => r.stream === s)
            .map((r) => ({ series: r.engine, value: r.mbPerSec })),
        })),
      }),
    );
  }
  if (input.latency.length > 0) {
    charts.push(
      barChart({
        id: 'guacd-sync-latency',
        title: 'sync latency guacd → client: percentiles in ms (lower is better)',
        subtitle,
        yLabel: 'ms',
        groups: input.latency.map((r) => ({
          label: `${r.path}, ${r.load}`,
          bars: [
            { series: 'p50', value: r.p50Ms },
            { series: 'p99', value: r.p99Ms },
          ],
        })),
      }),
    );
  }
  return charts;
}

// ---- entry point ----------------------------------------------------------------------------------------

const fmt = (n: number, d = 1): string => n.toFixed(d);

async function run(values: BenchValues, ctx: BenchContext): Promise<BenchOutput> {
  ROUNDS = Number(values['rounds'] ?? '3');
  TIME_MS = Number(values['time'] ?? '300');
  SAMPLES = Number(values['samples'] ?? '600');
  if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new UsageError('--rounds must be a positive integer');
  if (!(TIME_MS > 0)) throw new UsageError('--time must be a positive number of milliseconds');
  if (!Number.isInteger(SAMPLES) || SAMPLES < 10) throw new UsageError('--samples must be an integer >= 10');
  const log = (s: string): void => ctx.progress.log(s);
  const step = (s: string): void => ctx.progress.update(s);
  const before = process.env['TUBES_HOTPATH'];
  step('building the streams');
  const display = displayStream(8 * 1024 * 1024);
  const interactive = interactiveStream(20_000);
  log(
    `machine: ${cpus()[0]?.model ?? '?'} × ${cpus().length}, Node ${process.version}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  log(`wasm engines: ${resolveEngine('wasm-simd').wasm?.name ?? 'none'}`);
  step('relay (in memory, every engine)');
  const relay = benchRelay([display, interactive]);
  log('relay done');
  const e2e: E2eRow[] = [];
  try {
    for (let round = 0; round < 2; round++) {
      step(`end to end round ${round + 1}/2: tunnel baseline`);
      e2e.push(await e2eTunnel(display));
      for (const e of ['js', 'wasm-simd', 'auto'] as EngineChoice[]) {
        step(`end to end round ${round + 1}/2: guacd mode, TUBES_HOTPATH=${e}`);
        e2e.push(await e2eThroughput(display, e));
      }
    }
    log('end to end done');
    const latency: LatencyRow[] = [];
    for (const load of [false, true]) {
      for (const viaTube of [false, true]) {
        step(
          `sync latency ${viaTube ? 'through the tube' : 'direct TCP'}, ${load ? LOADED : 'idle'} (${SAMPLES} samples)`,
        );
        latency.push(await syncLatency(viaTube, load));
      }
    }
    log('sync latency done');
    const m = machine(['werift']);
    const data = { relay, e2e, latency, load: loadavg() };
    const out: string[] = [];
    out.push(
      `Display stream: ${fmt(display.bytes / 1e6)} MB, ${display.instructions} instructions; interactive: ${interactive.reads.length} reads, ${interactive.instructions} instructions.`,
      '',
    );
    out.push(
      '| stream | engine | Wasm engine loaded (auto picks per push) | instructions/s | MB/s | frames per read |',
      '|---|---|---|---:|---:|---:|',
    );
    for (const r of relay) {
      out.push(
        `| ${r.stream} | ${r.engine} | ${r.ran} | ${(r.instructionsPerSec / 1e6).toFixed(2)} M | ${fmt(r.mbPerSec)} | ${r.framesPerRead.toFixed(2)} |`,
      );
    }
    out.push('', '| end to end, display stream | MB/s | instructions/s |', '|---|---:|---:|');
    for (const r of e2e) {
      const name =
        r.engine === 'tunnel'
          ? 'tunnel mode, same bytes (baseline)'
          : `guacd mode, TUBES_HOTPATH=${r.engine}`;
      out.push(`| ${name} | ${fmt(r.mbPerSec)} | ${Math.round(r.instructionsPerSec)} |`);
    }
    out.push('', '| sync guacd → client | load | p50 ms | p99 ms | samples |', '|---|---|---:|---:|---:|');
    for (const r of latency)
      out.push(`| ${r.path} | ${r.load} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${r.samples} |`);
    for (const load of ['idle', LOADED]) {
      const d = latency.find((r) => r.load === load && r.path === 'direct TCP')!;
      const t = latency.find((r) => r.load === load && r.path === 'through the tube')!;
      out.push(
        `| added by the tube | ${load} | ${fmt(t.p50Ms - d.p50Ms, 2)} | ${fmt(t.p99Ms - d.p99Ms, 2)} | |`,
      );
    }
    out.push(
      '',
      `load average after the run: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const charts = guacdCharts(
      { relay, latency },
      `this run: ${String(m['cpu'])}, ${String(m['cores'])} cores, Node ${String(m['node'])}, ${ROUNDS} rounds × ${TIME_MS} ms, ${String(m['date']).slice(0, 16)} UTC`,
    );
    return { machine: m, data, text: out.join('\n'), charts };
  } finally {
    if (before === undefined) delete process.env['TUBES_HOTPATH'];
    else process.env['TUBES_HOTPATH'] = before;
    resetEnginesForTests();
  }
}

export const bench: BenchDef = {
  name: 'guacd',
  summary: 'guacd relay per engine in memory, end to end through a tube pair, and sync latency',
  help: `The guacd relay (scanner + whole-instruction framing + frame encoding) on every engine over
guacd-shaped display and interactive streams; end-to-end throughput through a tube pair in guacd mode
against tunnel mode; sync latency guacd → client against direct TCP, idle and under display traffic. A
fake guacd in this process does the handshake (no guacd installation is used).

Options:
  --rounds <n>    Relay rounds (engines interleaved; median) (default 3)
  --time <ms>     Relay time per engine and round (default 300)
  --samples <n>   sync latency samples per row (default 600; the first tenth is dropped)
`,
  options: { rounds: { type: 'string' }, time: { type: 'string' }, samples: { type: 'string' } },
  run,
};
