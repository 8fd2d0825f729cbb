/**
 * `tubes bench workers` (npm run bench:workers): aggregate throughput of several tubes, each carrying one
 * TCP stream, with the sending side in a `TubeRegistry({ workers: 1 })` and then `{ workers: 2 }`; the
 * ratio 2-vs-1 is the multi-core scaling. Median of `--runs` runs per worker count, the two counts
 * alternating (1,2 then 2,1 …) so drift on a shared machine hits both.
 *
 * `--counts 0,1,2` adds the in-thread registry (workers: 0) as a baseline for worker mode's own overhead
 * (its sender CPU is then counted in the main thread column).
 *
 * Layout (all on 127.0.0.1): this process's main thread runs the TCP sources (one socket per tube into the
 * server tube's local listener) and the counting sink the gateways dial; the server (offerer) tubes run in
 * the worker registry; the gateway (answerer) tubes run in `--gateways` child processes (RemoteRegistry,
 * tubes spread round-robin). CPU time is measured per part: each worker thread (process.threadCpuUsage in
 * the worker), the main thread, and each gateway child (/proc/<pid>/stat), so the report shows what the
 * machine's cores were spent on.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { UsageError } from '../cli/cli-common.ts';
import { connectTubes, LOOPBACK, RemoteRegistry } from '../cli/remote.ts';
import { median, parseBytes, type Sink, sendParallel, startSink } from '../cli/workload.ts';
import { TubeRegistry } from '../index.ts';
import { workerInfo, workerTestHookForTests } from '../registry/worker-backend.ts';
import { barChart, type Chart } from './charts.ts';
import { machine } from './lib.ts';
import type { BenchContext, BenchDef, BenchOutput, BenchValues } from './types.ts';

const WARMUP_BYTES = 2 * 1024 * 1024;
const TIMEOUT_MS = 300_000;
const CLK_TCK = 100; // Linux USER_HZ

interface RunResult {
  workers: number;
  mbPerSec: number;
  seconds: number;
  /** CPU seconds during the timed transfer. */
  cpu: { workers: number[]; main: number; gateways: number[] };
}

function childCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
  } catch {
    return 0;
  }
}

function cpuSeconds(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e6;
}

async function workerCpu(server: TubeRegistry, workers: number): Promise<number[]> {
  const out: number[] = [];
  if (workers === 0) return out;
  for (const w of workerInfo(server)) {
    const tube = w.tubes[0];
    out.push(tube ? cpuSeconds((await workerTestHookForTests(server, tube, 'cpu')) as NodeJS.CpuUsage) : 0);
  }
  return out;
}

async function runOnce(
  workers: number,
  tubes: number,
  bytes: number,
  gateways: RemoteRegistry[],
  sink: Sink,
): Promise<RunResult> {
  const server = new TubeRegistry({ ...LOOPBACK, workers });
  try {
    const pairs = [];
    for (let i = 0; i < tubes; i++) {
      pairs.push(
        await connectTubes({
          server,
          client: gateways[i % gateways.length] as RemoteRegistry,
          conversationId: `bulk-${i}`,
          clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: sink.port },
        }),
      );
    }
    const signal = AbortSignal.timeout(TIMEOUT_MS);
    const sockets = [];
    let total = sink.received;
    for (const p of pairs)
      sockets.push(...(await sendParallel(p.listenAddr as string, WARMUP_BYTES, 1, signal)));
    total += WARMUP_BYTES * tubes;
    await sink.reached(total, signal);

    const w0 = await workerCpu(server, workers);
    const m0 = process.threadCpuUsage();
    const g0 = gateways.map((g) => childCpuSeconds(g.pid));
    const t0 = performance.now();
    total += bytes * tubes;
    const sent = await Promise.all(pairs.map((p) => sendParallel(p.listenAddr as string, bytes, 1, signal)));
    await sink.reached(total, signal);
    const seconds = (performance.now() - t0) / 1000;
    const m1 = process.threadCpuUsage(m0);
    const g1 = gateways.map((g, i) => childCpuSeconds(g.pid) - (g0[i] ?? 0));
    const w1 = (await workerCpu(server, workers)).map((c, i) => c - (w0[i] ?? 0));
    for (const s of [...sockets, ...sent.flat()]) s.destroy();
    return {
      workers,
      seconds,
      mbPerSec: (bytes * tubes) / 1e6 / seconds,
      cpu: { workers: w1, main: cpuSeconds(m1), gateways: g1 },
    };
  } finally {
    await server.cleanupAll();
    await Promise.all(gateways.map((g) => g.cleanupAll()));
  }
}

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

export function workersCharts(
  summary: { workers: number; medianMbPerSec: number; runs: number[] }[],
  subtitle: string,
): Chart[] {
  if (summary.length === 0) return [];
  return [
    barChart({
      id: 'workers-throughput',
      title: 'Worker mode: aggregate MB/s by worker count (median, min–max over runs; higher is better)',
      subtitle,
      yLabel: 'MB/s',
      groups: summary.map((s) => ({
        label: s.workers === 0 ? '0 (in-thread)' : `${s.workers} worker${s.workers === 1 ? '' : 's'}`,
        bars: [
          {
            series: 'MB/s',
            value: s.medianMbPerSec,
            low: Math.min(...s.runs),
            high: Math.max(...s.runs),
          },
        ],
      })),
    }),
  ];
}

async function run(values: BenchValues, ctx: BenchContext): Promise<BenchOutput> {
  const runs = Number(values['runs'] ?? '3');
  const bytes = parseBytes(String(values['bytes'] ?? '32M'));
  const tubes = Number(values['tubes'] ?? '4');
  const gatewayCount = Number(values['gateways'] ?? '2');
  const counts = String(values['counts'] ?? '1,2')
    .split(',')
    .map(Number);
  for (const [name, n] of [
    ['runs', runs],
    ['tubes', tubes],
    ['gateways', gatewayCount],
  ] as const) {
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
  }
  if (!counts.includes(1) || !counts.includes(2)) throw new UsageError('--counts must include 1 and 2');
  const log = (line: string): void => ctx.progress.log(line);
  const load0 = os.loadavg();
  const sink = await startSink();
  const gateways = Array.from(
    { length: gatewayCount },
    () => new RemoteRegistry(LOOPBACK, { stderr: 'inherit' }),
  );
  const results: RunResult[] = [];
  try {
    ctx.progress.update(`starting ${gatewayCount} gateway process(es)`);
    await Promise.all(gateways.map((g) => g.ready()));
    for (let r = 0; r < runs; r++) {
      for (const w of r % 2 === 0 ? counts : [...counts].reverse()) {
        ctx.progress.update(
          `run ${r + 1}/${runs}: ${w} worker(s), ${tubes} tubes × ${bytes / 1024 / 1024} MiB`,
        );
        const res = await runOnce(w, tubes, bytes, gateways, sink);
        results.push(res);
        log(
          `run ${r + 1}, ${w} worker(s): ${fmt(res.mbPerSec)} MB/s in ${fmt(res.seconds, 2)} s; CPU s: workers ${res.cpu.workers.map((c) => fmt(c, 2)).join('+')}, main ${fmt(res.cpu.main, 2)}, gateways ${res.cpu.gateways.map((c) => fmt(c, 2)).join('+')}`,
        );
      }
    }
  } finally {
    await Promise.all(gateways.map((g) => g.stop()));
    await sink.close();
  }
  const load1 = os.loadavg();
  const by = (w: number): RunResult[] => results.filter((r) => r.workers === w);
  const summary = counts.map((w) => {
    const rs = by(w);
    const mb = median(rs.map((r) => r.mbPerSec));
    const secs = median(rs.map((r) => r.seconds));
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    const workerCpu = median(rs.map((r) => sum(r.cpu.workers)));
    const mainCpu = median(rs.map((r) => r.cpu.main));
    const gwCpu = median(rs.map((r) => sum(r.cpu.gateways)));
    const mbTotal = (bytes * tubes) / 1e6;
    return {
      workers: w,
      runs: rs.map((r) => r.mbPerSec),
      medianMbPerSec: mb,
      medianSeconds: secs,
      cpuSeconds: { workers: workerCpu, main: mainCpu, gateways: gwCpu },
      cpuMsPerMb: {
        sender: (workerCpu / mbTotal) * 1000,
        gateway: (gwCpu / mbTotal) * 1000,
        main: (mainCpu / mbTotal) * 1000,
      },
      coresBusy: (workerCpu + mainCpu + gwCpu) / secs,
      /** CPU share of the busiest sender thread (a worker; the main thread when in-thread). */
      busiestSender: median(rs.map((r) => (w === 0 ? r.cpu.main : Math.max(...r.cpu.workers)) / r.seconds)),
    };
  });
  const one = summary.find((s) => s.workers === 1) as (typeof summary)[number];
  const two = summary.find((s) => s.workers === 2) as (typeof summary)[number];
  const ratio = two.medianMbPerSec / one.medianMbPerSec;
  // Per round (1 and 2 workers measured back to back): drift on a shared machine cancels out better.
  const ones = by(1);
  const twos = by(2);
  const pairedRatio = median(ones.map((o, i) => (twos[i]?.mbPerSec ?? Number.NaN) / o.mbPerSec));
  // Sender-side capacity if each sender thread had a core to itself: threads × 1000 / (sender CPU ms per MB).
  const senderCapacityRatio = (2 * one.cpuMsPerMb.sender) / two.cpuMsPerMb.sender;
  // With C cores fully used and c ms of CPU per MB in all, no layout can exceed C * 1000 / c MB/s.
  const cpuPerMb = one.cpuMsPerMb.sender + one.cpuMsPerMb.gateway + one.cpuMsPerMb.main;
  const ceiling = (os.availableParallelism() * 1000) / cpuPerMb;
  const report = {
    machine: {
      cpus: os.availableParallelism(),
      model: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      loadavgBefore: load0.map((x) => Number(x.toFixed(2))),
      loadavgAfter: load1.map((x) => Number(x.toFixed(2))),
    },
    tubes,
    bytesPerTube: bytes,
    gateways: gatewayCount,
    summary,
    ratio2vs1: ratio,
    pairedRatio2vs1: pairedRatio,
    senderCapacityRatio2vs1: senderCapacityRatio,
    cpuCeilingMbPerSec: ceiling,
  };
  const m = machine(['werift']);
  const rows = summary.map(
    (s) =>
      `| ${s.workers === 0 ? '0 (in-thread)' : s.workers} | ${s.runs.map((x) => fmt(x)).join(', ')} | ${fmt(s.medianMbPerSec)} | ${fmt(s.cpuMsPerMb.sender)} | ${fmt(s.cpuMsPerMb.gateway)} | ${fmt(s.cpuMsPerMb.main)} | ${fmt(s.busiestSender * 100, 0)} % | ${fmt(s.coresBusy, 2)} |`,
  );
  const text = [
    `${tubes} tubes × ${bytes / 1024 / 1024} MiB, gateway side in ${gatewayCount} child process(es); ${report.machine.cpus} CPUs (${report.machine.model}), Node ${process.version}; load average ${load0.map((x) => x.toFixed(2)).join(' ')} before, ${load1.map((x) => x.toFixed(2)).join(' ')} after`,
    '',
    '| workers | MB/s per run | median MB/s | sender CPU ms/MB | gateway CPU ms/MB | main thread CPU ms/MB | busiest sender thread | cores busy |',
    '| ------: | ------------ | ----------: | ---------------: | ----------------: | --------------------: | --------------------: | ---------: |',
    ...rows,
    '',
    `ratio 2 vs 1 worker: ${ratio.toFixed(2)}× (medians), ${pairedRatio.toFixed(2)}× (median of per-round ratios); sender-side capacity ratio (2 × sender CPU/MB at 1 worker ÷ at 2): ${senderCapacityRatio.toFixed(2)}×`,
    `CPU ceiling for this layout on ${report.machine.cpus} cores (all parts, 1-worker CPU cost per MB): ${fmt(ceiling)} MB/s`,
  ].join('\n');
  const charts = workersCharts(
    summary,
    `this run: ${String(m['cpu'])}, ${String(m['cores'])} cores, Node ${String(m['node'])}, ${runs} round(s), ${tubes} tubes × ${bytes / 1024 / 1024} MiB, ${String(m['date']).slice(0, 16)} UTC`,
  );
  return { machine: m, data: report, text, charts };
}

export const bench: BenchDef = {
  name: 'workers',
  summary: 'Worker mode: aggregate MB/s of several tubes with 1 and 2 worker threads, CPU per part',
  help: `Aggregate throughput of several tubes, each carrying one TCP stream, with the sending tubes in a
TubeRegistry with 1 and then 2 workers (alternating per round; --counts 0,1,2 adds the in-thread
registry); gateway tubes in child processes. CPU time per part: worker threads, main thread, gateways.

Options:
  --runs <n>       Rounds (default 3)
  --bytes <n>      Bytes per tube, K/M/G binary (default 32M)
  --tubes <n>      Tubes, one TCP stream each (default 4)
  --gateways <n>   Gateway child processes (default 2)
  --counts <list>  Worker counts, must include 1 and 2 (default 1,2)
`,
  options: {
    runs: { type: 'string' },
    bytes: { type: 'string' },
    tubes: { type: 'string' },
    gateways: { type: 'string' },
    counts: { type: 'string' },
  },
  run,
};
