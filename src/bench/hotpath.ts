/**
 * `tubes bench hotpath` (npm run bench:hotpath): frame codec and Guacamole scanner on every engine side by
 * side — the Wasm-vs-JS comparison on this machine, with the engine `auto` actually ran for each row.
 *
 * Each cell is the median over rounds of tinybench's median latency, divided by the operations per call
 * (frames or instructions): nanoseconds per frame / per instruction / per call as the row says.
 */
import { writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import { UsageError } from '../cli/cli-common.ts';
import {
  countCodePoints,
  countCodePointsWith,
  encodeFrameWith,
  encodeInstruction,
  FrameDecoder,
  GuacamoleScanner,
  type HotpathExports,
  resolveEngine,
  WasmEngine,
  wasmEngine,
} from '../hotpath/internal.ts';
import { barChart, type Chart, lineChart } from './charts.ts';
import { type Json, machine, mdTable } from './lib.ts';
import type { BenchContext, BenchDef, BenchOutput, BenchValues } from './types.ts';

type Col = 'js' | 'wasm' | 'wasm-simd' | 'auto';
const ALL_COLS: Col[] = ['js', 'wasm', 'wasm-simd', 'auto'];

interface Case {
  name: string;
  unit: string;
  /** Per column: a function doing `perCall` operations, or undefined when the column does not apply. */
  fns: Partial<Record<Col, () => void>>;
  perCall: number;
  /** Entry calls (pushes, encodes…) per function call: what `auto ran` compares the Wasm kernel calls with. */
  calls: number;
}
let sink = 0;

/** Builds the cases whose name matches `FILTER` (rows needing the repository checkout are noted and skipped). */
async function buildCases(FILTER: RegExp, COLS: Col[], notes: string[]): Promise<Case[]> {
  const cases: Case[] = [];
  const add = (name: string, unit: string, perCall: number, fns: Case['fns'], calls = perCall) => {
    if (!FILTER.test(name)) return;
    for (const col of Object.keys(fns) as Col[]) if (!COLS.includes(col)) delete fns[col];
    cases.push({ name, unit, perCall, calls, fns });
  };

  // ------------------------------------------------------------------------------------------ frames
  const TS = 1_700_000_000_000;
  const SIZES = [0, 64, 1500, 8192, 65507];
  const payloadOf = (n: number) => {
    const p = Buffer.alloc(n);
    for (let i = 0; i < n; i++) p[i] = (i * 31 + 7) & 0xff;
    return p;
  };
  const noop = (connNo: number, payload: Uint8Array) => {
    sink += connNo + payload.length;
  };
  /** Span handler doing the same work as `noop` without a payload view. */
  const noopSpan = (connNo: number, _bytes: Uint8Array, start: number, end: number) => {
    sink += connNo + end - start;
  };
  /** Channel shape: the span handler creates the view a socket.write needs (kept, so it escapes). */
  let kept: Uint8Array = new Uint8Array(0);
  const viewSpan = (connNo: number, bytes: Uint8Array, start: number, end: number) => {
    kept = bytes.subarray(start, end);
    sink += connNo + kept.length;
  };
  /** The view API with the same escaping store. */
  const keepView = (connNo: number, payload: Uint8Array) => {
    kept = payload;
    sink += connNo + payload.length;
  };
  const reps = (size: number) => (size <= 64 ? 200 : size <= 1500 ? 50 : size <= 8192 ? 10 : 2);
  /** Parse re-walks the same chunk (no per-size work): 200 pushes per call keep the harness cost out of the row. */
  const PARSE_REPS = 200;

  for (const size of SIZES) {
    const payload = payloadOf(size);
    const one = encodeFrameWith('js', 1, payload, TS);
    const n = Math.max(16, Math.min(1024, Math.floor((1 << 20) / (size + 17))));
    const many = Buffer.concat(
      Array.from({ length: n }, (_, i) => encodeFrameWith('js', i + 1, payload, TS)),
    );
    const k = reps(size);
    const decoders = Object.fromEntries(COLS.map((c) => [c, new FrameDecoder({ engine: c })])) as Record<
      Col,
      FrameDecoder
    >;
    const fns = (f: (c: Col) => () => void) => Object.fromEntries(COLS.map((c) => [c, f(c)]));
    // parse rows: PARSE_REPS single-frame pushes per call; batched rows push the N-frame chunk kb times
    // (>= 1024 frames per call), so tinybench's per-call cost stays out of the ns/frame cell
    const kb = Math.ceil(1024 / n);
    const parse = (name: string, reps: number, frames: number, call: (d: FrameDecoder) => void) =>
      add(
        name,
        'ns/frame',
        reps * frames,
        fns((c) => () => {
          const d = decoders[c];
          for (let i = 0; i < reps; i++) call(d);
        }),
      );
    parse(`frame parse ${size} B`, PARSE_REPS, 1, (d) => d.push(one, noop));
    parse(`frame parse ${size} B, spans`, PARSE_REPS, 1, (d) => d.pushSpans(one, noopSpan));
    parse(`frame parse ${size} B, batched x${n}`, kb, n, (d) => d.push(many, noop));
    parse(`frame parse ${size} B, spans, batched x${n}`, kb, n, (d) => d.pushSpans(many, noopSpan));
    parse(`frame parse ${size} B, view kept (channel shape)`, PARSE_REPS, 1, (d) => d.push(one, keepView));
    parse(`frame parse ${size} B, spans + view kept in handler (channel shape)`, PARSE_REPS, 1, (d) =>
      d.pushSpans(one, viewSpan),
    );
    add(
      `frame encode ${size} B`,
      'ns/frame',
      k,
      fns((c) => () => {
        for (let i = 0; i < k; i++) sink += encodeFrameWith(c, 1, payload, TS).length;
      }),
    );
    add(
      `frame round trip ${size} B`,
      'ns/frame',
      k,
      fns((c) => () => {
        const d = decoders[c];
        for (let i = 0; i < k; i++) d.push(encodeFrameWith(c, 1, payload, TS), noop);
      }),
    );
    add(
      `frame round trip ${size} B, batched x${n}`,
      'ns/frame',
      n,
      fns((c) => () => {
        const parts: Buffer[] = new Array(n);
        for (let i = 0; i < n; i++) parts[i] = encodeFrameWith(c, i + 1, payload, TS);
        decoders[c].push(Buffer.concat(parts), noop);
      }),
    );
  }

  // ------------------------------------------------------------------------------------------ Guacamole
  const TEXT: Record<string, string> = {
    ASCII: 'The quick brown fox jumps over the lazy dog; 0123456789, said the admin. ',
    French: 'Ça été très déjà vu, où est la fenêtre ? À bientôt, élève ! ',
    German: 'Müller Größe Übung, Straße und schöne Äpfel für Jürgen. ',
    Japanese: '国際・科学の記事一覧、こんにちは世界。カタカナとひらがな。',
    Chinese: '中华人民共和国成立于一九四九年，首都北京。',
    mixed: 'a€😀é国ü Müller 国際 😀 Ça ',
  };
  /** A `clipboard`-like instruction of about `bytes` bytes built from `text`. */
  function instructionOf(text: string, bytes: number): Buffer {
    const cps = [...text.repeat(Math.ceil((bytes * 2) / text.length) + 1)];
    let value = '';
    for (const cp of cps) {
      if (Buffer.byteLength(encodeInstruction('argv', '1', value + cp)) > bytes) break;
      value += cp;
    }
    return Buffer.from(encodeInstruction('argv', '1', value));
  }

  const scanners = new Map<string, GuacamoleScanner>();
  const scannerFor = (c: Col, key: string) => {
    let s = scanners.get(`${c}:${key}`);
    if (s === undefined) {
      s = new GuacamoleScanner({ engine: c });
      scanners.set(`${c}:${key}`, s);
    }
    return s;
  };

  function guacCase(name: string, wire: Buffer, count: number, k: number, mode: 'push' | 'in-memory') {
    const fns: Case['fns'] = {};
    for (const c of COLS) {
      const s = scannerFor(c, `${name}:${mode}`);
      if (mode === 'push') {
        fns[c] = () => {
          for (let i = 0; i < k; i++) sink += s.push(wire).count;
        };
      } else {
        // bytes land once in the scanner's own buffer (Wasm memory for Wasm engines); every commit rescans
        // them in place: the stream ends on an instruction boundary, so the buffer restarts at offset 0.
        s.reserve(wire.length).set(wire);
        if (s.commit(wire.length).count !== count) throw new Error(`bad stream ${name}`);
        fns[c] = () => {
          for (let i = 0; i < k; i++) {
            s.reserve(wire.length);
            sink += s.commit(wire.length).count;
          }
        };
      }
    }
    add(name, 'ns/instr', count * k, fns, k);
  }

  for (const [lang, text] of Object.entries(TEXT)) {
    for (const size of [20, 120, 1024, 4096]) {
      const wire = instructionOf(text, size);
      guacCase(`guac ${lang} ~${size} B (${wire.length} B)`, wire, 1, size <= 120 ? 100 : 10, 'push');
    }
  }

  function streamOf(parts: () => string): { wire: Buffer; count: number } {
    const out: string[] = [];
    let bytes = 0;
    while (bytes < 65536) {
      const s = parts();
      out.push(s);
      bytes += Buffer.byteLength(s);
    }
    return { wire: Buffer.from(out.join('')), count: out.length };
  }
  let step = 0;
  const interactive = streamOf(() => {
    step++;
    if (step % 3 === 0) return encodeInstruction('sync', String(TS + step));
    if (step % 3 === 1) return encodeInstruction('key', String(65 + (step % 26)), String(step & 1));
    return encodeInstruction('mouse', String(step % 1920), String(step % 1080), '1');
  });
  const base64 = payloadOf(6000).toString('base64');
  const display = streamOf(() => {
    step++;
    if (step % 3 === 0) return encodeInstruction('img', '1', '14', '0', 'image/png', '128', '256');
    if (step % 3 === 1) return encodeInstruction('blob', '1', base64.slice(0, 1000 + (step % 7) * 1000));
    return encodeInstruction('end', '1');
  });
  const clipText = Object.values(TEXT).join('');
  const clipboard = streamOf(() => {
    step++;
    return encodeInstruction('blob', '2', clipText.repeat(8).slice(step % 50, 1500 + (step % 50)));
  });
  for (const [name, s] of [
    ['interactive key/mouse/sync', interactive],
    ['display img+blob', display],
    ['clipboard UTF-8', clipboard],
  ] as const) {
    guacCase(`guac 64 KiB stream ${name}, push`, s.wire, s.count, 1, 'push');
    guacCase(`guac 64 KiB stream ${name}, in Wasm memory`, s.wire, s.count, 1, 'in-memory');
  }

  // guacd reads: a 1 MiB stream pushed in 64 KiB pieces (each read starts inside an instruction the previous
  // read left over); one call pushes all 16 reads, ns per complete instruction
  function bigStream(parts: () => string, bytes: number): { wire: Buffer; count: number } {
    const out: string[] = [];
    let n = 0;
    while (n < bytes) {
      const s = parts();
      out.push(s);
      n += Buffer.byteLength(s);
    }
    return { wire: Buffer.from(out.join('')), count: out.length };
  }
  const displayParts = () => {
    step++;
    if (step % 3 === 0) return encodeInstruction('img', '1', '14', '0', 'image/png', '128', '256');
    if (step % 3 === 1) return encodeInstruction('blob', '1', base64.slice(0, 1000 + (step % 7) * 1000));
    return encodeInstruction('end', '1');
  };
  for (const [name, gen] of [
    ['display img+blob', displayParts],
    [
      'clipboard UTF-8',
      () => {
        step++;
        return encodeInstruction('blob', '2', clipText.repeat(8).slice(step % 50, 1500 + (step % 50)));
      },
    ],
    [
      'interactive key/mouse/sync',
      () => {
        step++;
        if (step % 3 === 0) return encodeInstruction('sync', String(TS + step));
        if (step % 3 === 1) return encodeInstruction('key', String(65 + (step % 26)), String(step & 1));
        return encodeInstruction('mouse', String(step % 1920), String(step % 1080), '1');
      },
    ],
  ] as const) {
    const { wire, count } = bigStream(gen, 1 << 20);
    const reads: Buffer[] = [];
    for (let at = 0; at < wire.length; at += 65536) reads.push(wire.subarray(at, at + 65536));
    const fns: Case['fns'] = {};
    for (const c of COLS) {
      const s = scannerFor(c, `${name}:reads`);
      fns[c] = () => {
        for (const r of reads) sink += s.push(r).count;
      };
    }
    add(`guac 1 MiB stream ${name}, pushed as 64 KiB reads`, 'ns/instr', count, fns, reads.length);
  }

  // countCodePoints
  for (const size of [16, 128, 512, 4096, 65536]) {
    const b = Buffer.from(TEXT.mixed!.repeat(Math.ceil(size / 20))).subarray(0, size);
    const k = size <= 512 ? 100 : 5;
    add(
      `countCodePoints ${size} B`,
      'ns/call',
      k,
      Object.fromEntries(
        COLS.map((c) => [
          c,
          () => {
            if (c === 'auto') for (let i = 0; i < k; i++) sink += countCodePoints(b);
            else for (let i = 0; i < k; i++) sink += countCodePointsWith(c, b);
          },
        ]),
      ),
    );
  }

  // shared vs plain memory: copy-in, and copy-in + SIMD scan of the display stream. The package ships
  // shared-memory modules only: the plain-memory build is compiled here, when these rows are selected, from
  // the repository's build script (not in the installed package: the rows are skipped there).
  const shared = wasmEngine('wasm-simd');
  const memoryRows = (label: string): string[] => [
    `copy-in 64 KiB into ${label} Wasm memory`,
    `display stream copy-in + SIMD scan, ${label} memory`,
  ];
  const wantPlain = memoryRows('plain').some((row) => FILTER.test(row));
  if (shared && (wantPlain || memoryRows('shared').some((row) => FILTER.test(row)))) {
    let plain: WasmEngine | undefined;
    if (wantPlain) {
      try {
        const script = new URL('../../scripts/build-wasm.mjs', import.meta.url).href;
        const { compileToBytes, PLAIN_MEMORY_TARGET } = (await import(script)) as {
          compileToBytes(target: unknown): Promise<Uint8Array>;
          PLAIN_MEMORY_TARGET: unknown;
        };
        plain = new WasmEngine('wasm-simd', {
          shared: false,
          module: await compileToBytes(PLAIN_MEMORY_TARGET),
        });
      } catch (err) {
        notes.push(
          `plain Wasm memory rows skipped: that module is compiled from the repository's scripts/build-wasm.mjs with the assemblyscript devDependency, not in an installed package (${(err as Error).message.split('\n')[0]})`,
        );
      }
    }
    const chunk = display.wire;
    for (const [label, e] of [
      ['shared', shared],
      ['plain', plain],
    ] as const) {
      if (e === undefined) continue;
      const input = e.alloc(chunk.length);
      const out = e.alloc(32 + 16 * 8192);
      const els = e.alloc(8 * 32768);
      add(`copy-in 64 KiB into ${label} Wasm memory`, 'ns/call', 1, {
        'wasm-simd': () => {
          e.u8.set(chunk, input);
        },
      });
      add(
        `display stream copy-in + SIMD scan, ${label} memory`,
        'ns/instr',
        display.count,
        {
          'wasm-simd': () => {
            e.u8.set(chunk, input);
            sink += e.x.scanInstructions(input, chunk.length, out, 8192, els, 32768, 1 << 24, 1);
          },
        },
        1,
      );
    }
  }
  return cases;
}

// ------------------------------------------------------------------------------------------ auto's pick

const KERNELS = ['walkFrames', 'encodeFrame', 'scanInstructions', 'countCodePoints'] as const;

/**
 * What `auto` ran for a row, observed rather than predicted: the auto function is called once with the
 * Wasm kernel entry points counted. No kernel call → js; at least one per entry call → the Wasm engine;
 * in between → both (some pushes in JS, some in Wasm).
 */
function observeAuto(fn: () => void, calls: number): string {
  const e = resolveEngine('auto').wasm;
  if (e === undefined) {
    fn();
    return 'js';
  }
  const x = e.x;
  let n = 0;
  const counted: Record<string, unknown> = { ...x };
  for (const k of KERNELS) {
    const f = x[k] as (...a: number[]) => number;
    counted[k] = (...a: number[]): number => {
      n++;
      return f(...a);
    };
  }
  const target = e as { x: HotpathExports };
  target.x = counted as unknown as HotpathExports;
  try {
    fn();
  } finally {
    target.x = x;
  }
  return n === 0 ? 'js' : n >= calls ? e.name : `js + ${e.name}`;
}

// ------------------------------------------------------------------------------------------ run

interface Row {
  case: string;
  unit: string;
  ns: Partial<Record<Col, number>>;
  autoRan?: string;
  simdSpeedup?: number;
  autoVsBest?: number;
}

function latencyP50(task: { result?: unknown }): number {
  const r = task.result as { latency?: { p50?: number } } | undefined;
  const v = r?.latency?.p50;
  if (v === undefined) throw new Error('task produced no latency statistics');
  return v;
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const fmt = (x: number | undefined): string =>
  x === undefined ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);

function table(rows: Row[], cols: Col[]): string[] {
  return mdTable(
    [
      ['case', 'unit', ...cols, 'auto ran', 'js ÷ wasm-simd', 'auto ÷ best'],
      ...rows.map((r) => [
        r.case,
        r.unit,
        ...cols.map((c) => fmt(r.ns[c])),
        r.autoRan ?? '–',
        r.simdSpeedup ? `${r.simdSpeedup.toFixed(2)}×` : '–',
        r.autoVsBest ? r.autoVsBest.toFixed(2) : '–',
      ]),
    ],
    ['l', 'l', ...cols.map(() => 'r' as const), 'l', 'r', 'r'],
  );
}

/** The hot-path charts of a set of rows (a run's, or docs/PERFORMANCE.md's table): only those with data. */
export function hotpathCharts(
  rows: { case: string; ns: Partial<Record<string, number>> }[],
  subtitle: string,
): Chart[] {
  const cols = ALL_COLS.filter((c) => rows.some((r) => r.ns[c] !== undefined));
  const charts: Chart[] = [];
  const series = (pick: (c: Col) => (number | undefined)[]) =>
    cols.map((c) => ({ name: c, values: pick(c) })).filter((s) => s.values.some((v) => v !== undefined));

  // Guacamole: one panel per text, x = instruction size
  const guac = new Map<string, Map<string, Partial<Record<string, number>>>>();
  for (const r of rows) {
    const m = /^guac (\w+) ~(\d+) B \(\d+ B\)$/.exec(r.case);
    if (!m) continue;
    const byLang = guac.get(m[1]!) ?? new Map();
    byLang.set(`~${m[2]} B`, r.ns);
    guac.set(m[1]!, byLang);
  }
  if (guac.size > 0) {
    charts.push(
      lineChart({
        id: 'hotpath-guac-by-size',
        title: 'Guacamole scanner: ns per instruction by instruction size, per engine (lower is better)',
        subtitle,
        yLabel: 'ns/instr',
        yLog: true,
        panels: [...guac].map(([lang, bySize]) => {
          const categories = [...bySize.keys()];
          return {
            title: lang,
            categories,
            series: series((c) => categories.map((k) => bySize.get(k)?.[c])),
          };
        }),
      }),
    );
  }

  // frames: parse / parse spans batched / encode / round trip, x = payload size
  const kinds: [string, RegExp][] = [
    ['parse, one frame per push', /^frame parse (\d+) B$/],
    ['parse, spans, batched', /^frame parse (\d+) B, spans, batched x\d+$/],
    ['encode', /^frame encode (\d+) B$/],
    ['round trip', /^frame round trip (\d+) B$/],
  ];
  const framePanels = kinds
    .map(([title, re]) => {
      const hits = rows.flatMap((r) => {
        const m = re.exec(r.case);
        return m ? [{ size: `${m[1]} B`, ns: r.ns }] : [];
      });
      return {
        title,
        categories: hits.map((h) => h.size),
        series: series((c) => hits.map((h) => h.ns[c])),
      };
    })
    .filter((p) => p.categories.length > 0);
  if (framePanels.length > 0) {
    charts.push(
      lineChart({
        id: 'hotpath-frames-by-size',
        title: 'Frame codec: ns per frame by payload size, per engine (lower is better)',
        subtitle,
        yLabel: 'ns/frame',
        yLog: true,
        cols: 2,
        panels: framePanels,
      }),
    );
  }

  // whole streams: bars per engine
  const streams = rows.filter((r) => /^guac (64 KiB|1 MiB) stream /.test(r.case));
  if (streams.length > 0) {
    charts.push(
      barChart({
        id: 'hotpath-guac-streams',
        title: 'Guacamole streams: ns per instruction, per engine (lower is better)',
        subtitle,
        yLabel: 'ns/instr',
        yLog: true,
        groups: streams.map((r) => ({
          label: r.case
            .replace(/^guac (64 KiB|1 MiB) stream /, '$1 ')
            .replace(/ (key\/mouse\/sync|img\+blob|UTF-8),/, ',')
            .replace(', pushed as 64 KiB reads', ', 64 KiB reads'),
          bars: cols.flatMap((c) => (r.ns[c] === undefined ? [] : [{ series: c, value: r.ns[c]! }])),
        })),
      }),
    );
  }

  const cp = rows.flatMap((r) => {
    const m = /^countCodePoints (\d+) B$/.exec(r.case);
    return m ? [{ size: `${m[1]} B`, ns: r.ns }] : [];
  });
  if (cp.length > 0) {
    charts.push(
      lineChart({
        id: 'hotpath-codepoints-by-size',
        title: 'countCodePoints: ns per call by input size, per engine (lower is better)',
        subtitle,
        yLabel: 'ns/call',
        yLog: true,
        cols: 1,
        panels: [
          {
            title: 'mixed-script UTF-8',
            categories: cp.map((h) => h.size),
            series: series((c) => cp.map((h) => h.ns[c])),
          },
        ],
      }),
    );
  }
  return charts;
}

async function run(values: BenchValues, ctx: BenchContext): Promise<BenchOutput> {
  const rounds = Number(values['rounds'] ?? '3');
  const time = Number(values['time'] ?? '150');
  let filter: RegExp;
  try {
    filter = new RegExp(String(values['filter'] ?? '.'));
  } catch (err) {
    throw new UsageError(`--filter: ${(err as Error).message}`);
  }
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds must be a positive integer`);
  if (!(time > 0)) throw new UsageError(`--time must be a positive number of milliseconds`);
  const cols = ALL_COLS.filter((c) => {
    if (c !== 'wasm' && c !== 'wasm-simd') return true;
    if (wasmEngine(c)) return true;
    ctx.notes.push(`the ${c} engine does not load on this host: its column is skipped`);
    return false;
  });
  ctx.progress.update('building the inputs');
  const cases = await buildCases(filter, cols, ctx.notes);
  if (cases.length === 0) throw new UsageError(`--filter ${String(values['filter'])} matches no row`);
  const autoRan = new Map<string, string>();
  for (const c of cases) if (c.fns.auto) autoRan.set(c.name, observeAuto(c.fns.auto, c.calls));

  const results = new Map<string, Partial<Record<Col, number[]>>>();
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ time, warmupTime: Math.min(50, time / 2), iterations: 5 });
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    const meta = new Map<string, { c: Case; col: Col }>();
    for (const c of order) {
      for (const col of round % 2 === 0 ? cols : [...cols].reverse()) {
        const fn = c.fns[col];
        if (fn === undefined) continue;
        const id = `${c.name} :: ${col}`;
        meta.set(id, { c, col });
        bench.add(id, fn);
      }
    }
    let done = 0;
    const total = meta.size;
    bench.addEventListener('cycle', (e) => {
      done++;
      const name = (e as { task?: { name?: string } }).task?.name ?? '';
      ctx.progress.update(`round ${round + 1}/${rounds} · ${done}/${total} · ${name}`);
    });
    ctx.progress.update(`round ${round + 1}/${rounds}, ${total} tasks`);
    await bench.run();
    for (const t of bench.tasks) {
      const m = meta.get(t.name)!;
      const row = results.get(m.c.name) ?? {};
      (row[m.col] ??= []).push((latencyP50(t) * 1e6) / m.c.perCall);
      results.set(m.c.name, row);
    }
    ctx.progress.log(`round ${round + 1}/${rounds} done (${bench.tasks.length} tasks)`);
  }

  const rows: Row[] = cases.map((c) => {
    const r = results.get(c.name) ?? {};
    const ns: Partial<Record<Col, number>> = {};
    for (const col of cols) if (r[col]) ns[col] = median(r[col]!);
    const singles = (['js', 'wasm', 'wasm-simd'] as const).map((k) => ns[k]).filter((v) => v !== undefined);
    const best = singles.length ? Math.min(...singles) : undefined;
    const ran = autoRan.get(c.name);
    return {
      case: c.name,
      unit: c.unit,
      ns,
      ...(ran !== undefined ? { autoRan: ran } : {}),
      ...(ns.js && ns['wasm-simd'] ? { simdSpeedup: ns.js / ns['wasm-simd'] } : {}),
      ...(ns.auto && best ? { autoVsBest: ns.auto / best } : {}),
    };
  });
  const m = machine(['werift', 'tinybench']);
  const meta = {
    node: process.version,
    cpu: m['cpu'],
    cores: m['cores'],
    rounds,
    timeMs: time,
    engines: cols,
  };
  const data: Json = { meta, rows };
  const save = values['save'];
  if (typeof save === 'string' && save !== '') writeFileSync(save, `${JSON.stringify(data, null, 1)}\n`);
  const text = [
    ...table(rows, cols),
    '',
    `node ${process.version}, ${String(m['cpu'])}, ${String(m['cores'])} cores, ${rounds} rounds × ${time} ms`,
    '`auto ran`: the engine whose kernel `auto` called for that row (observed: Wasm kernel calls counted over one call of the row).',
  ].join('\n');
  if (sink === 42) ctx.notes.push('');
  return {
    machine: m,
    data,
    text,
    charts: hotpathCharts(
      rows,
      `this run: ${String(m['cpu'])}, ${String(m['cores'])} cores, Node ${process.version}, ${rounds} rounds × ${time} ms, ${String(m['date']).slice(0, 16)} UTC`,
    ),
  };
}

export const bench: BenchDef = {
  name: 'hotpath',
  summary: 'Frame codec and Guacamole scanner on every engine (js, wasm, wasm-simd, auto), in memory',
  help: `Frame codec and Guacamole scanner on every engine side by side (tinybench): ns per frame, per
instruction or per call. Columns js, wasm (scalar), wasm-simd, auto (the default dispatcher); "auto ran"
is the engine auto used for that row on this machine; "js ÷ wasm-simd" > 1 means Wasm SIMD is faster.

Options:
  --rounds <n>       Rounds (task order reversed every other round; median over rounds) (default 3)
  --time <ms>        Time per task and round (default 150)
  --filter <regex>   Only rows whose name matches, e.g. 'guac' or 'frame parse 64 B$'
  --save <file>      Also write the JSON result to this file
`,
  options: {
    rounds: { type: 'string' },
    time: { type: 'string' },
    filter: { type: 'string' },
    save: { type: 'string' },
  },
  run,
};
