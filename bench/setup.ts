/**
 * Set-up and idle-memory benchmark (npm run bench:setup): how long a tube takes from the server's
 * `createTube` call until both tubes report `ready` (data channel open) on loopback, in a fresh process
 * (cold: the first pair of a new Node process) and once warm; and what an idle tube (connected, one data
 * channel, no traffic) costs in RSS and heap, measured over many pairs in one process.
 *
 *   node bench/setup.ts [--procs 8] [--warm 10] [--pairs 50] [--only setup,idle] [--without p1,p2]
 *                       [--stock] [--semi MiB] [--json]
 * (with --json use `npm run -s bench:setup -- --json` so npm's banner stays off stdout)
 *
 * Both registries of a pair live in the same child process (this file with `--child setup|idle`), signalling
 * is relayed in process by `connectTubes` (trickle ICE), which polls the tubes' status every 2 ms.
 * `--without` drops the named werift patches (src/webrtc/patches/) in the children, `--stock` runs without
 * any (TUBES_WERIFT_PATCHES=0): that is how each set-up lever is measured on its own.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { type Json, machine, spawnBenchChild, writeJson } from '../src/bench/lib.ts';
import { connectTubes, LOOPBACK } from '../src/cli/remote.ts';
import { TubeRegistry } from '../src/index.ts';
import { WERIFT_PATCHES } from '../src/webrtc/patches/index.ts';

const SELF = fileURLToPath(import.meta.url);
const TUNNEL = { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: 9 };

// ---- children ----------------------------------------------------------------------------------------

function dropPatches(names: string): void {
  if (!names) return;
  const drop = new Set(names.split(',').filter(Boolean));
  const list = WERIFT_PATCHES as unknown as { name: string }[];
  for (let i = list.length - 1; i >= 0; i--) if (drop.has(list[i]?.name ?? '')) list.splice(i, 1);
}

async function setupChild(warm: number): Promise<void> {
  const server = new TubeRegistry(LOOPBACK);
  const client = new TubeRegistry(LOOPBACK);
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i <= warm; i++) {
    const c0 = process.cpuUsage();
    const p = await connectTubes({ server, client, conversationId: `setup-${i}`, clientSettings: TUNNEL });
    const c = process.cpuUsage(c0);
    times.push(p.createToReadyMs);
    cpu.push((c.user + c.system) / 1000);
    await Promise.all([server.closeTube(p.serverTube), client.closeTube(p.clientTube)]);
  }
  await Promise.all([server.cleanupAll(), client.cleanupAll()]);
  writeJson(process.stdout, { times, cpu });
}

interface MemSample {
  rss: number;
  /** V8's young generation (committed), which grows with the allocation rate, not with the tubes. */
  newSpace: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

async function settle(): Promise<MemSample> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 100));
    gc?.();
  }
  const m = process.memoryUsage();
  const newSpace = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
  return {
    rss: m.rss,
    newSpace: newSpace?.space_size ?? 0,
    heapTotal: m.heapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
  };
}

async function idleChild(pairs: number): Promise<void> {
  const server = new TubeRegistry(LOOPBACK);
  const client = new TubeRegistry(LOOPBACK);
  // Five pairs first, closed again: module loading, the certificate and JIT are not charged to the tubes.
  for (let i = 0; i < 5; i++) {
    const w = await connectTubes({ server, client, conversationId: `warmup-${i}`, clientSettings: TUNNEL });
    await Promise.all([server.closeTube(w.serverTube), client.closeTube(w.clientTube)]);
  }
  await new Promise((r) => setTimeout(r, 500));
  const before = await settle();
  for (let i = 0; i < pairs; i++) {
    await connectTubes({ server, client, conversationId: `idle-${i}`, clientSettings: TUNNEL });
  }
  await new Promise((r) => setTimeout(r, 1000));
  const after = await settle();
  const tubes = server.activeTubeCount() + client.activeTubeCount();
  writeJson(process.stdout, { before, after, tubes });
  await Promise.all([server.cleanupAll(), client.cleanupAll()]);
}

// ---- parent ------------------------------------------------------------------------------------------

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    procs: { type: 'string', default: '8' },
    warm: { type: 'string', default: '10' },
    pairs: { type: 'string', default: '50' },
    only: { type: 'string', default: 'setup,idle' },
    without: { type: 'string', default: '' },
    stock: { type: 'boolean', default: false },
    /** idle: the child's --max-semi-space-size (MiB), to keep the young generation out of the per-tube figure. */
    semi: { type: 'string', default: '' },
    json: { type: 'boolean', default: false },
  },
});

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

const f = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '—');

async function runChild(kind: string, arg: string, execArgv: string[] = []): Promise<Json> {
  const env = values.stock ? { TUBES_WERIFT_PATCHES: '0' } : {};
  Object.assign(process.env, env);
  const child = spawnBenchChild(SELF, ['--child', kind, '--without', values.without, arg], {
    execArgv,
    timeoutMs: 120_000,
  });
  try {
    return await child.lines.next();
  } finally {
    await child.stop();
  }
}

async function main(): Promise<void> {
  if (values.child === 'setup') {
    dropPatches(values.without);
    await setupChild(Number(values.warm));
    return;
  }
  if (values.child === 'idle') {
    dropPatches(values.without);
    await idleChild(Number(values.pairs));
    return;
  }
  const only = new Set(values.only.split(','));
  const out: Json = { machine: machine(['werift']), args: process.argv.slice(2).join(' ') || '(defaults)' };
  const log = (s: string): void => {
    if (!values.json) process.stdout.write(`${s}\n`);
  };
  log(`machine: ${JSON.stringify(out['machine'])}`);
  log(
    `patches: ${values.stock ? 'none (stock werift)' : `all${values.without ? ` without ${values.without}` : ''}`}`,
  );
  if (only.has('setup')) {
    const cold: number[] = [];
    const warm: number[] = [];
    const coldCpu: number[] = [];
    const warmCpu: number[] = [];
    for (let i = 0; i < Number(values.procs); i++) {
      const r = await runChild('setup', `--warm=${values.warm}`);
      const times = r['times'] as number[];
      const cpu = r['cpu'] as number[];
      cold.push(times[0] as number);
      warm.push(...times.slice(1));
      coldCpu.push(cpu[0] as number);
      warmCpu.push(...cpu.slice(1));
      log(
        `process ${i + 1}: cold ${f(times[0] as number)} ms, warm ${times
          .slice(1)
          .map((x) => f(x, 0))
          .join(' ')}`,
      );
    }
    const row = (name: string, v: number[]): Json => ({
      name,
      n: v.length,
      p50: pct(v, 50),
      p95: pct(v, 95),
      min: Math.min(...v),
      max: Math.max(...v),
    });
    out['setup'] = {
      cold: row('cold', cold),
      warm: row('warm', warm),
      coldCpu: row('cold CPU', coldCpu),
      warmCpu: row('warm CPU', warmCpu),
    };
    log('| create → ready | n | p50 ms | p95 ms | min | max |');
    log('| --- | --- | --- | --- | --- | --- |');
    for (const r of [
      row('cold (first pair of a process)', cold),
      row('warm', warm),
      row('cold: CPU ms of the process (both tubes)', coldCpu),
      row('warm: CPU ms of the process (both tubes)', warmCpu),
    ]) {
      log(
        `| ${r['name']} | ${r['n']} | ${f(r['p50'] as number)} | ${f(r['p95'] as number)} | ${f(r['min'] as number)} | ${f(r['max'] as number)} |`,
      );
    }
  }
  if (only.has('idle')) {
    const semi = values.semi ? [`--max-semi-space-size=${values.semi}`] : [];
    const r = await runChild('idle', `--pairs=${values.pairs}`, ['--expose-gc', ...semi]);
    const before = r['before'] as MemSample;
    const after = r['after'] as MemSample;
    const tubes = r['tubes'] as number;
    const per = (k: keyof MemSample): number => (after[k] - before[k]) / tubes / 1024;
    out['idle'] = {
      before,
      after,
      tubes,
      perTubeKiB: {
        rss: per('rss'),
        rssWithoutNewSpace: per('rss') - per('newSpace'),
        newSpace: per('newSpace'),
        heapTotal: per('heapTotal'),
        heapUsed: per('heapUsed'),
        external: per('external'),
        arrayBuffers: per('arrayBuffers'),
      },
    };
    log(`idle: ${values.pairs} pairs = ${tubes} tubes in one process, after GC; per tube:`);
    log(
      `  RSS ${f(per('rss'))} KiB (young generation growth ${f(per('newSpace'))} KiB of it), V8 heap committed ${f(per('heapTotal'))} KiB, heap used ${f(per('heapUsed'))} KiB, external ${f(per('external'))} KiB (ArrayBuffers ${f(per('arrayBuffers'))} KiB)`,
    );
    log(`  process before ${f(before.rss / 2 ** 20)} MiB RSS, after ${f(after.rss / 2 ** 20)} MiB`);
  }
  out['loadavgAfter'] = (machine([])['loadavg'] as number[]) ?? [];
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
