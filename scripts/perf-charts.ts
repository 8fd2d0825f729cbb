/**
 * docs/charts/*.svg from the figures already in docs/PERFORMANCE.md's tables (no benchmark is run): the
 * tables are parsed and drawn with the chart builders `tubes bench … --svg` uses (src/bench/), so the
 * document's charts and a user's `--report` look alike. Every chart's subtitle names its source.
 *
 *   node scripts/perf-charts.ts           # (re)write docs/charts/*.svg
 *   node scripts/perf-charts.ts --check   # exit 1 when a committed chart differs from the tables
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { barChart, type Chart } from '../src/bench/charts.ts';
import { guacdCharts } from '../src/bench/guacd.ts';
import { hotpathCharts } from '../src/bench/hotpath.ts';
import { socks5Charts } from '../src/bench/socks5.ts';
import { transportCharts } from '../src/bench/transport.ts';
import { tunnelCharts } from '../src/bench/tunnel.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DOC = path.join(ROOT, 'docs', 'PERFORMANCE.md');
export const CHART_DIR = path.join(ROOT, 'docs', 'charts');

/** The text of the `## name` section (up to the next `## `). */
function section(doc: string, name: string): string {
  const start = doc.search(new RegExp(`^## ${name}\\s*$`, 'm'));
  if (start < 0) throw new Error(`docs/PERFORMANCE.md has no "## ${name}" section`);
  const rest = doc.slice(start + 3);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Body rows (cells trimmed, ** removed) of the first table whose header row starts with `firstHeader`. */
function table(text: string, firstHeader: string): string[][] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => new RegExp(`^\\|\\s*${firstHeader}\\s*\\|`).test(l));
  if (at < 0) throw new Error(`no table starting with "${firstHeader}"`);
  const rows: string[][] = [];
  for (let i = at + 2; i < lines.length && (lines[i] ?? '').startsWith('|'); i++) {
    rows.push(
      (lines[i] ?? '')
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim().replace(/\*\*/g, '')),
    );
  }
  return rows;
}

const num = (s: string | undefined): number | undefined => {
  const v = Number.parseFloat((s ?? '').replace(/[^\d.+-]/g, ''));
  return Number.isFinite(v) ? v : undefined;
};
/** "10.0–14.1" → [10, 14.1] */
const range = (s: string | undefined): [number, number] | undefined => {
  const m = /([\d.]+)\s*[–-]\s*([\d.]+)/.exec(s ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
};

export function perfCharts(doc: string): Chart[] {
  const charts: Chart[] = [];
  const src = 'figures from docs/PERFORMANCE.md';

  const hot = section(doc, 'Hot paths');
  charts.push(
    ...hotpathCharts(
      table(hot, 'case').map(([name, , js, wasm, simd, auto]) => ({
        case: name ?? '',
        ns: { js: num(js), wasm: num(wasm), 'wasm-simd': num(simd), auto: num(auto) },
      })),
      `${src} "Hot paths": AMD EPYC, 2 cores (shared), Node v24.21.0, tinybench, 3 rounds × 150 ms`,
    ),
  );

  const tun = section(doc, 'Tunnel');
  const measured = /Measured (\d{4}-\d\d-\d\d \d\d:\d\d) UTC/.exec(tun)?.[1] ?? '';
  charts.push(
    ...tunnelCharts(
      {
        throughput: table(tun, 'path').flatMap(([p, med, mm]) => {
          const r = range(mm);
          const m = num(med);
          return p && m !== undefined ? [{ path: p, median: m, ...(r ? { min: r[0], max: r[1] } : {}) }] : [];
        }),
        rtt: table(tun.slice(tun.indexOf('Echo round trip')), 'path').flatMap(([p, p50, p99, min]) => {
          const a = num(p50);
          const b = num(p99);
          const c = num(min);
          return p && a !== undefined && b !== undefined
            ? [{ path: p, p50: a, p99: b, ...(c !== undefined ? { min: c } : {}) }]
            : [];
        }),
      },
      `${src} "Tunnel", measured ${measured} UTC: AMD EPYC, 2 cores, Node v24.21.0, werift 0.25.2, 5 runs × 64 MiB`,
    ),
  );

  const tr = section(doc, 'Transport');
  charts.push(
    ...transportCharts(
      table(tr, 'stack').flatMap(([stack, msg, med, mm]) => {
        const m = num(med);
        const r = range(mm);
        const kib = num(msg);
        return stack && m !== undefined && kib !== undefined
          ? [{ stack, messageBytes: kib * 1024, median: m, ...(r ? { min: r[0], max: r[1] } : {}) }]
          : [];
      }),
      `${src} "Transport", measured 2026-11-26 03:10–03:12 UTC: AMD EPYC, 2 cores (shared), Node v24.21.0, 5 runs × 64 MiB`,
    ),
  );

  const sk = section(doc, 'SOCKS5');
  charts.push(
    ...socks5Charts(
      table(sk, 'proxy').flatMap(([proxy, mbps, setup]) => {
        const m = num(mbps?.split('(')[0]);
        const r = range(mbps?.split('(')[1]);
        const s = num(setup?.split('ms')[0]);
        return proxy && m !== undefined && s !== undefined
          ? [{ proxy, mbps_median: m, setup_ms_p50: s, ...(r ? { mbps_min: r[0], mbps_max: r[1] } : {}) }]
          : [];
      }),
      `${src} "SOCKS5", measured 2026-11-26 03:12 UTC: AMD EPYC, 2 cores (shared), Node v24.21.0, median of 5 runs`,
    ),
  );

  const gd = section(doc, 'guacd');
  charts.push(
    ...guacdCharts(
      {
        relay: table(gd, 'stream').flatMap(([stream, engine, , mbps]) => {
          const m = num(mbps);
          return stream && engine && m !== undefined ? [{ stream, engine, mbPerSec: m }] : [];
        }),
        latency: table(gd.slice(gd.indexOf('`sync` latency')), 'path').flatMap(([p, load, p50, p99]) => {
          const a = num(p50);
          const b = num(p99);
          return p && load && !p.startsWith('added') && a !== undefined && b !== undefined
            ? [{ path: p, load, p50Ms: a, p99Ms: b }]
            : [];
        }),
      },
      `${src} "guacd", measured 2026-11-26 02:40 UTC: AMD EPYC, 2 cores (shared), Node v24.21.0, 5 rounds`,
    ),
  );

  // workers: median MB/s per worker count, one group per run of the table (A, B, C)
  const wk = section(doc, 'Workers');
  const groups: { label: string; bars: { series: string; value: number; low?: number; high?: number }[] }[] =
    [];
  for (const [run, workers, perRun, med] of table(wk, 'run \\(load avg before → after\\)')) {
    if (run) groups.push({ label: `run ${run.replace(/,.*$/, '')}`, bars: [] });
    const values = (perRun ?? '').split(',').map((v) => Number(v.trim()));
    const m = num(med);
    if (m === undefined || groups.length === 0) continue;
    groups[groups.length - 1]?.bars.push({
      series: workers?.startsWith('0') ? 'in-thread' : `${workers} worker${workers === '1' ? '' : 's'}`,
      value: m,
      low: Math.min(...values),
      high: Math.max(...values),
    });
  }
  if (groups.length > 0) {
    charts.push(
      barChart({
        id: 'workers-throughput',
        title: 'Worker mode, 4 tubes × 32 MiB: aggregate MB/s by worker count (median, min–max)',
        subtitle: `${src} "Workers": AMD EPYC, 2 cores shared with other work (load per run in the table), Node v24.21.0`,
        yLabel: 'MB/s',
        groups,
      }),
    );
  }
  return charts;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const charts = perfCharts(readFileSync(DOC, 'utf8'));
  mkdirSync(CHART_DIR, { recursive: true });
  let stale = 0;
  for (const c of charts) {
    const file = path.join(CHART_DIR, `${c.id}.svg`);
    const want = `${c.svg}\n`;
    if (check) {
      if (!existsSync(file) || readFileSync(file, 'utf8') !== want) {
        stale++;
        process.stderr.write(`stale: ${path.relative(ROOT, file)}\n`);
      }
    } else {
      writeFileSync(file, want);
      process.stdout.write(`${path.relative(ROOT, file)}\n`);
    }
  }
  process.exitCode = stale > 0 ? 1 : 0;
}
