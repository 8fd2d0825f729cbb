/**
 * `tubes bench micro`: micro-benchmarks behind single figures quoted in docs/PERFORMANCE.md that no other
 * benchmark measures:
 * - `crypto.createCipheriv('aes-128-gcm', key, iv)` plus sealing one 1,200-byte DTLS-sized record, with the key
 *   as a Buffer (what werift passes) and as a `KeyObject` (the `dtls-keyobject` patch);
 * - creating a payload view: `Buffer#subarray`, `Uint8Array#subarray`, `new Uint8Array(buffer, offset,
 *   length)` (why the frame decoder's span API beats a view per frame).
 * Each cell is the median over rounds of tinybench's median latency, divided by the operations per call; task
 * order is reversed every other round.
 */
import { createCipheriv, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { Bench } from 'tinybench';
import { UsageError } from '../cli/cli-common.ts';
import { type Json, machine, mdTable } from './lib.ts';
import type { BenchContext, BenchDef, BenchOutput, BenchValues } from './types.ts';

interface Case {
  readonly name: string;
  readonly unit: 'µs/record' | 'ns/view';
  /** Operations per call of `fn`. */
  readonly perCall: number;
  readonly fn: () => void;
}

function cases(): { list: Case[]; observed: () => boolean } {
  // AES-128-GCM: a cipher per record, as werift's AEADCipher.encrypt does
  const record = randomBytes(1200);
  const aad = randomBytes(13);
  const iv = randomBytes(12);
  const rawKey = randomBytes(16);
  const keyObject = createSecretKey(rawKey);
  let sinkLen = 0;
  const seal = (key: Buffer | KeyObject): void => {
    const c = createCipheriv('aes-128-gcm', key, iv, { authTagLength: 16 });
    c.setAAD(aad, { plaintextLength: record.length });
    const body = c.update(record);
    c.final();
    sinkLen += body.length + c.getAuthTag().length;
  };
  // views
  const views = 1000;
  const buf = Buffer.alloc(64 * 1024);
  const u8 = new Uint8Array(64 * 1024);
  let sinkView: Uint8Array = EMPTY;
  const list: Case[] = [
    {
      name: 'createCipheriv + seal 1,200 B, Buffer key',
      unit: 'µs/record',
      perCall: 1,
      fn: () => seal(rawKey),
    },
    {
      name: 'createCipheriv + seal 1,200 B, KeyObject key',
      unit: 'µs/record',
      perCall: 1,
      fn: () => seal(keyObject),
    },
    {
      name: 'Buffer#subarray',
      unit: 'ns/view',
      perCall: views,
      fn: () => {
        for (let i = 0; i < views; i++) sinkView = buf.subarray(i, i + 512);
      },
    },
    {
      name: 'Uint8Array#subarray',
      unit: 'ns/view',
      perCall: views,
      fn: () => {
        for (let i = 0; i < views; i++) sinkView = u8.subarray(i, i + 512);
      },
    },
    {
      name: 'new Uint8Array(buffer, offset, length)',
      unit: 'ns/view',
      perCall: views,
      fn: () => {
        for (let i = 0; i < views; i++) sinkView = new Uint8Array(u8.buffer, i, 512);
      },
    },
  ];
  return { list, observed: () => sinkLen > 0 && sinkView.length > 0 };
}

const EMPTY = new Uint8Array(0);

function latencyP50(task: { result?: unknown }): number {
  const v = (task.result as { latency?: { p50?: number } } | undefined)?.latency?.p50;
  if (v === undefined) throw new Error('task produced no latency statistics');
  return v;
}

function positive(values: BenchValues, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number`);
  return n;
}

async function run(values: BenchValues, ctx: BenchContext): Promise<BenchOutput> {
  const rounds = positive(values, 'rounds', 3);
  const time = positive(values, 'time', 200);
  const { list, observed } = cases();
  const samples = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    ctx.progress.update(`round ${round + 1}/${rounds}`);
    const bench = new Bench({ time, warmupTime: Math.min(50, time / 2), iterations: 5 });
    for (const c of round % 2 === 0 ? list : [...list].reverse()) bench.add(c.name, c.fn);
    await bench.run();
    for (const t of bench.tasks) {
      const c = list.find((x) => x.name === t.name) as Case;
      const ms = latencyP50(t) / c.perCall;
      samples.set(c.name, [...(samples.get(c.name) ?? []), c.unit === 'µs/record' ? ms * 1e3 : ms * 1e6]);
    }
  }
  if (!observed()) throw new Error('unreachable: keeps the measured work observable');
  const median = (a: number[]): number => {
    const s = [...a].sort((x, y) => x - y);
    const m = s.length >> 1;
    return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
  };
  const rows = list.map((c) => {
    const all = samples.get(c.name) ?? [];
    return { case: c.name, unit: c.unit, median: median(all), min: Math.min(...all), max: Math.max(...all) };
  });
  const f = (unit: string, x: number): string => x.toFixed(unit === 'µs/record' ? 2 : 1);
  const table = mdTable([
    ['case', 'unit', 'median', 'rounds: min', 'max'],
    ...rows.map((r) => [r.case, r.unit, f(r.unit, r.median), f(r.unit, r.min), f(r.unit, r.max)]),
  ]);
  const data: Json = { rounds, timeMs: time, rows };
  return { machine: machine([]), data, text: `${table.join('\n')}\n`, charts: [] };
}

export const bench: BenchDef = {
  name: 'micro',
  summary: 'createCipheriv with a Buffer vs a KeyObject key; the cost of creating a payload view',
  help: `Micro-benchmarks behind single figures in docs/PERFORMANCE.md (tinybench): createCipheriv('aes-128-gcm')
plus sealing a 1,200-byte record with a Buffer key (werift) and a KeyObject key (the dtls-keyobject patch), in
µs per record; Buffer#subarray, Uint8Array#subarray and new Uint8Array(buffer, offset, length), in ns per view.
Run it on an otherwise idle machine.

Options:
  --rounds <n>       Rounds (task order reversed every other round; median over rounds) (default 3)
  --time <ms>        Time per task and round (default 200)
`,
  options: { rounds: { type: 'string' }, time: { type: 'string' } },
  run,
};
