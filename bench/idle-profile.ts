/**
 * What idle tubes do (node bench/idle-profile.ts): `--pairs` tube pairs (both ends in this process, one data
 * channel each, no traffic) are set up, then over `--seconds` this prints
 * - the allocation rate of the whole process (V8 heap, from a GC profile: bytes freed by every GC in the window
 *   plus the growth of the used heap), per tube per second;
 * - the datagrams sent per tube per second by kind: STUN (binding requests / responses), and SCTP packets by
 *   their chunk types (read in plaintext before DTLS encryption);
 * - with `--sites n`, the n largest allocation sites of a sampling heap profile over a second window of the
 *   same length (inspector `HeapProfiler.startSampling`, objects collected by either GC included).
 *
 * - with `node --expose-gc`, how much the old generation (old and large-object spaces, after full GCs) grew over
 *   the window, per tube: a leak shows here (± 50 B/s per tube of noise over 20 s windows).
 *
 *   node [--expose-gc] bench/idle-profile.ts [--pairs 50] [--seconds 10] [--sites 25] [--without p1,p2] [--stock]
 *                                            [--json]
 */
import dgram from 'node:dgram';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import type { RTCPeerConnection } from 'werift';
import { describeMachine, machine } from '../src/bench/lib.ts';
import { connectTubes, LOOPBACK } from '../src/cli/remote.ts';
import { TubeRegistry } from '../src/index.ts';
import { WERIFT_PATCHES, type WeriftPatch } from '../src/webrtc/patches/index.ts';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    sites: { type: 'string', default: '0' },
    without: { type: 'string', default: '' },
    stock: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const TUNNEL = { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: 9 };
const log = (s: string): void => {
  if (!values.json) process.stdout.write(`${s}\n`);
};

if (values.stock) process.env['TUBES_WERIFT_PATCHES'] = '0';
const list = WERIFT_PATCHES as unknown as WeriftPatch[];
if (values.without) {
  const drop = new Set(values.without.split(','));
  for (let i = list.length - 1; i >= 0; i--) if (drop.has(list[i]?.name ?? '')) list.splice(i, 1);
}
// Records every peer connection (a pseudo-patch that only keeps a reference; patched configurations only).
const pcs: RTCPeerConnection[] = [];
list.push({
  name: 'bench-record',
  description: 'records the peer connection (bench only)',
  install(pc) {
    pcs.push(pc);
  },
});

// ---- datagram counting --------------------------------------------------------------------------------------
const counts = new Map<string, number>();
let counting = false;
const count = (kind: string): void => {
  if (counting) counts.set(kind, (counts.get(kind) ?? 0) + 1);
};
const sendProto = dgram.Socket.prototype as unknown as { send: (...a: unknown[]) => unknown };
const stockSend = sendProto.send;
sendProto.send = function (this: unknown, ...args: unknown[]) {
  const msg = args[0];
  if (counting && msg instanceof Uint8Array && msg.length > 0) {
    const b = msg[0] as number;
    if (b < 4) {
      const type = ((msg[0] as number) << 8) | (msg[1] as number);
      count(
        type === 0x0001 ? 'STUN binding request' : type === 0x0101 ? 'STUN binding response' : 'STUN other',
      );
    } else if (b >= 20 && b <= 63) count(b === 23 ? 'DTLS application data (all)' : `DTLS content type ${b}`);
    else count('other datagram');
  }
  return stockSend.apply(this, args);
};

const CHUNK_NAMES: Record<number, string> = {
  0: 'DATA',
  3: 'SACK',
  4: 'HEARTBEAT',
  5: 'HEARTBEAT-ACK',
  192: 'FORWARD-TSN',
  130: 'RECONFIG',
};

/** Wraps the SCTP → DTLS send of each connection to count SCTP packets by their chunk types. */
function countSctp(pc: RTCPeerConnection): void {
  const bridge = (
    pc as unknown as { sctpTransport?: { sctp?: { transport?: { send: (b: Buffer) => unknown } } } }
  ).sctpTransport?.sctp?.transport;
  if (!bridge) return;
  const send = bridge.send;
  bridge.send = (buf: Buffer) => {
    if (counting) {
      const kinds: string[] = [];
      for (let o = 12; o + 4 <= buf.length; ) {
        const type = buf[o] as number;
        kinds.push(CHUNK_NAMES[type] ?? `chunk ${type}`);
        o += (buf.readUInt16BE(o + 2) + 3) & ~3;
      }
      count(`SCTP packet: ${kinds.join('+')}`);
    }
    return send(buf);
  };
}

// ---- run ----------------------------------------------------------------------------------------------------
const pairs = Number(values.pairs);
const seconds = Number(values.seconds);
const server = new TubeRegistry(LOOPBACK);
const client = new TubeRegistry(LOOPBACK);
for (let i = 0; i < 5; i++) {
  const w = await connectTubes({ server, client, conversationId: `warmup-${i}`, clientSettings: TUNNEL });
  await Promise.all([server.closeTube(w.serverTube), client.closeTube(w.clientTube)]);
}
pcs.length = 0;
for (let i = 0; i < pairs; i++) {
  await connectTubes({ server, client, conversationId: `idle-${i}`, clientSettings: TUNNEL });
}
const tubes = server.activeTubeCount() + client.activeTubeCount();
for (const pc of pcs) countSctp(pc);
await new Promise((r) => setTimeout(r, 3000));

const out: Record<string, unknown> = { machine: machine(['werift']), tubes, seconds };
log(describeMachine(out['machine'] as never));
log(
  `${tubes} idle tubes, ${values.stock ? 'stock werift' : `patches${values.without ? ` without ${values.without}` : ''}`}`,
);

// allocation rate: bytes freed by each GC in the window plus the used-heap growth
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
/** Old-generation objects (old and large-object spaces): what a leak grows; JIT code has spaces of its own. */
const oldUsed = (): number =>
  v8
    .getHeapSpaceStatistics()
    .filter((x) => x.space_name === 'old_space' || x.space_name === 'large_object_space')
    .reduce((sum, x) => sum + x.space_used_size, 0);
const retained0 = oldUsed();
const newSpaceMiB = (): number =>
  (v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0) / 2 ** 20;
const newSpace0 = newSpaceMiB();
const profiler = new v8.GCProfiler();
const used0 = v8.getHeapStatistics().used_heap_size;
const cpu0 = process.cpuUsage();
counting = true;
profiler.start();
const t0 = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
const profile = profiler.stop() as {
  statistics: {
    gcType: string;
    beforeGC: { heapStatistics: { usedHeapSize: number } };
    afterGC: { heapStatistics: { usedHeapSize: number } };
  }[];
};
const elapsed = (performance.now() - t0) / 1000;
counting = false;
const cpu = process.cpuUsage(cpu0);
const used1 = v8.getHeapStatistics().used_heap_size;
let freed = 0;
const gcs = new Map<string, number>();
for (const s of profile.statistics) {
  freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  gcs.set(s.gcType, (gcs.get(s.gcType) ?? 0) + 1);
}
const allocated = freed + used1 - used0;
const perTubeSecond = allocated / tubes / elapsed;
out['allocatedBytesPerTubePerSecond'] = perTubeSecond;
out['cpuMsPerTubePerSecond'] = (cpu.user + cpu.system) / 1000 / tubes / elapsed;
out['gcs'] = Object.fromEntries(gcs);
log(
  `allocated ${(allocated / 1e6).toFixed(2)} MB in ${elapsed.toFixed(1)} s: ${(perTubeSecond / 1000).toFixed(2)} KB/s per tube; ` +
    `CPU ${((cpu.user + cpu.system) / 1000 / elapsed).toFixed(1)} ms/s (${(((cpu.user + cpu.system) / 1000 / tubes / elapsed) * 1000).toFixed(1)} µs/s per tube); GCs ${[...gcs].map(([k, v]) => `${k} ${v}`).join(', ')}`,
);
log(`young generation (new space) ${newSpace0.toFixed(0)} → ${newSpaceMiB().toFixed(0)} MiB over the window`);
if (gc) {
  // old generation after a full GC at both ends of the window (run with --expose-gc); noisy over short windows
  gc();
  const growth = (oldUsed() - retained0) / tubes / elapsed;
  out['oldGenerationGrowthBytesPerTubePerSecond'] = growth;
  log(
    `old generation (after full GCs) grew ${growth.toFixed(1)} B/s per tube (${((growth * 3600) / 1024).toFixed(1)} KiB/h)`,
  );
}
const packets: Record<string, number> = {};
log('datagrams sent per tube per second:');
for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1])) {
  packets[k] = v / tubes / elapsed;
  log(`  ${k.padEnd(40)} ${(v / tubes / elapsed).toFixed(3)}`);
}
out['packetsPerTubePerSecond'] = packets;

// allocation sites (sampling heap profiler, a second window)
const sites = Number(values.sites);
if (sites > 0) {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const { profile: hp } = (await session.post('HeapProfiler.stopSampling')) as unknown as {
    profile: { head: HeapNode; samples: { size: number; nodeId: number }[] };
  };
  session.disconnect();
  interface HeapNode {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    selfSize: number;
    children: HeapNode[];
  }
  const bySite = new Map<string, number>();
  const byStack = new Map<string, number>();
  let total = 0;
  const walk = (n: HeapNode, path: string[]): void => {
    const cf = n.callFrame;
    const name = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${cf.lineNumber + 1}`;
    const p = [...path, name];
    if (n.selfSize > 0) {
      total += n.selfSize;
      bySite.set(name, (bySite.get(name) ?? 0) + n.selfSize);
      const key = p.slice(-4).join(' < ');
      byStack.set(key, (byStack.get(key) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, p);
  };
  walk(hp.head, []);
  // sizes of the sampled objects: large ones are sampled (almost) always, small ones in proportion
  const bySize = new Map<string, number>();
  for (const smp of hp.samples) {
    const bucket =
      smp.size < 64
        ? '< 64 B'
        : smp.size < 256
          ? '64–255 B'
          : smp.size < 1024
            ? '256–1023 B'
            : smp.size < 8192
              ? '1–8 KiB'
              : '≥ 8 KiB';
    bySize.set(bucket, (bySize.get(bucket) ?? 0) + 1);
  }
  const big = new Map<number, number>();
  for (const smp of hp.samples)
    if (smp.size >= 1024) big.set(smp.nodeId, (big.get(smp.nodeId) ?? 0) + smp.size);
  const names = new Map<number, string>();
  const name2 = (n: HeapNode, path: string[]): void => {
    const p = [...path, `${n.callFrame.functionName || '(anon)'}:${n.callFrame.lineNumber + 1}`];
    names.set(n.id, p.slice(-5).join(' < '));
    for (const c of n.children) name2(c, p);
  };
  name2(hp.head, []);
  log(`sample sizes: ${[...bySize].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  for (const [id, v] of [...big].sort((a, b) => b[1] - a[1]).slice(0, 8))
    log(`  ≥ 1 KiB: ${(v / 1e6).toFixed(2)} MB at ${names.get(id)}`);
  log(
    `sampled allocation sites (${(total / 1e6).toFixed(2)} MB sampled in ${seconds} s, ${(total / tubes / seconds / 1000).toFixed(2)} KB/s per tube):`,
  );
  for (const [k, v] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, sites)) {
    log(
      `  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${(v / tubes / seconds).toFixed(0).padStart(6)} B/s/tube  ${k}`,
    );
  }
  const byRoot = new Map<string, number>();
  const rootWalk = (n: HeapNode, path: string[], inherited: number): number => {
    let sum = n.selfSize;
    const p = [
      ...path,
      `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\//, '')}:${n.callFrame.lineNumber + 1}`,
    ];
    for (const c of n.children) sum += rootWalk(c, p, inherited);
    if (p.length === Number(process.env['ROOT_DEPTH'] ?? 4)) byRoot.set(p.join(' > '), sum);
    return sum;
  };
  rootWalk(hp.head, [], 0);
  log('by the outermost frames:');
  for (const [k, v] of [...byRoot].sort((a, b) => b[1] - a[1]).slice(0, sites))
    log(`  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
  if (process.env['TREE']) {
    const tree = (n: HeapNode, depth: number): number => {
      let sum = n.selfSize;
      for (const c of n.children) sum += tree(c, depth + 1);
      (n as unknown as { total: number }).total = sum;
      return sum;
    };
    tree(hp.head, 0);
    const print = (n: HeapNode, depth: number): void => {
      const t = (n as unknown as { total: number }).total;
      if (t < total * Number(process.env['TREE'])) return;
      log(
        `${'  '.repeat(depth)}${((100 * t) / total).toFixed(1)} % (self ${((100 * n.selfSize) / total).toFixed(1)}) ${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\//, '')}:${n.callFrame.lineNumber + 1}`,
      );
      for (const c of [...n.children].sort(
        (a, b) => (b as unknown as { total: number }).total - (a as unknown as { total: number }).total,
      ))
        print(c, depth + 1);
    };
    print(hp.head, 0);
  }
  log('deepest 4 frames, by stack:');
  for (const [k, v] of [...byStack].sort((a, b) => b[1] - a[1]).slice(0, sites)) {
    log(`  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
  }
}
out['loadavg'] = machine([])['loadavg'];
log(`load average after: ${(out['loadavg'] as number[]).join(' ')}`);
if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
await Promise.all([server.cleanupAll(), client.cleanupAll()]);
process.exit(0);
