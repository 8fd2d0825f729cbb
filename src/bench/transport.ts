/**
 * `tubes bench transport` (npm run bench:transport): raw data channel throughput and CPU per MB across two
 * processes on 127.0.0.1, one-way, 16 KiB and 64 KiB messages, for
 *   stock  — werift 0.25.2 as shipped (no patches, kernel-default UDP buffers),
 *   udp    — our Peer with `weriftPatches: false` (4 MiB UDP buffers only: the library before the patches),
 *   tuned  — our Peer as every tube uses it (UDP buffers + src/webrtc/patches),
 *   tuned-1191 — tuned without the `sctp-plpmtud` patch (werift's fixed 1,191-byte SCTP packets); only on
 *            request (`--stacks`), to measure that patch in the same run,
 *   ndc    — node-datachannel (libdatachannel, native; a devDependency, reference only: skipped with a note
 *            where it is not installed or cannot load).
 * Every run measures every stack, interleaved, so ratios come from the same run and the same machine state.
 * `--profile` adds one tuned 64 KiB transfer whose timed phase is CPU-profiled (inspector, 200 µs sampling) in
 * the sending process (and in the receiving one), and prints top self-time functions and self time per layer.
 *
 * Both ends are child processes of this one (./child.ts `transport --child send|recv`); this process only
 * relays signalling and control lines, so it does not compete with them for the cores beyond that. The stock
 * stack is src/webrtc/stock-peer.ts (werift itself is imported by src/webrtc only).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { DataChannelPort } from '../channel/port.ts';
import { UsageError } from '../cli/cli-common.ts';
import { median, parseBytes } from '../cli/workload.ts';
import { Peer } from '../webrtc/peer.ts';
import { filterSdpCandidates } from '../webrtc/sdp.ts';
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

const HIGH_WATER = 1024 * 1024; // the tube's sendHighWater / sendLowWater
const LOW_WATER = 256 * 1024;
const WARMUP_BYTES = 4 * 1024 * 1024;
const TIMEOUT_MS = 240_000;
const STACKS = ['stock', 'udp', 'tuned', 'ndc', 'tuned-1191'] as const;
const DEFAULT_STACKS = ['stock', 'udp', 'tuned', 'ndc'];
type Stack = (typeof STACKS)[number];

// ---- one end of a data channel, per stack ---------------------------------------------------------------

/** The little a benchmark end needs from a data channel. */
interface BenchChannel {
  bufferedAmount(): number;
  send(data: Buffer): void;
  onDrain(fn: () => void): void;
  onMessage(fn: (bytes: number) => void): void;
  opened: Promise<void>;
}

interface BenchEnd {
  /** Offerer: returns the complete offer (non-trickle). */
  offer?(): Promise<string>;
  /** Answerer: returns the complete answer. */
  answer?(offer: string): Promise<string>;
  accept?(answer: string): Promise<void>;
  channel: Promise<BenchChannel>;
  close(): Promise<void>;
}

/** The stock stack: werift as shipped, configured for loopback (src/webrtc/stock-peer.ts). */
function stockEnd(offerer: boolean): BenchEnd {
  const end = stockLoopbackEnd();
  const benchChannel = (ch: StockChannel): BenchChannel => {
    ch.setBufferedAmountLowThreshold(LOW_WATER);
    return {
      bufferedAmount: ch.bufferedAmount,
      send: ch.send,
      onDrain: (fn) => {
        ch.onDrain(fn);
      },
      onMessage: (fn) => {
        ch.onMessage((m) => fn(typeof m === 'string' ? Buffer.byteLength(m) : m.length));
      },
      opened: ch.opened,
    };
  };
  const channel = offerer
    ? Promise.resolve(benchChannel(end.createDataChannel('bulk')))
    : new Promise<BenchChannel>((resolve) => end.onDataChannel((ch) => resolve(benchChannel(ch))));
  return {
    offer: end.offer,
    answer: end.answer,
    accept: end.accept,
    channel,
    close: end.close,
  };
}

function portChannel(port: DataChannelPort): BenchChannel {
  let drain = (): void => {};
  let message = (_n: number): void => {};
  let open = (): void => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  port.bufferedAmountLowThreshold = LOW_WATER;
  port.setHandlers({
    open: () => open(),
    close: () => {},
    drain: () => drain(),
    message: (m) => message(m.byteLength),
  });
  return {
    bufferedAmount: () => port.bufferedAmount,
    send: (d) => {
      port.send(d);
    },
    onDrain: (fn) => {
      drain = fn;
    },
    onMessage: (fn) => {
      message = fn;
    },
    opened,
  };
}

/** Our Peer, configured as the LOOPBACK registry options configure it for tubes. */
function peerEnd(offerer: boolean, weriftPatches: boolean, skipPatches?: string[]): BenchEnd {
  let resolveChannel: (c: BenchChannel) => void = () => {};
  const channel = new Promise<BenchChannel>((resolve) => {
    resolveChannel = resolve;
  });
  const peer = new Peer(
    {
      iceServers: [],
      relayOnly: false,
      hostAddresses: ['127.0.0.1'],
      hostAddressesOnly: true,
      ipv6: false,
      weriftPatches,
      weriftPatchesSkipped: skipPatches,
    },
    {
      candidate: () => {},
      connectionState: () => {},
      dataChannel: (port) => resolveChannel(portChannel(port)),
    },
  );
  if (offerer) resolveChannel(portChannel(peer.createDataChannel('bulk')));
  return {
    async offer() {
      await peer.createOffer();
      await peer.waitGatheringComplete(30_000, 'offer');
      return peer.localSdp();
    },
    async answer(offer) {
      await peer.setRemoteDescription(offer, 'offer');
      await peer.createAnswer();
      await peer.waitGatheringComplete(30_000, 'answer');
      return peer.localSdp();
    },
    accept: (answer) => peer.setRemoteDescription(answer, 'answer'),
    channel,
    close: () => peer.close(),
  };
}

/** Drops every candidate line that is not on 127.0.0.1 (node-datachannel gathers on every interface). */
const loopbackSdp = (sdp: string): string => filterSdpCandidates(sdp, (address) => address === '127.0.0.1');

// node-datachannel's W3C polyfill, typed as far as used here.
interface W3CChannel {
  binaryType: string;
  readyState: string;
  bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  send(data: Buffer): void;
  addEventListener(type: string, fn: (e: { data?: unknown; channel?: W3CChannel }) => void): void;
}
interface W3CPeer {
  iceGatheringState: string;
  localDescription: { sdp: string } | null;
  createDataChannel(label: string, init: { ordered: boolean }): W3CChannel;
  createOffer(): Promise<{ type: string; sdp: string }>;
  createAnswer(): Promise<{ type: string; sdp: string }>;
  setLocalDescription(d: { type: string; sdp: string }): Promise<void>;
  setRemoteDescription(d: { type: string; sdp: string }): Promise<void>;
  addEventListener(type: string, fn: (e: { channel?: W3CChannel }) => void): void;
  close(): void;
}

function w3cChannel(dc: W3CChannel): BenchChannel {
  dc.binaryType = 'arraybuffer';
  dc.bufferedAmountLowThreshold = LOW_WATER;
  return {
    bufferedAmount: () => dc.bufferedAmount,
    send: (d) => dc.send(d),
    onDrain: (fn) => dc.addEventListener('bufferedamountlow', () => fn()),
    onMessage: (fn) =>
      dc.addEventListener('message', (e) => {
        const d = e.data as ArrayBuffer | ArrayBufferView | string;
        fn(typeof d === 'string' ? Buffer.byteLength(d) : d.byteLength);
      }),
    opened: new Promise((resolve) => {
      if (dc.readyState === 'open') resolve();
      else dc.addEventListener('open', () => resolve());
    }),
  };
}

async function ndcEnd(offerer: boolean): Promise<BenchEnd> {
  const mod = (await import('node-datachannel/polyfill')) as unknown as {
    RTCPeerConnection: new (config: Json) => W3CPeer;
  };
  const pc = new mod.RTCPeerConnection({ iceServers: [], bindAddress: '127.0.0.1' });
  const gathered = (): Promise<void> =>
    new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      else
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') resolve();
        });
    });
  const channel = offerer
    ? Promise.resolve(w3cChannel(pc.createDataChannel('bulk', { ordered: true })))
    : new Promise<BenchChannel>((resolve) =>
        pc.addEventListener('datachannel', (e) => {
          if (e.channel) resolve(w3cChannel(e.channel));
        }),
      );
  return {
    async offer() {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered();
      return loopbackSdp(pc.localDescription?.sdp ?? '');
    },
    async answer(offer) {
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered();
      return loopbackSdp(pc.localDescription?.sdp ?? '');
    },
    async accept(answer) {
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    },
    channel,
    close: async () => {
      pc.close();
      const ndc = (await import('node-datachannel')) as unknown as { cleanup?(): void };
      ndc.cleanup?.();
    },
  };
}

function makeEnd(stack: Stack, offerer: boolean): Promise<BenchEnd> {
  switch (stack) {
    case 'stock':
      return Promise.resolve(stockEnd(offerer));
    case 'udp':
      return Promise.resolve(peerEnd(offerer, false));
    case 'tuned':
      return Promise.resolve(peerEnd(offerer, true));
    case 'tuned-1191':
      return Promise.resolve(peerEnd(offerer, true, ['sctp-plpmtud']));
    case 'ndc':
      return ndcEnd(offerer);
  }
}

// ---- child processes -------------------------------------------------------------------------------------

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

const POOL = randomBytes(1024 * 1024 + 64 * 1024);

/** Profiles `fn` with the inspector's CPU profiler (only the timed phase, not start-up) into `file`. */
async function profiled<T>(file: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (!file) return fn();
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  }
}

async function sendChild(stack: Stack, size: number, profileFile: string | undefined): Promise<void> {
  const lines = new JsonLines(process.stdin, TIMEOUT_MS);
  const out = (m: Json): void => writeJson(process.stdout, m);
  const end = await makeEnd(stack, true);
  const offer = await (end.offer as () => Promise<string>)();
  out({ offer });
  const answer = await lines.next(60_000);
  await (end.accept as (a: string) => Promise<void>)(String(answer['answer']));
  const ch = await end.channel;
  await ch.opened;
  out({ open: true });
  let drainWake: (() => void) | undefined;
  ch.onDrain(() => drainWake?.());
  let at = 0;
  const pump = async (bytes: number): Promise<void> => {
    let sent = 0;
    while (sent < bytes) {
      while (sent < bytes && ch.bufferedAmount() < HIGH_WATER) {
        const n = Math.min(size, bytes - sent);
        const msg = Buffer.allocUnsafe(n); // a fresh buffer per message, as the tube's frames
        POOL.copy(msg, 0, at, at + n);
        at = (at + 7919) % (POOL.length - 64 * 1024);
        ch.send(msg);
        sent += n;
      }
      if (sent < bytes) await new Promise<void>((r) => (drainWake = r));
    }
  };
  for (;;) {
    let m: Json;
    try {
      m = await lines.next(600_000);
    } catch {
      break;
    }
    if (m['go'] === undefined) break;
    const bytes = Number(m['go']);
    const timed = m['timed'] === true;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const done = await profiled(timed ? profileFile : undefined, async () => {
      await pump(bytes);
      return lines.next(); // relayed from the receiver
    });
    out({ ms: performance.now() - t0, cpuMs: cpuMs(c0), receiverCpuMs: done['cpuMs'] });
  }
  await end.close();
  process.exit(0);
}

async function recvChild(stack: Stack, profileFile: string | undefined): Promise<void> {
  const lines = new JsonLines(process.stdin, TIMEOUT_MS);
  const out = (m: Json): void => writeJson(process.stdout, m);
  const end = await makeEnd(stack, false);
  const offer = await lines.next(60_000);
  out({ answer: await (end.answer as (o: string) => Promise<string>)(String(offer['offer'])) });
  const ch = await end.channel;
  let received = 0;
  let target = Number.POSITIVE_INFINITY;
  let c0 = process.cpuUsage();
  let finishedWake: (() => void) | undefined;
  ch.onMessage((n) => {
    received += n;
    if (received >= target) {
      target = Number.POSITIVE_INFINITY;
      out({ done: received, cpuMs: cpuMs(c0) });
      finishedWake?.();
    }
  });
  for (;;) {
    let m: Json;
    try {
      m = await lines.next(600_000);
    } catch {
      break;
    }
    if (m['expect'] === undefined) break;
    const total = Number(m['expect']);
    const finished = new Promise<void>((resolve) => {
      finishedWake = resolve;
    });
    const profiling = profiled(m['timed'] === true ? profileFile : undefined, () => finished);
    c0 = process.cpuUsage();
    if (received >= total) {
      finishedWake?.();
      out({ done: received, cpuMs: 0 });
    } else target = total;
    await profiling;
  }
  await end.close();
  process.exit(0);
}

// ---- orchestration -----------------------------------------------------------------------------------------

function spawnChild(args: string[], execArgv: string[] = []): BenchChild {
  return spawnBenchChild(benchChildEntry(), ['transport', ...args], { execArgv, timeoutMs: TIMEOUT_MS });
}

interface Transfer {
  mbPerSec: number;
  senderCpuSPerMB: number;
  receiverCpuSPerMB: number;
  /** Growth of the host's UDP RcvbufErrors during the timed transfer (system-wide: other traffic counts too). */
  udpDrops: number;
}

/** The host's UDP receive-buffer drop counter (/proc/net/snmp), NaN where unavailable. */
function udpRcvbufErrors(): number {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Udp:'));
    const names = (lines[0] ?? '').split(/\s+/);
    return Number((lines[1] ?? '').split(/\s+/)[names.indexOf('RcvbufErrors')]);
  } catch {
    return Number.NaN;
  }
}

async function transfer(
  stack: Stack,
  size: number,
  bytes: number,
  profileFile?: string,
  receiverProfileFile?: string,
): Promise<Transfer> {
  const sender = spawnChild([
    '--child',
    'send',
    '--stack',
    stack,
    '--size',
    String(size),
    ...(profileFile ? ['--profile-file', profileFile] : []),
  ]);
  const receiver = spawnChild([
    '--child',
    'recv',
    '--stack',
    stack,
    ...(receiverProfileFile ? ['--profile-file', receiverProfileFile] : []),
  ]);
  try {
    const offer = await sender.lines.next(60_000);
    receiver.send(offer);
    sender.send(await receiver.lines.next(60_000));
    await sender.lines.next(60_000); // open
    const round = async (total: number, chunk: number, timed = false): Promise<Json> => {
      receiver.send({ expect: total, timed });
      sender.send({ go: chunk, timed });
      sender.send(await receiver.lines.next());
      return sender.lines.next();
    };
    await round(WARMUP_BYTES, WARMUP_BYTES);
    const drops0 = udpRcvbufErrors();
    const r = await round(WARMUP_BYTES + bytes, bytes, true);
    const udpDrops = udpRcvbufErrors() - drops0;
    const mb = bytes / 1e6;
    return {
      mbPerSec: mb / (Number(r['ms']) / 1000),
      senderCpuSPerMB: Number(r['cpuMs']) / 1000 / mb,
      receiverCpuSPerMB: Number(r['receiverCpuMs']) / 1000 / mb,
      udpDrops,
    };
  } finally {
    sender.send({});
    receiver.send({});
    await Promise.all([sender.stop(), receiver.stop()]);
  }
}

async function ndcAvailable(): Promise<string | undefined> {
  try {
    await import('node-datachannel/polyfill');
    return undefined;
  } catch (err) {
    return `node-datachannel cannot load on this host (${(err as Error).message.split('\n')[0]}); skipped`;
  }
}

// ---- CPU profile summary -----------------------------------------------------------------------------------

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

let weriftSections: [number, string][] | undefined;
/** Source file of a line in werift's ESM bundle (lib/index.mjs), from its `// ../pkg/src/file.ts` markers. */
function weriftSource(line: number): string {
  if (!weriftSections) {
    weriftSections = [];
    const entry = createRequire(import.meta.url).resolve('werift');
    const bundle = path.join(
      entry.slice(0, entry.lastIndexOf(`${path.sep}lib${path.sep}`)),
      'lib',
      'index.mjs',
    );
    for (const [i, l] of readFileSync(bundle, 'utf8').split('\n').entries()) {
      const m = /^\/\/ (\S+\.ts)$/.exec(l);
      if (m?.[1]) weriftSections.push([i, m[1]]);
    }
  }
  let best = '?';
  for (const [at, file] of weriftSections) {
    if (at > line) break;
    best = file;
  }
  return best;
}

function layerOf(fn: string, url: string, line: number): [string, string] {
  if (url.includes('/werift/lib/')) {
    const src = weriftSource(line);
    const m = /^\.\.\/(\w+)\/src\//.exec(src);
    return [`werift ${m ? m[1] : 'webrtc'}`, src.replace(/^\.\.\//, '')];
  }
  if (url.includes('/bench/')) return ['benchmark load', path.basename(url)];
  if (/\/(src|dist)\/webrtc\/patches\//.test(url)) return ['ours: src/webrtc/patches', path.basename(url)];
  for (const dir of ['/src/', '/dist/']) {
    if (url.includes(dir)) return ['ours: other src', `src/${url.slice(url.lastIndexOf(dir) + dir.length)}`];
  }
  if (url.startsWith('node:')) {
    const m = url.replace('node:internal/', '').replace('node:', '');
    if (/crypto/.test(m)) return ['node crypto', m];
    if (/dgram|udp/.test(m)) return ['node dgram', m];
    if (/buffer/.test(m)) return ['node buffer', m];
    if (/timers|task_queues|async_hooks/.test(m)) return ['node timers/microtasks', m];
    return ['node other', m];
  }
  if (url.includes('node_modules/')) return [`dep ${url.split('node_modules/')[1]?.split('/')[0]}`, url];
  if (fn === '(garbage collector)') return ['GC', ''];
  if (/^\((program|idle|root)\)$/.test(fn)) return [fn, ''];
  return ['native / builtins', ''];
}

interface ProfileSummary {
  file: string;
  mbPerSec?: number;
  busySeconds: number;
  idlePercent: number;
  top: { percent: number; fn: string; layer: string; where: string }[];
  layers: { percent: number; layer: string }[];
}

function summarizeProfile(file: string, topN = 15): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  prof.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  });
  const fns = new Map<string, { us: number; fn: string; layer: string; where: string }>();
  const layers = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const cf = byId.get(id)?.callFrame;
    if (!cf) continue;
    const [layer, src] = layerOf(cf.functionName, cf.url, cf.lineNumber);
    total += us;
    if (layer === '(idle)') {
      idle += us;
      continue;
    }
    const where = src && cf.lineNumber >= 0 && !src.includes('.ts') ? `${src}:${cf.lineNumber + 1}` : src;
    const key = `${cf.functionName}|${layer}|${where}`;
    const e = fns.get(key) ?? { us: 0, fn: cf.functionName || '(anonymous)', layer, where };
    e.us += us;
    fns.set(key, e);
    layers.set(layer, (layers.get(layer) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number): number => Math.round((1000 * us) / busy) / 10;
  return {
    file,
    busySeconds: busy / 1e6,
    idlePercent: Math.round((1000 * idle) / total) / 10,
    top: [...fns.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((e) => ({ percent: pct(e.us), fn: e.fn, layer: e.layer, where: e.where })),
    layers: [...layers].sort((a, b) => b[1] - a[1]).map(([layer, us]) => ({ percent: pct(us), layer })),
  };
}

// ---- charts ------------------------------------------------------------------------------------------------

export interface TransportChartRow {
  stack: string;
  messageBytes: number;
  median: number;
  min?: number;
  max?: number;
}

/** MB/s per stack, grouped by message size (median, min–max whisker). */
export function transportCharts(rows: TransportChartRow[], subtitle: string): Chart[] {
  if (rows.length === 0) return [];
  const sizes = [...new Set(rows.map((r) => r.messageBytes))];
  return [
    barChart({
      id: 'transport-throughput',
      title: 'Raw data channel, one way, two processes: MB/s per stack (median, min–max; higher is better)',
      subtitle,
      yLabel: 'MB/s',
      groups: sizes.map((size) => ({
        label: `${size / 1024} KiB messages`,
        bars: rows
          .filter((r) => r.messageBytes === size)
          .map((r) => ({
            series: r.stack,
            value: r.median,
            ...(r.min !== undefined && r.max !== undefined ? { low: r.min, high: r.max } : {}),
          })),
      })),
    }),
  ];
}

// ---- entry points ------------------------------------------------------------------------------------------

const fmt = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

async function child(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      child: { type: 'string' },
      stack: { type: 'string' },
      size: { type: 'string' },
      'profile-file': { type: 'string' },
    },
  });
  if (values.child === 'send')
    return sendChild(values.stack as Stack, Number(values.size), values['profile-file']);
  return recvChild(values.stack as Stack, values['profile-file']);
}

async function run(values: BenchValues, ctx: BenchContext): Promise<BenchOutput> {
  const runs = Number(values['runs'] ?? '5');
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError('--runs must be a positive integer');
  const bytes = parseBytes(String(values['bytes'] ?? '64M'));
  const sizes = String(values['sizes'] ?? '16K,64K')
    .split(',')
    .map(parseBytes);
  const notes = ctx.notes;
  const asked = String(values['stacks'] ?? DEFAULT_STACKS.join(',')).split(',');
  const unknown = asked.filter((s) => !(STACKS as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new UsageError(`--stacks: unknown ${unknown.join(', ')} (one of ${STACKS.join(', ')})`);
  let stacks = asked as Stack[];
  if (stacks.includes('ndc')) {
    const why = await ndcAvailable();
    if (why) {
      notes.push(why);
      stacks = stacks.filter((s) => s !== 'ndc');
    }
  }
  const log = (s: string): void => ctx.progress.log(s);
  const loadBefore = os.loadavg();
  const results: Record<string, Transfer[]> = {};
  const key = (stack: Stack, size: number): string => `${stack}/${size / 1024}K`;
  for (let run = 1; run <= runs; run++) {
    for (const size of sizes) {
      for (const stack of stacks) {
        let r: Transfer | undefined;
        for (let attempt = 1; !r; attempt++) {
          ctx.progress.update(
            `run ${run}/${runs}: ${key(stack, size)}${attempt > 1 ? ` (attempt ${attempt})` : ''}`,
          );
          try {
            r = await transfer(stack, size, bytes);
          } catch (err) {
            // a set-up that fails (seen once with node-datachannel's answer) is retried, and reported
            const what = `run ${run} ${key(stack, size)} attempt ${attempt} failed: ${(err as Error).message}`;
            notes.push(what);
            log(what);
            if (attempt >= 3) throw err;
          }
        }
        const k = key(stack, size);
        results[k] ??= [];
        results[k].push(r);
        log(
          `run ${run} ${k.padEnd(10)} ${fmt(r.mbPerSec).padStart(7)} MB/s  sender ${fmt(r.senderCpuSPerMB, 4)} s/MB  receiver ${fmt(r.receiverCpuSPerMB, 4)} s/MB  UDP drops ${r.udpDrops}`,
        );
      }
    }
  }
  const rows = [];
  for (const size of sizes) {
    const stock = results[key('stock', size)];
    const ndc = results[key('ndc', size)];
    for (const stack of stacks) {
      const list = results[key(stack, size)] ?? [];
      const mbs = list.map((r) => r.mbPerSec);
      // ratios per run (same run, same machine state), then their median
      const ratio = (base: Transfer[] | undefined): number | undefined =>
        base && base.length === list.length
          ? median(list.map((r, i) => r.mbPerSec / (base[i] as Transfer).mbPerSec))
          : undefined;
      rows.push({
        stack,
        messageBytes: size,
        mbPerSec: { median: median(mbs), min: Math.min(...mbs), max: Math.max(...mbs), runs: mbs },
        senderCpuSPerMB: median(list.map((r) => r.senderCpuSPerMB)),
        receiverCpuSPerMB: median(list.map((r) => r.receiverCpuSPerMB)),
        udpDrops: list.map((r) => r.udpDrops),
        vsStock: ratio(stock),
        vsNdc: ratio(ndc),
      });
    }
  }
  let profile: ProfileSummary | undefined;
  let receiverProfile: ProfileSummary | undefined;
  if (values['profile'] === true) {
    ctx.progress.update('profiled tuned 64 KiB transfer');
    const pd = values['profile-dir'];
    const dir = typeof pd === 'string' ? pd : mkdtempSync(path.join(os.tmpdir(), 'transport-prof-'));
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `tuned-sender-64k-${Date.now()}.cpuprofile`);
    const receiverFile = file.replace('-sender-', '-receiver-');
    const t = await transfer('tuned', 64 * 1024, bytes, file, receiverFile);
    profile = { ...summarizeProfile(file), mbPerSec: t.mbPerSec };
    receiverProfile = summarizeProfile(receiverFile);
  }
  const m = machine(['werift', 'node-datachannel']);
  const loadAfter = os.loadavg();
  const result = {
    machine: m,
    loadavg: { before: loadBefore, after: loadAfter },
    bytesPerTransfer: bytes,
    warmupBytes: WARMUP_BYTES,
    runs,
    rows,
    profile,
    receiverProfile,
  };
  const out: string[] = [
    `${m['cpu']}, ${m['cores']} cores, Node ${m['node']}, werift ${m['werift']}, node-datachannel ${m['nodeDatachannel']}`,
    `load average before/after: ${loadBefore.map((x) => x.toFixed(2)).join(' ')} / ${loadAfter.map((x) => x.toFixed(2)).join(' ')}`,
    '',
    '| stack | message | MB/s median | min–max | sender CPU s/MB | receiver CPU s/MB | vs stock | vs ndc |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    out.push(
      `| ${r.stack} | ${r.messageBytes / 1024} KiB | ${fmt(r.mbPerSec.median)} | ${fmt(r.mbPerSec.min)}–${fmt(r.mbPerSec.max)} | ${fmt(r.senderCpuSPerMB, 4)} | ${fmt(r.receiverCpuSPerMB, 4)} | ${r.vsStock === undefined ? '—' : `${fmt(r.vsStock)}×`} | ${r.vsNdc === undefined ? '—' : `${fmt(r.vsNdc)}×`} |`,
    );
  }
  if (profile) {
    out.push(`\nCPU profile of the tuned sender (64 KiB messages): ${profile.file}`);
    out.push(
      `busy ${fmt(profile.busySeconds)} s, idle ${profile.idlePercent} % of the sampled time; shares below are of busy time`,
    );
    for (const [i, t] of profile.top.entries()) {
      out.push(
        `${String(i + 1).padStart(2)}. ${fmt(t.percent, 1).padStart(5)} %  ${t.fn}  [${t.layer}] ${t.where}`,
      );
    }
    out.push('self time by layer:');
    for (const l of profile.layers) out.push(`  ${fmt(l.percent, 1).padStart(5)} %  ${l.layer}`);
  }
  if (receiverProfile) {
    out.push(
      `\nReceiver of the same transfer: busy ${fmt(receiverProfile.busySeconds)} s, idle ${receiverProfile.idlePercent} %`,
    );
    for (const [i, t] of receiverProfile.top.slice(0, 10).entries()) {
      out.push(
        `${String(i + 1).padStart(2)}. ${fmt(t.percent, 1).padStart(5)} %  ${t.fn}  [${t.layer}] ${t.where}`,
      );
    }
    out.push('self time by layer:');
    for (const l of receiverProfile.layers.slice(0, 10))
      out.push(`  ${fmt(l.percent, 1).padStart(5)} %  ${l.layer}`);
  }
  const charts = transportCharts(
    rows.map((r) => ({
      stack: r.stack,
      messageBytes: r.messageBytes,
      median: r.mbPerSec.median,
      min: r.mbPerSec.min,
      max: r.mbPerSec.max,
    })),
    `this run: ${String(m['cpu'])}, ${String(m['cores'])} cores, Node ${String(m['node'])}, ${runs} run(s) × ${bytes / 1024 / 1024} MiB, ${String(m['date']).slice(0, 16)} UTC`,
  );
  return { machine: m, data: result, text: out.join('\n'), charts };
}

export const bench: BenchDef = {
  name: 'transport',
  summary: 'Raw data channel MB/s and CPU per MB: stock werift, UDP buffers only, tuned, node-datachannel',
  help: `Raw data channel throughput and CPU per MB across two processes on 127.0.0.1, one way, for the
stacks stock (werift as shipped), udp (our Peer without the werift patches), tuned (our Peer as tubes use
it) and ndc (node-datachannel: a devDependency, skipped with a note where it is not installed).

Options:
  --runs <n>           Runs, every stack in each (default 5)
  --bytes <n>          Bytes per transfer, K/M/G binary (default 64M; a 4 MiB warm-up comes first)
  --sizes <list>       Message sizes (default 16K,64K)
  --stacks <list>      Stacks (default stock,udp,tuned,ndc; also tuned-1191: tuned without sctp-plpmtud)
  --profile            Add a CPU-profiled tuned 64 KiB transfer and print where the time goes
  --profile-dir <dir>  Where the .cpuprofile files go (default a temporary directory)
`,
  options: {
    runs: { type: 'string' },
    bytes: { type: 'string' },
    sizes: { type: 'string' },
    stacks: { type: 'string' },
    profile: { type: 'boolean' },
    'profile-dir': { type: 'string' },
  },
  run,
  child,
};
