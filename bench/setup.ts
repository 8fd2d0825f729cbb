/**
 * Set-up and idle-memory benchmark (npm run bench:setup): how long a tube takes from the server's
 * `createTube` call until both tubes report `ready` (data channel open) on loopback, in a fresh process
 * (cold: the first pair of a new Node process) and once warm; and what an idle tube (connected, one data
 * channel, no traffic) costs in RSS and heap, measured over many pairs in one process. Every configuration
 * is measured in the same run, interleaved (process 1 of each configuration, then process 2 of each, …), and
 * the targets' rows compare them (issue 13: cold p50 ≤ 50 ms, must ≤ 100; warm ≤ 30 ms; idle ≤ 150 KB, must
 * ≤ 300 KB, with V8's default heap settings).
 *
 *   node bench/setup.ts [--procs 6] [--warm 6] [--pairs 50] [--only setup,idle]
 *                       [--configs 'patched;stock;without:p1,p2'] [--without p1,p2] [--stock]
 *                       [--gap ms] [--split] [--semi MiB] [--json]
 * (with --json use `npm run -s bench:setup -- --json` so npm's banner stays off stdout)
 *
 * Configurations: `patched` (every werift patch of src/webrtc/patches, what a tube uses), `stock` (none:
 * TUBES_WERIFT_PATCHES=0), `without:p1,p2` (all but the named patches: how one lever is measured on its own).
 * `--without`/`--stock` alone are shortcuts for a single configuration. Default: `patched;stock`.
 * Both registries of a pair live in the same child process (this file with `--child setup|idle`), signalling
 * is relayed in process by `connectTubes` (trickle ICE), which polls the tubes' status every 2 ms. The child
 * also reports how long constructing its two registries took; `--gap ms` waits that long between the
 * construction and the first `createTube` (an idle process before its first tube). With `--split` each round
 * also sets up a pair with one end per process (two RemoteRegistry children: cold = the first pair of two
 * fresh processes; patched and stock configurations only, `without:` needs the in-process patch list).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import {
  describeMachine,
  type Json,
  machine,
  mdTable,
  spawnBenchChild,
  writeJson,
} from '../src/bench/lib.ts';
import { connectTubes, LOOPBACK, RemoteRegistry } from '../src/cli/remote.ts';
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

async function setupChild(warm: number, gapMs: number): Promise<void> {
  const t0 = performance.now();
  const server = new TubeRegistry(LOOPBACK);
  const client = new TubeRegistry(LOOPBACK);
  const constructMs = performance.now() - t0;
  if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
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
  writeJson(process.stdout, { times, cpu, constructMs });
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

/**
 * Memory after three full GCs 100 ms apart; `reduce` makes the last one V8's memory-reducing collection (the one
 * V8 runs under memory pressure), which also shrinks the young generation back to its minimum.
 */
async function settle(reduce = false): Promise<MemSample> {
  const gc = (globalThis as { gc?: (options?: object) => void }).gc;
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (reduce && i === 2) gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    else gc?.();
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

async function idleChild(pairs: number, reduce: boolean): Promise<void> {
  const server = new TubeRegistry(LOOPBACK);
  const client = new TubeRegistry(LOOPBACK);
  // Five pairs first, closed again: module loading, the certificate and JIT are not charged to the tubes.
  for (let i = 0; i < 5; i++) {
    const w = await connectTubes({ server, client, conversationId: `warmup-${i}`, clientSettings: TUNNEL });
    await Promise.all([server.closeTube(w.serverTube), client.closeTube(w.clientTube)]);
  }
  await new Promise((r) => setTimeout(r, 500));
  const before = await settle(reduce);
  for (let i = 0; i < pairs; i++) {
    await connectTubes({ server, client, conversationId: `idle-${i}`, clientSettings: TUNNEL });
  }
  await new Promise((r) => setTimeout(r, 1000));
  const after = await settle(reduce);
  const tubes = server.activeTubeCount() + client.activeTubeCount();
  writeJson(process.stdout, { before, after, tubes });
  await Promise.all([server.cleanupAll(), client.cleanupAll()]);
}

// ---- parent ------------------------------------------------------------------------------------------

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    procs: { type: 'string', default: '6' },
    warm: { type: 'string', default: '6' },
    pairs: { type: 'string', default: '50' },
    only: { type: 'string', default: 'setup,idle' },
    configs: { type: 'string', default: '' },
    without: { type: 'string', default: '' },
    stock: { type: 'boolean', default: false },
    gap: { type: 'string', default: '0' },
    /** idle: the child's --max-semi-space-size (MiB), to keep the young generation out of the per-tube figure. */
    semi: { type: 'string', default: '' },
    json: { type: 'boolean', default: false },
    /** set-up: also pairs with one end per process (two RemoteRegistry children; patched and stock only). */
    split: { type: 'boolean', default: false },
    /** idle child: measure after memory-reducing GCs (young generation at its minimum). */
    reduce: { type: 'boolean', default: false },
  },
});

interface Config {
  label: string;
  stock: boolean;
  without: string;
}

function parseConfigs(): Config[] {
  const spec =
    values.configs ||
    (values.stock ? 'stock' : values.without ? `without:${values.without}` : 'patched;stock');
  return spec
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      if (s === 'stock') return { label: 'stock', stock: true, without: '' };
      if (s === 'patched' || s === 'all') return { label: 'patched', stock: false, without: '' };
      if (s.startsWith('without:')) return { label: s, stock: false, without: s.slice('without:'.length) };
      throw new Error(`unknown configuration ${s} (patched, stock, without:p1,p2)`);
    });
}

function pct(v: number[], p: number): number {
  const s = [...v].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

const f = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '—');

async function runChild(
  kind: string,
  config: Config,
  args: string[],
  execArgv: string[] = [],
): Promise<Json> {
  const child = spawnBenchChild(
    SELF,
    ['--child', kind, '--without', config.without, ...(config.stock ? ['--stock'] : []), ...args],
    { execArgv, timeoutMs: 120_000 },
  );
  try {
    return await child.lines.next();
  } finally {
    await child.stop();
  }
}

interface SetupSamples {
  cold: number[];
  warm: number[];
  splitCold: number[];
  splitWarm: number[];
  coldCpu: number[];
  warmCpu: number[];
  construct: number[];
}

/**
 * One end per process, as deployed: the server and the client registry each in a fresh child process
 * (src/cli/child.ts through RemoteRegistry, both up before the clock starts), signalling relayed by this process
 * (status polled over the children's IPC, which adds its round trips). Returns create → ready per pair.
 */
async function splitSample(config: Config, warm: number, gapMs: number): Promise<number[]> {
  const env = config.stock ? { ...process.env, TUBES_WERIFT_PATCHES: '0' } : process.env;
  const server = new RemoteRegistry(LOOPBACK, { env });
  const client = new RemoteRegistry(LOOPBACK, { env });
  try {
    await Promise.all([server.ready(), client.ready()]);
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    const times: number[] = [];
    for (let i = 0; i <= warm; i++) {
      const p = await connectTubes({ server, client, conversationId: `split-${i}`, clientSettings: TUNNEL });
      times.push(p.createToReadyMs);
      await Promise.all([server.closeTube(p.serverTube), client.closeTube(p.clientTube)]);
    }
    return times;
  } finally {
    await Promise.all([server.stop(), client.stop()]);
  }
}

function stats(v: number[]): Json {
  return { n: v.length, p50: pct(v, 50), p95: pct(v, 95), min: Math.min(...v), max: Math.max(...v) };
}

async function main(): Promise<void> {
  if (values.child) {
    if (values.stock) process.env['TUBES_WERIFT_PATCHES'] = '0';
    dropPatches(values.without);
    if (values.child === 'setup') await setupChild(Number(values.warm), Number(values.gap));
    else if (values.child === 'idle') await idleChild(Number(values.pairs), values.reduce);
    return;
  }
  const configs = parseConfigs();
  const only = new Set(values.only.split(','));
  const out: Json = { machine: machine(['werift']), args: process.argv.slice(2).join(' ') || '(defaults)' };
  const log = (s: string): void => {
    if (!values.json) process.stdout.write(`${s}\n`);
  };
  log(describeMachine(out['machine'] as Json));
  log(`configurations (interleaved): ${configs.map((c) => c.label).join(', ')}`);
  const base = configs[0] as Config;
  const ref = configs.find((c) => c.stock && c !== base) ?? configs[1];
  const ratio = (a: number, b: number | undefined): string =>
    b === undefined || !Number.isFinite(b) || b === 0 ? '—' : `${(a / b).toFixed(2)}×`;
  const verdict = (v: number, goal: number, must: number): string =>
    v <= goal ? 'met' : v <= must ? `must met (goal ${goal})` : 'missed';

  if (only.has('setup')) {
    const samples = new Map<Config, SetupSamples>(
      configs.map((c) => [
        c,
        { cold: [], warm: [], splitCold: [], splitWarm: [], coldCpu: [], warmCpu: [], construct: [] },
      ]),
    );
    for (let i = 0; i < Number(values.procs); i++) {
      for (const config of configs) {
        const r = await runChild('setup', config, [`--warm=${values.warm}`, `--gap=${values.gap}`]);
        const s = samples.get(config) as SetupSamples;
        const times = r['times'] as number[];
        const cpu = r['cpu'] as number[];
        s.cold.push(times[0] as number);
        s.warm.push(...times.slice(1));
        s.coldCpu.push(cpu[0] as number);
        s.warmCpu.push(...cpu.slice(1));
        s.construct.push(r['constructMs'] as number);
        log(
          `process ${i + 1} ${config.label}: cold ${f(times[0] as number)} ms, warm ${times
            .slice(1)
            .map((x) => f(x, 0))
            .join(' ')}`,
        );

        if (values.split && !config.without) {
          const split = await splitSample(config, Math.min(2, Number(values.warm)), Number(values.gap));
          s.splitCold.push(split[0] as number);
          s.splitWarm.push(...split.slice(1));
          log(
            `  one end per process: cold ${f(split[0] as number)} ms, warm ${split
              .slice(1)
              .map((x) => f(x, 0))
              .join(' ')}`,
          );
        }
      }
    }
    const setupOut: Json = {};
    const rows: string[][] = [['create → ready', 'configuration', 'n', 'p50 ms', 'p95 ms', 'min', 'max']];
    for (const [what, key] of [
      ['cold (first pair, fresh process)', 'cold'],
      ['warm', 'warm'],
      ['cold, one end per process', 'splitCold'],
      ['warm, one end per process', 'splitWarm'],
      ['cold: CPU ms of the process', 'coldCpu'],
      ['warm: CPU ms of the process', 'warmCpu'],
      ['two registries constructed, ms', 'construct'],
    ] as const) {
      for (const config of configs) {
        const v = (samples.get(config) as SetupSamples)[key];
        if (v.length === 0) continue;
        const st = stats(v);
        ((setupOut[config.label] ??= {}) as Json)[key] = st;
        rows.push([
          what,
          config.label,
          String(st['n']),
          f(st['p50'] as number),
          f(st['p95'] as number),
          f(st['min'] as number),
          f(st['max'] as number),
        ]);
      }
    }
    out['setup'] = setupOut;
    for (const l of mdTable(rows)) log(l);
    const b = samples.get(base) as SetupSamples;
    const r = ref ? samples.get(ref) : undefined;
    log('');
    const targetRows: string[][] = [
      ['target', base.label, ref ? ref.label : '—', `${base.label} / ${ref?.label ?? '—'}`, 'verdict'],
    ];
    const cold50 = pct(b.cold, 50);
    const warm50 = pct(b.warm, 50);
    targetRows.push(
      [
        'cold p50 ≤ 50 ms (must ≤ 100)',
        f(cold50),
        r ? f(pct(r.cold, 50)) : '—',
        ratio(cold50, r && pct(r.cold, 50)),
        verdict(cold50, 50, 100),
      ],
      [
        'cold p95',
        f(pct(b.cold, 95)),
        r ? f(pct(r.cold, 95)) : '—',
        ratio(pct(b.cold, 95), r && pct(r.cold, 95)),
        '',
      ],
      [
        'warm p50 ≤ 30 ms',
        f(warm50),
        r ? f(pct(r.warm, 50)) : '—',
        ratio(warm50, r && pct(r.warm, 50)),
        warm50 <= 30 ? 'met' : 'missed',
      ],
      [
        'warm p95',
        f(pct(b.warm, 95)),
        r ? f(pct(r.warm, 95)) : '—',
        ratio(pct(b.warm, 95), r && pct(r.warm, 95)),
        '',
      ],
    );
    if (b.splitCold.length > 0) {
      targetRows.splice(2, 0, [
        'cold p50, one end per process',
        f(pct(b.splitCold, 50)),
        r ? f(pct(r.splitCold, 50)) : '—',
        ratio(pct(b.splitCold, 50), r && pct(r.splitCold, 50)),
        verdict(pct(b.splitCold, 50), 50, 100),
      ]);
    }
    for (const l of mdTable(targetRows)) log(l);
  }

  if (only.has('idle')) {
    const semi = values.semi ? [`--max-semi-space-size=${values.semi}`] : [];
    const idleOut: Json = {};
    const rows: string[][] = [
      [
        `idle, per tube (${values.pairs} pairs)`,
        'RSS KiB',
        'young gen. growth KiB',
        'RSS, young gen. at its minimum KiB',
        'heap used KiB',
        'external KiB',
        'new space before → after (reduced) MiB',
        'RSS before → after MiB',
      ],
    ];
    const perTube = new Map<Config, { rss: number; tubeOnly: number }>();
    for (const config of configs) {
      const r = await runChild('idle', config, [`--pairs=${values.pairs}`], ['--expose-gc', ...semi]);
      const before = r['before'] as MemSample;
      const after = r['after'] as MemSample;
      const tubes = r['tubes'] as number;
      const per = (k: keyof MemSample): number => (after[k] - before[k]) / tubes / 1024;
      // a second process, measured after memory-reducing GCs (the young generation back at its minimum)
      const red = await runChild(
        'idle',
        config,
        [`--pairs=${values.pairs}`, '--reduce'],
        ['--expose-gc', ...semi],
      );
      const afterReduced = red['after'] as MemSample;
      const beforeReduced = red['before'] as MemSample;
      const tubeOnly = (afterReduced.rss - beforeReduced.rss) / (red['tubes'] as number) / 1024;
      perTube.set(config, { rss: per('rss'), tubeOnly });
      idleOut[config.label] = {
        before,
        after,
        tubes,
        perTubeKiB: {
          rss: per('rss'),
          rssYoungGenerationAtMinimum: tubeOnly,
          newSpace: per('newSpace'),
          heapTotal: per('heapTotal'),
          heapUsed: per('heapUsed'),
          external: per('external'),
          arrayBuffers: per('arrayBuffers'),
        },
      };
      rows.push([
        config.label,
        f(per('rss')),
        f(per('newSpace')),
        f(tubeOnly),
        f(per('heapUsed')),
        f(per('external')),
        `${f(before.newSpace / 2 ** 20)} → ${f(after.newSpace / 2 ** 20)} (${f(afterReduced.newSpace / 2 ** 20)})`,
        `${f(before.rss / 2 ** 20)} → ${f(after.rss / 2 ** 20)}`,
      ]);
    }
    out['idle'] = idleOut;
    log('');
    log(`V8 ${semi.length > 0 ? semi.join(' ') : 'default heap settings'}; after GC (--expose-gc)`);
    for (const l of mdTable(rows)) log(l);
    // KB = 1000 bytes (the unit); the young generation is the process's, bounded by V8 (not per tube)
    const kb = (v: number | undefined): number => ((v ?? Number.NaN) * 1024) / 1000;
    const b = perTube.get(base);
    const r = ref ? perTube.get(ref) : undefined;
    log('');
    for (const l of mdTable([
      [
        'target (KB = 1,000 B)',
        base.label,
        ref ? ref.label : '—',
        `${base.label} / ${ref?.label ?? '—'}`,
        'verdict',
      ],
      [
        'idle tube ≤ 150 KB RSS (must ≤ 300)',
        f(kb(b?.rss)),
        r ? f(kb(r.rss)) : '—',
        ratio(kb(b?.rss), r && kb(r.rss)),
        verdict(kb(b?.rss), 150, 300),
      ],
      [
        'the same, young generation at its minimum (memory-reducing GC)',
        f(kb(b?.tubeOnly)),
        r ? f(kb(r.tubeOnly)) : '—',
        ratio(kb(b?.tubeOnly), r && kb(r.tubeOnly)),
        verdict(kb(b?.tubeOnly), 150, 300),
      ],
    ]))
      log(l);
  }
  out['loadavgAfter'] = (machine([])['loadavg'] as number[]) ?? [];
  log(`load average after: ${(out['loadavgAfter'] as number[]).join(' ')}`);
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
