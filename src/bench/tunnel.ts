/**
 * `tubes bench tunnel` (npm run bench:tunnel): raw werift data channel vs a tube carrying 1 and 8 TCP
 * connections vs direct loopback TCP, each across two processes on 127.0.0.1; plus 32-byte echo RTT and
 * tube create→ready time. Every figure comes from this run; ratios compare with the raw data channel
 * measured in the same run.
 *
 * The child side of every scenario is a separate process: ./child.ts `tunnel --child raw|tcp`, or the
 * RemoteRegistry child (src/cli/child.ts) for tubes. The raw scenario is stock werift (what it measures),
 * built by src/webrtc/stock-peer.ts: only src/webrtc imports werift.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError } from '../cli/cli-common.ts';
import { connectTubes, LOOPBACK, RemoteRegistry } from '../cli/remote.ts';
import {
  median,
  parseBytes,
  rttProbe,
  type Sink,
  sendParallel,
  startEchoServer,
  startSink,
  summarize,
} from '../cli/workload.ts';
import { TubeRegistry } from '../index.ts';
import { type StockChannel, stockLoopbackEnd } from '../webrtc/stock-peer.ts';
import { barChart, type Chart } from './charts.ts';
import {
  type BenchChild,
  benchChildEntry,
  type Json,
  JsonLines,
  machine,
  spawnBenchChild,
  writeJson,
} from './lib.ts';
import type { BenchContext, BenchDef, BenchOutput, BenchValues } from './types.ts';

const HIGH_WATER = 1024 * 1024; // the tube's default sendHighWater / sendLowWater
const LOW_WATER = 256 * 1024;
const TRANSFER_TIMEOUT_MS = 180_000;
const WARMUP_BYTES = 4 * 1024 * 1024;

function spawnChild(kind: 'raw' | 'tcp', execArgv: string[]): BenchChild {
  return spawnBenchChild(benchChildEntry(), ['tunnel', '--child', kind], {
    execArgv,
    timeoutMs: TRANSFER_TIMEOUT_MS,
  });
}

// ---- raw werift peers (src/webrtc/stock-peer.ts: stock werift configured as Peer is for LOOPBACK) -------

const POOL = randomBytes(1024 * 1024 + 64 * 1024);

/** Sends `bytes` as `size`-byte messages (a fresh buffer each, as the tube's frames) with bufferedAmount backpressure. */
function pump(dc: StockChannel, bytes: number, size: number): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0;
    let at = 0;
    const fill = (): void => {
      while (sent < bytes && dc.bufferedAmount() < HIGH_WATER) {
        const n = Math.min(size, bytes - sent);
        const msg = Buffer.allocUnsafe(n);
        POOL.copy(msg, 0, at, at + n);
        at = (at + 7919) % (POOL.length - 64 * 1024);
        dc.send(msg);
        sent += n;
      }
      if (sent >= bytes) {
        unsubscribe();
        resolve();
      }
    };
    dc.setBufferedAmountLowThreshold(LOW_WATER);
    const unsubscribe = dc.onDrain(fill);
    fill();
  });
}

interface RawResult {
  mbPerSec: number;
  rtt?: number[];
  openMs: number;
}

async function rawRun(size: number, bytes: number, rttCount: number, execArgv: string[]): Promise<RawResult> {
  const child = spawnChild('raw', execArgv);
  const pc = stockLoopbackEnd();
  try {
    await child.lines.next(); // ready
    const t0 = performance.now();
    const bulk = pc.createDataChannel('bulk');
    const echo = pc.createDataChannel('echo');
    child.send({ offer: await pc.offer() });
    const answer = await child.lines.next(30_000);
    await pc.accept(String(answer['answer']));
    await Promise.all([bulk.opened, echo.opened]);
    await child.lines.next(30_000); // the child has both channels
    const openMs = performance.now() - t0;

    let total = Math.min(WARMUP_BYTES, bytes);
    child.send({ expect: total });
    await pump(bulk, total, size);
    await child.lines.next();
    total += bytes;
    child.send({ expect: total });
    const t1 = performance.now();
    await pump(bulk, bytes, size);
    await child.lines.next();
    const mbPerSec = bytes / 1e6 / ((performance.now() - t1) / 1000);

    let rtt: number[] | undefined;
    if (rttCount > 0) {
      rtt = [];
      const payload = Buffer.alloc(32, 0x61);
      let wake: (() => void) | undefined;
      const unsubscribe = echo.onMessage(() => wake?.());
      for (let i = 0; i < 20 + rttCount; i++) {
        const s = performance.now();
        await new Promise<void>((resolve) => {
          wake = resolve;
          echo.send(payload);
        });
        if (i >= 20) rtt.push(performance.now() - s);
      }
      unsubscribe();
    }
    return { mbPerSec, openMs, ...(rtt ? { rtt } : {}) };
  } finally {
    await pc.close();
    await child.stop();
  }
}

async function rawChild(): Promise<void> {
  const lines = new JsonLines(process.stdin, TRANSFER_TIMEOUT_MS);
  const out = (m: Json): void => writeJson(process.stdout, m);
  out({ ready: true });
  const pc = stockLoopbackEnd();
  let received = 0;
  let target = Number.POSITIVE_INFINITY;
  const channels = new Map<string, StockChannel>();
  const both = new Promise<void>((resolve) => {
    pc.onDataChannel((dc) => {
      channels.set(dc.label, dc);
      if (dc.label === 'bulk') {
        dc.onMessage((data) => {
          received += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
          if (received >= target) {
            target = Number.POSITIVE_INFINITY;
            out({ done: received });
          }
        });
      } else dc.onMessage((data) => dc.send(data as Buffer));
      if (channels.size === 2) resolve();
    });
  });
  const offer = await lines.next(60_000);
  out({ answer: await pc.answer(String(offer['offer'])) });
  await both;
  await Promise.all([...channels.values()].map((dc) => dc.opened));
  out({ open: true });
  for (;;) {
    let m: Json;
    try {
      m = await lines.next(600_000);
    } catch {
      break;
    }
    const total = Number(m['expect']);
    if (received >= total) out({ done: received });
    else target = total;
  }
  await pc.close();
}

// ---- direct TCP --------------------------------------------------------------------------------------

async function tcpRun(bytes: number, rttCount: number, execArgv: string[]): Promise<RawResult> {
  const child = spawnChild('tcp', execArgv);
  try {
    const ports = await child.lines.next(30_000);
    const sinkAddr = `127.0.0.1:${ports['sink']}`;
    const echoAddr = `127.0.0.1:${ports['echo']}`;
    let total = Math.min(WARMUP_BYTES, bytes);
    child.send({ expect: total });
    const warm = await sendParallel(sinkAddr, total, 1);
    await child.lines.next();
    total += bytes;
    child.send({ expect: total });
    const t1 = performance.now();
    const socks = await sendParallel(sinkAddr, bytes, 1);
    await child.lines.next();
    const mbPerSec = bytes / 1e6 / ((performance.now() - t1) / 1000);
    for (const s of [...warm, ...socks]) s.destroy();
    const rtt = rttCount > 0 ? await rttProbe(echoAddr, rttCount, 32) : undefined;
    return { mbPerSec, openMs: 0, ...(rtt ? { rtt } : {}) };
  } finally {
    await child.stop();
  }
}

async function tcpChild(): Promise<void> {
  const lines = new JsonLines(process.stdin, TRANSFER_TIMEOUT_MS);
  const out = (m: Json): void => writeJson(process.stdout, m);
  const sink = await startSink();
  const echo = await startEchoServer();
  out({ sink: sink.port, echo: echo.port });
  for (;;) {
    let m: Json;
    try {
      m = await lines.next(600_000);
    } catch {
      break;
    }
    await sink.reached(Number(m['expect']));
    out({ done: sink.received });
  }
  await Promise.all([sink.close(), echo.close()]);
}

// ---- tubes -------------------------------------------------------------------------------------------

interface TubeRunResult {
  tube1: number;
  tube8: number;
  rtt: number[];
  createToReadyMs: number[];
}

async function tubeRun(
  bytes: number,
  rttCount: number,
  only: Set<string>,
  execArgv: string[],
): Promise<Partial<TubeRunResult>> {
  const server = new TubeRegistry(LOOPBACK);
  const client = new RemoteRegistry(LOOPBACK, { execArgv, stderr: 'inherit' });
  const echo = await startEchoServer();
  const sink: Sink = await startSink();
  const out: Partial<TubeRunResult> = { createToReadyMs: [] };
  try {
    await client.ready();
    // Pair A: an echo target, for RTT (and one create→ready sample).
    const a = await connectTubes({
      server,
      client,
      conversationId: 'rtt',
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    out.createToReadyMs?.push(a.createToReadyMs);
    if (rttCount > 0) out.rtt = await rttProbe(a.listenAddr as string, rttCount, 32);
    await Promise.all([server.closeTube(a.serverTube), client.closeTube(a.clientTube)]);

    if (!only.has('tube1') && !only.has('tube8')) return out;
    // Pair B: a counting sink, for throughput with 1 and then 8 connections.
    const b = await connectTubes({
      server,
      client,
      conversationId: 'bulk',
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: sink.port },
    });
    out.createToReadyMs?.push(b.createToReadyMs);
    const addr = b.listenAddr as string;
    const signal = AbortSignal.timeout(TRANSFER_TIMEOUT_MS);
    const sockets = [];
    let total = Math.min(WARMUP_BYTES, bytes);
    sockets.push(...(await sendParallel(addr, total, 1, signal)));
    await sink.reached(total, signal);
    for (const [name, conns] of [
      ['tube1', 1],
      ['tube8', 8],
    ] as const) {
      if (!only.has(name)) continue;
      total += bytes;
      const t1 = performance.now();
      sockets.push(...(await sendParallel(addr, bytes, conns, signal)));
      await sink.reached(total, signal);
      out[name] = bytes / 1e6 / ((performance.now() - t1) / 1000);
    }
    for (const s of sockets) s.destroy();
    return out;
  } finally {
    await server.cleanupAll();
    await client.stop();
    await Promise.all([echo.close(), sink.close()]);
  }
}

// ---- report ------------------------------------------------------------------------------------------

interface Stat {
  runs: number[];
  median: number;
  min: number;
  max: number;
}

function stat(values: number[]): Stat | undefined {
  if (values.length === 0) return undefined;
  return { runs: values, median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

const f = (n: number | undefined, d = 2): string => (n === undefined || Number.isNaN(n) ? '—' : n.toFixed(d));

/** A Markdown table with padded columns (as Biome formats it, so `npm run lint` stays clean). */
function table(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(3, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((x, c) => x.padEnd(widths[c] ?? 0)).join(' | ')} |`;
  const [head, ...body] = rows;
  return [line(head ?? []), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}

function markdown(r: Json): string {
  const m = r['machine'] as Json;
  const tp = r['throughput'] as Record<string, Stat | undefined>;
  const ratios = r['ratios'] as Record<string, number | undefined>;
  const rtt = r['rtt'] as Record<string, ReturnType<typeof summarize> | undefined>;
  const ready = r['createToReadyMs'] as Stat | undefined;
  const cold = r['createToReadyColdMs'] as Stat | undefined;
  const warm = r['createToReadyWarmMs'] as Stat | undefined;
  const load = r['loadavg'] as { before: number[]; after: number[] };
  const lines = [
    `Measured ${String(m['date']).slice(0, 16).replace('T', ' ')} UTC with \`tubes bench tunnel ${String(r['args'])}\`:`,
    `${m['cpu']}, ${m['cores']} cores, Node ${m['node']}, werift ${m['werift']}, ${m['os']}.`,
    `Load average before/after: ${load.before.map((x) => x.toFixed(2)).join(' ')} / ${load.after.map((x) => x.toFixed(2)).join(' ')}.`,
    '',
    `Throughput, one way, ${r['bytesMiB']} MiB per run after a ${Math.min(4, Number(r['bytesMiB']))} MiB warm-up on the same connection, two processes, MB/s = 10^6 B/s,`,
    `median of ${r['runs']} runs (min–max; every run listed):`,
    '',
  ];
  const tpRows = [['path', 'MB/s median', 'min–max', 'runs', 'vs raw 64 KiB', 'vs raw 16 KiB']];
  const names: Record<string, string> = {
    raw16k: 'raw werift data channel, 16 KiB messages',
    raw64k: 'raw werift data channel, 64 KiB messages',
    tube1: 'tube, 1 TCP connection',
    tube8: 'tube, 8 parallel TCP connections',
    tcp: 'direct loopback TCP (no WebRTC)',
  };
  for (const [k, label] of Object.entries(names)) {
    const s = tp[k];
    if (!s) continue;
    const r64 = k === 'tcp' ? undefined : ratios[`${k}/raw64k`];
    const r16 = k === 'tcp' ? undefined : ratios[`${k}/raw16k`];
    const pct = (x: number | undefined): string => (x === undefined ? '—' : `${(x * 100).toFixed(0)} %`);
    tpRows.push([
      label,
      f(s.median),
      `${f(s.min)}–${f(s.max)}`,
      s.runs.map((x) => f(x, 1)).join(', '),
      pct(r64),
      pct(r16),
    ]);
  }
  lines.push(
    ...table(tpRows),
    '',
    `Echo round trip, ${r['rttSize']} bytes, ${r['rttCount']} sequential round trips per run (all runs pooled):`,
    '',
  );
  const rttRows = [['path', 'p50 ms', 'p99 ms', 'min ms', 'max ms', 'samples']];
  const rttNames: Record<string, string> = {
    raw: 'raw werift data channel (child echoes the message)',
    tube: 'tube (TCP → tube → child tube → TCP echo target → back)',
    tcp: 'direct loopback TCP (child echo server)',
  };
  for (const [k, label] of Object.entries(rttNames)) {
    const s = rtt[k];
    if (!s) continue;
    rttRows.push([label, f(s.p50, 3), f(s.p99, 3), f(s.min, 3), f(s.max, 3), String(s.n)]);
  }
  lines.push(...table(rttRows));
  if (ready) {
    lines.push(
      '',
      `Tube create→ready (server createTube call until both tubes report \`ready\`, trickle ICE, signalling relayed`,
      `in-process to the child over its stdin/stdout): median ${f(ready.median, 1)} ms, min ${f(ready.min, 1)}, max ${f(ready.max, 1)}`,
      `(${ready.runs.length} tubes: ${ready.runs.map((x) => f(x, 0)).join(', ')} ms).`,
      `First tube of each run (fresh child process, cold): median ${f(cold?.median, 1)} ms; second tube of the run`,
      `(same processes, warm): median ${f(warm?.median, 1)} ms, min ${f(warm?.min, 1)}, max ${f(warm?.max, 1)}.`,
    );
  }
  const rawOpen = r['rawOpenMs'] as Stat | undefined;
  if (rawOpen) {
    lines.push(
      `Raw werift pair, offer → both data channels open (non-trickle, across the same two processes): median ${f(rawOpen.median, 1)} ms.`,
    );
  }
  return lines.join('\n');
}

const BEGIN = '<!-- tunnel-bench:begin (generated by `tubes bench tunnel --write-doc`) -->';
const END = '<!-- tunnel-bench:end -->';

/** Replaces the generated block inside `## Tunnel` (creating the section or the file when missing); nothing else is touched. */
function writeDoc(block: string): string {
  const path = fileURLToPath(new URL('../../docs/PERFORMANCE.md', import.meta.url));
  const generated = `${BEGIN}\n${block}\n${END}`;
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  let next: string;
  if (text.includes(BEGIN) && text.includes(END)) {
    next = text.slice(0, text.indexOf(BEGIN)) + generated + text.slice(text.indexOf(END) + END.length);
  } else if (/^## Tunnel\s*$/m.test(text)) {
    next = text.replace(/^## Tunnel\s*$/m, `## Tunnel\n\n${generated}\n`);
  } else {
    next = `${text}${text === '' || text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n'}## Tunnel\n\n${generated}\n`;
  }
  writeFileSync(path, next);
  return path;
}

// ---- charts ------------------------------------------------------------------------------------------

export interface TunnelChartInput {
  throughput: { path: string; median: number; min?: number; max?: number }[];
  rtt: { path: string; p50: number; p99: number; min?: number }[];
}

/** Throughput per path (median, min–max whisker) and echo RTT percentiles per path. */
export function tunnelCharts(input: TunnelChartInput, subtitle: string): Chart[] {
  const charts: Chart[] = [];
  const webrtc = input.throughput.filter((t) => !/direct loopback TCP/.test(t.path));
  if (webrtc.length > 0) {
    charts.push(
      barChart({
        id: 'tunnel-throughput',
        title: 'Tunnel throughput, one way, two processes: MB/s (median, min–max whisker; higher is better)',
        subtitle,
        yLabel: 'MB/s',
        groups: webrtc.map((t) => ({
          label: t.path,
          bars: [
            {
              series: 'MB/s',
              value: t.median,
              ...(t.min !== undefined && t.max !== undefined ? { low: t.min, high: t.max } : {}),
            },
          ],
        })),
      }),
    );
  }
  if (input.rtt.length > 0) {
    charts.push(
      barChart({
        id: 'tunnel-rtt',
        title: 'Echo round trip, 32 bytes: percentiles in ms (lower is better)',
        subtitle,
        yLabel: 'ms',
        groups: input.rtt.map((r) => ({
          label: r.path.replace(/ \(.*\)$/, ''),
          bars: [
            ...(r.min !== undefined ? [{ series: 'min', value: r.min }] : []),
            { series: 'p50', value: r.p50 },
            { series: 'p99', value: r.p99 },
          ],
        })),
      }),
    );
  }
  return charts;
}

// ---- entry points ------------------------------------------------------------------------------------

async function child(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { child: { type: 'string' } } });
  await (values.child === 'raw' ? rawChild() : tcpChild());
  process.exit(0);
}

const THROUGHPUT_NAMES: Record<string, string> = {
  raw16k: 'raw werift data channel, 16 KiB messages',
  raw64k: 'raw werift data channel, 64 KiB messages',
  tube1: 'tube, 1 TCP connection',
  tube8: 'tube, 8 parallel TCP connections',
  tcp: 'direct loopback TCP (no WebRTC)',
};
const RTT_NAMES: Record<string, string> = {
  raw: 'raw werift data channel (child echoes the message)',
  tube: 'tube (TCP → tube → child tube → TCP echo target → back)',
  tcp: 'direct loopback TCP (child echo server)',
};

async function run(values: BenchValues, ctx: BenchContext): Promise<BenchOutput> {
  const runs = Number(values['runs'] ?? '5');
  const bytes = parseBytes(String(values['bytes'] ?? '64M'));
  const rttCount = Number(values['rtt-count'] ?? '1000');
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError('--runs must be a positive integer');
  if (!Number.isInteger(rttCount) || rttCount < 0)
    throw new UsageError('--rtt-count must be an integer >= 0');
  const only = new Set(String(values['only'] ?? 'raw16k,raw64k,tube1,tube8,tcp').split(','));
  const prof = values['child-prof'];
  const execArgv = typeof prof === 'string' ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
  const log = (s: string): void => ctx.progress.log(s);
  const step = (s: string): void => ctx.progress.update(s);
  const loadBefore = os.loadavg();
  const mb: Record<string, number[]> = { raw16k: [], raw64k: [], tube1: [], tube8: [], tcp: [] };
  const rtt: Record<string, number[]> = { raw: [], tube: [], tcp: [] };
  const ready: number[] = [];
  const readyCold: number[] = [];
  const readyWarm: number[] = [];
  const rawOpen: number[] = [];
  for (let run = 1; run <= runs; run++) {
    if (only.has('raw16k')) {
      step(`run ${run}/${runs}: raw werift data channel, 16 KiB messages`);
      const r = await rawRun(16 * 1024, bytes, 0, execArgv);
      mb['raw16k']?.push(r.mbPerSec);
      rawOpen.push(r.openMs);
      log(`run ${run}: raw 16 KiB ${r.mbPerSec.toFixed(2)} MB/s`);
    }
    if (only.has('raw64k')) {
      step(`run ${run}/${runs}: raw werift data channel, 64 KiB messages${rttCount > 0 ? ', then RTT' : ''}`);
      const r = await rawRun(64 * 1024, bytes, rttCount, execArgv);
      mb['raw64k']?.push(r.mbPerSec);
      rtt['raw']?.push(...(r.rtt ?? []));
      rawOpen.push(r.openMs);
      log(`run ${run}: raw 64 KiB ${r.mbPerSec.toFixed(2)} MB/s`);
    }
    if (only.has('tube1') || only.has('tube8') || only.has('tube')) {
      step(`run ${run}/${runs}: tube (RTT, then 1 and 8 connections)`);
      const r = await tubeRun(bytes, rttCount, only, execArgv);
      if (r.tube1 !== undefined) mb['tube1']?.push(r.tube1);
      if (r.tube8 !== undefined) mb['tube8']?.push(r.tube8);
      rtt['tube']?.push(...(r.rtt ?? []));
      ready.push(...(r.createToReadyMs ?? []));
      if (r.createToReadyMs?.[0] !== undefined) readyCold.push(r.createToReadyMs[0]);
      if (r.createToReadyMs?.[1] !== undefined) readyWarm.push(r.createToReadyMs[1]);
      log(
        `run ${run}: tube 1 conn ${r.tube1?.toFixed(2) ?? '—'} MB/s, 8 conns ${r.tube8?.toFixed(2) ?? '—'} MB/s, create→ready ${r.createToReadyMs?.map((x) => x.toFixed(0)).join('/')} ms`,
      );
    }
    if (only.has('tcp')) {
      step(`run ${run}/${runs}: direct loopback TCP`);
      const r = await tcpRun(bytes, rttCount, execArgv);
      mb['tcp']?.push(r.mbPerSec);
      rtt['tcp']?.push(...(r.rtt ?? []));
      log(`run ${run}: direct TCP ${r.mbPerSec.toFixed(1)} MB/s`);
    }
  }
  const throughput = Object.fromEntries(Object.entries(mb).map(([k, v]) => [k, stat(v)]));
  const ratios: Record<string, number> = {};
  for (const k of ['tube1', 'tube8', 'raw16k', 'tcp']) {
    for (const base of ['raw64k', 'raw16k']) {
      const a = throughput[k]?.median;
      const b = throughput[base]?.median;
      if (a !== undefined && b !== undefined && k !== base) ratios[`${k}/${base}`] = a / b;
    }
  }
  const m = machine();
  const rttSummary = Object.fromEntries(
    Object.entries(rtt).map(([k, v]) => [k, v.length ? summarize(v) : undefined]),
  );
  const result: Json = {
    machine: m,
    args: ctx.args.join(' ') || '(defaults)',
    runs,
    bytesMiB: bytes / 1024 / 1024,
    rttCount,
    rttSize: 32,
    throughput,
    ratios,
    rtt: rttSummary,
    createToReadyMs: stat(ready),
    createToReadyColdMs: stat(readyCold),
    createToReadyWarmMs: stat(readyWarm),
    rawOpenMs: stat(rawOpen),
    loadavg: { before: loadBefore, after: os.loadavg() },
    targets: {
      'tube1 >= 90% of raw 64 KiB': (ratios['tube1/raw64k'] ?? 0) >= 0.9,
      'tube RTT p50 <= 1 ms': rtt['tube']?.length ? summarize(rtt['tube']).p50 <= 1 : undefined,
      'create→ready median <= 150 ms (all tubes)': ready.length ? median(ready) <= 150 : undefined,
      'create→ready median <= 150 ms (warm)': readyWarm.length ? median(readyWarm) <= 150 : undefined,
    },
  };
  const md = markdown(result);
  if (values['write-doc'] === true) log(`wrote ${writeDoc(md)}`);
  const charts = tunnelCharts(
    {
      throughput: Object.entries(THROUGHPUT_NAMES).flatMap(([k, path]) => {
        const s = throughput[k];
        return s ? [{ path, median: s.median, min: s.min, max: s.max }] : [];
      }),
      rtt: Object.entries(RTT_NAMES).flatMap(([k, path]) => {
        const s = rttSummary[k];
        return s ? [{ path, p50: s.p50, p99: s.p99, min: s.min }] : [];
      }),
    },
    `this run: ${String(m['cpu'])}, ${String(m['cores'])} cores, Node ${String(m['node'])}, ${runs} run(s) × ${bytes / 1024 / 1024} MiB, ${String(m['date']).slice(0, 16)} UTC`,
  );
  return { machine: m, data: result, text: md, charts };
}

export const bench: BenchDef = {
  name: 'tunnel',
  summary: 'Raw werift data channel vs a tube (1 and 8 TCP connections) vs TCP; echo RTT; create→ready',
  help: `Throughput one way across two processes on 127.0.0.1 (raw werift data channel with 16 and 64 KiB
messages, a tube carrying 1 and 8 TCP connections, direct loopback TCP), 32-byte echo round trips, and
tube create→ready time. Every figure comes from this run.

Options:
  --runs <n>          Runs (median, min–max reported) (default 5)
  --bytes <n>         Bytes per transfer, K/M/G binary (default 64M; a 4 MiB warm-up comes first)
  --rtt-count <n>     Echo round trips per run, 0 for none (default 1000)
  --only <list>       Paths to measure: raw16k,raw64k,tube1,tube8,tcp (default all)
  --write-doc         Replace the generated block of docs/PERFORMANCE.md "## Tunnel" (repository checkout)
  --child-prof <dir>  CPU-profile the child processes into <dir>
`,
  options: {
    runs: { type: 'string' },
    bytes: { type: 'string' },
    'rtt-count': { type: 'string' },
    only: { type: 'string' },
    'write-doc': { type: 'boolean' },
    'child-prof': { type: 'string' },
  },
  run,
  child,
};
