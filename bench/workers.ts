/**
 * Worker-mode benchmark (npm run bench:workers): aggregate throughput of several tubes, each carrying one
 * TCP stream, with the sending side in a `TubeRegistry({ workers: 1 })` and then `{ workers: 2 }`; the
 * ratio 2-vs-1 is the multi-core scaling. Median of `--runs` runs per worker count, the two counts
 * alternating (1,2 then 2,1 …) so drift on a shared machine hits both.
 *
 *   node bench/workers.ts [--runs 3] [--bytes 32M] [--tubes 4] [--gateways 2] [--counts 1,2] [--json]
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
import { parseArgs } from 'node:util';
import { connectTubes, LOOPBACK, RemoteRegistry } from '../src/cli/remote.ts';
import { median, parseBytes, type Sink, sendParallel, startSink } from '../src/cli/workload.ts';
import { TubeRegistry } from '../src/index.ts';
import { workerInfo, workerTestHookForTests } from '../src/registry/worker-backend.ts';

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

async function run(
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      bytes: { type: 'string', default: '32M' },
      tubes: { type: 'string', default: '4' },
      gateways: { type: 'string', default: '2' },
      counts: { type: 'string', default: '1,2' },
      json: { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  const bytes = parseBytes(values.bytes);
  const tubes = Number(values.tubes);
  const gatewayCount = Number(values.gateways);
  const counts = values.counts.split(',').map(Number);
  if (!counts.includes(1) || !counts.includes(2)) throw new Error('--counts must include 1 and 2');
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const load0 = os.loadavg();
  const sink = await startSink();
  const gateways = Array.from(
    { length: gatewayCount },
    () => new RemoteRegistry(LOOPBACK, { stderr: 'inherit' }),
  );
  const results: RunResult[] = [];
  try {
    await Promise.all(gateways.map((g) => g.ready()));
    for (let r = 0; r < runs; r++) {
      for (const w of r % 2 === 0 ? counts : [...counts].reverse()) {
        const res = await run(w, tubes, bytes, gateways, sink);
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
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const rows = summary.map(
    (s) =>
      `| ${s.workers === 0 ? '0 (in-thread)' : s.workers} | ${s.runs.map((x) => fmt(x)).join(', ')} | ${fmt(s.medianMbPerSec)} | ${fmt(s.cpuMsPerMb.sender)} | ${fmt(s.cpuMsPerMb.gateway)} | ${fmt(s.cpuMsPerMb.main)} | ${fmt(s.busiestSender * 100, 0)} % | ${fmt(s.coresBusy, 2)} |`,
  );
  process.stdout.write(
    [
      `${tubes} tubes × ${bytes / 1024 / 1024} MiB, gateway side in ${gatewayCount} child process(es); ${report.machine.cpus} CPUs (${report.machine.model}), Node ${process.version}; load average ${load0.map((x) => x.toFixed(2)).join(' ')} before, ${load1.map((x) => x.toFixed(2)).join(' ')} after`,
      '',
      '| workers | MB/s per run | median MB/s | sender CPU ms/MB | gateway CPU ms/MB | main thread CPU ms/MB | busiest sender thread | cores busy |',
      '| ------: | ------------ | ----------: | ---------------: | ----------------: | --------------------: | --------------------: | ---------: |',
      ...rows,
      '',
      `ratio 2 vs 1 worker: ${ratio.toFixed(2)}× (medians), ${pairedRatio.toFixed(2)}× (median of per-round ratios); sender-side capacity ratio (2 × sender CPU/MB at 1 worker ÷ at 2): ${senderCapacityRatio.toFixed(2)}×`,
      `CPU ceiling for this layout on ${report.machine.cpus} cores (all parts, 1-worker CPU cost per MB): ${fmt(ceiling)} MB/s`,
      '',
    ].join('\n'),
  );
}

await main();
