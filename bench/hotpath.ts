/**
 * Hot-path benchmark: frame codec and Guacamole scanner on every engine side by side.
 *
 *   npm run bench:hotpath                      # markdown table
 *   node bench/hotpath.ts --json               # machine-readable rows
 *   node bench/hotpath.ts --rounds 3 --time 150 --filter guac --save rows.json   # table + JSON file
 *
 * Each cell is the median over rounds of tinybench's median latency, divided by the operations per call
 * (frames or instructions): nanoseconds per frame / per instruction / per call as the row says.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Bench } from 'tinybench';
import {
  countCodePoints,
  countCodePointsWith,
  encodeFrameWith,
  encodeInstruction,
  FrameDecoder,
  GuacamoleScanner,
  resolveEngine,
  WasmEngine,
} from '../src/hotpath/internal.ts';

type Col = 'js' | 'wasm' | 'wasm-simd' | 'auto';
const COLS: Col[] = ['js', 'wasm', 'wasm-simd', 'auto'];

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const JSON_OUT = args.includes('--json');
const ROUNDS = Number(opt('rounds', '3'));
const TIME = Number(opt('time', '150'));
const FILTER = new RegExp(opt('filter', '.'));

interface Case {
  name: string;
  unit: string;
  /** Per column: a function doing `perCall` operations, or undefined when the column does not apply. */
  fns: Partial<Record<Col, () => void>>;
  perCall: number;
}
const cases: Case[] = [];
let sink = 0;
const add = (name: string, unit: string, perCall: number, fns: Case['fns']) => {
  if (FILTER.test(name)) cases.push({ name, unit, perCall, fns });
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
  const many = Buffer.concat(Array.from({ length: n }, (_, i) => encodeFrameWith('js', i + 1, payload, TS)));
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
  add(name, 'ns/instr', count * k, fns);
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
  add(`guac 1 MiB stream ${name}, pushed as 64 KiB reads`, 'ns/instr', count, fns);
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
// shared-memory modules only: the plain-memory build is compiled here, when these rows are selected.
if (['copy-in 64 KiB into', 'display stream copy-in'].some((row) => FILTER.test(row))) {
  // @ts-expect-error: plain .mjs build script without type declarations
  const { compileToBytes, PLAIN_MEMORY_TARGET } = (await import('../scripts/build-wasm.mjs')) as {
    compileToBytes(target: unknown): Promise<Uint8Array>;
    PLAIN_MEMORY_TARGET: unknown;
  };
  const shared = resolveEngine('wasm-simd').wasm!;
  const plain = new WasmEngine('wasm-simd', {
    shared: false,
    module: await compileToBytes(PLAIN_MEMORY_TARGET),
  });
  const chunk = display.wire;
  for (const [label, e] of [
    ['shared', shared],
    ['plain', plain],
  ] as const) {
    const input = e.alloc(chunk.length);
    const out = e.alloc(32 + 16 * 8192);
    const els = e.alloc(8 * 32768);
    add(`copy-in 64 KiB into ${label} Wasm memory`, 'ns/call', 1, {
      'wasm-simd': () => {
        e.u8.set(chunk, input);
      },
    });
    add(`display stream copy-in + SIMD scan, ${label} memory`, 'ns/instr', display.count, {
      'wasm-simd': () => {
        e.u8.set(chunk, input);
        sink += e.x.scanInstructions(input, chunk.length, out, 8192, els, 32768, 1 << 24, 1);
      },
    });
  }
}

// ------------------------------------------------------------------------------------------ run
const results = new Map<string, Partial<Record<Col, number[]>>>();
function latencyP50(task: { result?: unknown }): number {
  const r = task.result as { latency?: { p50?: number } } | undefined;
  const v = r?.latency?.p50;
  if (v === undefined) throw new Error('task produced no latency statistics');
  return v;
}

for (let round = 0; round < ROUNDS; round++) {
  const bench = new Bench({ time: TIME, warmupTime: Math.min(50, TIME / 2), iterations: 5 });
  const order = round % 2 === 0 ? cases : [...cases].reverse();
  const meta = new Map<string, { c: Case; col: Col }>();
  for (const c of order) {
    const cols = round % 2 === 0 ? COLS : [...COLS].reverse();
    for (const col of cols) {
      const fn = c.fns[col];
      if (fn === undefined) continue;
      const id = `${c.name} :: ${col}`;
      meta.set(id, { c, col });
      bench.add(id, fn);
    }
  }
  await bench.run();
  for (const t of bench.tasks) {
    const m = meta.get(t.name)!;
    const row = results.get(m.c.name) ?? {};
    (row[m.col] ??= []).push((latencyP50(t) * 1e6) / m.c.perCall);
    results.set(m.c.name, row);
  }
  process.stderr.write(`round ${round + 1}/${ROUNDS} done (${bench.tasks.length} tasks)\n`);
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const rows = cases.map((c) => {
  const r = results.get(c.name) ?? {};
  const ns: Partial<Record<Col, number>> = {};
  for (const col of COLS) if (r[col]) ns[col] = median(r[col]!);
  const singles = (['js', 'wasm', 'wasm-simd'] as const).map((k) => ns[k]).filter((v) => v !== undefined);
  const best = singles.length ? Math.min(...singles) : undefined;
  return {
    case: c.name,
    unit: c.unit,
    ns,
    simdSpeedup: ns.js && ns['wasm-simd'] ? ns.js / ns['wasm-simd'] : undefined,
    autoVsBest: ns.auto && best ? ns.auto / best : undefined,
  };
});

const meta = {
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  rounds: ROUNDS,
  timeMs: TIME,
};
const SAVE = opt('save', '');
if (SAVE !== '') writeFileSync(SAVE, `${JSON.stringify({ meta, rows }, null, 1)}\n`);
if (JSON_OUT) {
  process.stdout.write(`${JSON.stringify({ meta, rows }, null, 1)}\n`);
} else {
  const fmt = (x: number | undefined) =>
    x === undefined ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
  const lines = [
    '| case | unit | js | wasm | wasm-simd | auto | js ÷ wasm-simd | auto ÷ best |',
    '|---|---|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.case} | ${r.unit} | ${COLS.map((c) => fmt(r.ns[c])).join(' | ')} | ${
        r.simdSpeedup ? `${r.simdSpeedup.toFixed(2)}×` : '–'
      } | ${r.autoVsBest ? r.autoVsBest.toFixed(2) : '–'} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stdout.write(
    `\nnode ${process.version}, ${cpus()[0]?.model}, ${cpus().length} cores, ${ROUNDS} rounds × ${TIME} ms\n`,
  );
}
if (sink === 42) process.stdout.write('\n');
