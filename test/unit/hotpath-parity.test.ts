/**
 * Differential fuzzing: the JS, Wasm and Wasm-SIMD engines must agree byte for byte on random and
 * hostile inputs. Default run ≈ 105,000 cases; set FUZZ_RUNS (e.g. 1000000) for a longer run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ELEMENT_SLOTS,
  HEADER_SLOTS,
  INSTRUCTION_SLOTS,
  scanInstructionsJs,
} from '../../src/hotpath/guac/scan-js.ts';
import {
  countCodePointsWith,
  encodeFrame,
  encodeInstruction,
  encodeInstructionBytes,
  FrameDecoder,
  GuacamoleScanner,
  type WasmEngine,
  wasmEngine,
} from '../../src/hotpath/internal.ts';

const DEFAULT_TOTAL = 105_000;
const scale = Number(process.env['FUZZ_RUNS'] ?? DEFAULT_TOTAL) / DEFAULT_TOTAL;
const runs = (n: number) => Math.max(1, Math.round(n * scale));
const seed = Number(process.env['FUZZ_SEED'] ?? 20_261_126);

const simd = wasmEngine('wasm-simd')!;
const scalar = wasmEngine('wasm')!;

// ------------------------------------------------------------------------------------------ generators

const enc = (s: string) => Buffer.from(s, 'utf8');
const unicode = fc.string({ unit: 'binary', maxLength: 12 });
const textish = fc.oneof(
  fc.string({ maxLength: 12 }),
  unicode,
  fc.constantFrom('国際・科学の記事一覧', 'Müller Größe Übung', '😀👍🏽', 'é', ';,.', '4.sync;'),
);
const instruction = fc
  .tuple(fc.string({ minLength: 0, maxLength: 8 }), fc.array(textish, { maxLength: 5 }))
  .map(([op, args]) => encodeInstructionBytes(op, ...args));
const longValue = fc
  .tuple(
    fc.integer({ min: 16, max: 700 }),
    fc.constantFrom('A', 'é', '国', '😀', 'aé国😀', 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef', 'x'),
  )
  .map(([n, unit]) => encodeInstructionBytes('blob', '1', unit.repeat(Math.ceil(n / unit.length))));
const multibyte = fc.constantFrom('é', '国', '😀', '€').map(enc);
const truncatedUtf8 = multibyte.chain((b) =>
  fc.integer({ min: 1, max: b.length - 1 }).map((k) => b.subarray(0, k)),
);
const hostileToken: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: instruction },
  { weight: 2, arbitrary: longValue },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.nat({ max: 99_999_999 }).map((n) => enc(`${n}.`)) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('8388608.', '8388609.', '9999999.', '99999999.', '0.', '.', '00000001.', '0000001.')
      .map(enc),
  },
  { weight: 1, arbitrary: truncatedUtf8 },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(',', ';', '.', '\x80', '\xff', '\xc0\x80', '\xed\xa0\x80')
      .map((s) => Buffer.from(s, 'latin1')),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(instruction, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, at, v]) => {
      const c = Buffer.from(b);
      if (c.length > 0) c[at % c.length] = v;
      return c;
    }),
  },
);
const hostileStream = fc.array(hostileToken, { maxLength: 10 }).map((parts) => Buffer.concat(parts));
const cuts = (len: number) => fc.array(fc.nat({ max: Math.max(0, len) }), { maxLength: 6 });

function split(data: Uint8Array, points: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of [...points].sort((a, b) => a - b)) {
    out.push(data.subarray(at, p));
    at = p;
  }
  out.push(data.subarray(at));
  return out;
}

// ------------------------------------------------------------------------------------------ kernel harness

const MAX_INSTR = 4096;
const MAX_ELEMS = 8192;

function kernelJs(
  b: Uint8Array,
  maxInstr: number,
  maxElems: number,
  maxBytes: number,
  strict: boolean,
): number[] {
  const out = new Uint32Array(HEADER_SLOTS + maxInstr * INSTRUCTION_SLOTS);
  const els = new Uint32Array(maxElems * ELEMENT_SLOTS);
  scanInstructionsJs(b, 0, b.length, out, maxInstr, els, maxElems, maxBytes, strict);
  return flatten(out, 0, els, 0);
}

const regions = new Map<WasmEngine, { input: number; inputSize: number; out: number; els: number }>();
function kernelWasm(
  e: WasmEngine,
  b: Uint8Array,
  maxInstr: number,
  maxElems: number,
  maxBytes: number,
  strict: boolean,
): number[] {
  let r = regions.get(e);
  if (r === undefined || r.inputSize < b.length) {
    const inputSize = Math.max(1 << 16, b.length);
    r = {
      input: e.alloc(inputSize),
      inputSize,
      out: e.alloc((HEADER_SLOTS + MAX_INSTR * INSTRUCTION_SLOTS) * 4),
      els: e.alloc(MAX_ELEMS * ELEMENT_SLOTS * 4),
    };
    regions.set(e, r);
  }
  e.u8.set(b, r.input);
  e.x.scanInstructions(r.input, b.length, r.out, maxInstr, r.els, maxElems, maxBytes, strict ? 1 : 0);
  return flatten(e.u32, r.out >>> 2, e.u32, r.els >>> 2);
}

function flatten(out: Uint32Array, o: number, els: Uint32Array, e: number): number[] {
  const nI = out[o]!;
  const nE = out[o + 3]!;
  const res = Array.from(out.subarray(o, o + 6));
  res[2] = res[2]! | 0;
  for (let i = 0; i < nI * INSTRUCTION_SLOTS; i++) res.push(out[o + HEADER_SLOTS + i]!);
  for (let i = 0; i < nE * ELEMENT_SLOTS; i++) res.push(els[e + i]!);
  return res;
}

// ------------------------------------------------------------------------------------------ properties

describe('parity fuzz: JS, Wasm and Wasm-SIMD engines agree', () => {
  it('Guacamole kernel: hostile streams, random limits, strict and lenient', () => {
    fc.assert(
      fc.property(
        hostileStream,
        fc.boolean(),
        fc.constantFrom(3, 16, 64, 1000, 16 * 1024 * 1024),
        fc.constantFrom(MAX_INSTR, 1, 2, 5),
        fc.constantFrom(MAX_ELEMS, 128, 130),
        (b, strict, maxBytes, maxInstr, maxElems) => {
          const js = kernelJs(b, maxInstr, maxElems, maxBytes, strict);
          expect(kernelWasm(scalar, b, maxInstr, maxElems, maxBytes, strict)).toEqual(js);
          expect(kernelWasm(simd, b, maxInstr, maxElems, maxBytes, strict)).toEqual(js);
        },
      ),
      { numRuns: runs(50_000), seed },
    );
  });

  it('Guacamole kernel: random bytes and long runs (SIMD block paths)', () => {
    const big = fc.oneof(
      fc.uint8Array({ minLength: 200, maxLength: 3000 }),
      fc.array(longValue, { minLength: 1, maxLength: 8 }).map((p) => Buffer.concat(p)),
      fc
        .tuple(
          fc.array(longValue, { minLength: 1, maxLength: 6 }),
          fc.nat(),
          fc.integer({ min: 0x80, max: 0xff }),
        )
        .map(([p, at, v]) => {
          const c = Buffer.concat(p);
          c[at % c.length] = v;
          return c;
        }),
    );
    fc.assert(
      fc.property(big, fc.boolean(), (b, strict) => {
        const js = kernelJs(b, MAX_INSTR, MAX_ELEMS, 1 << 24, strict);
        expect(kernelWasm(scalar, b, MAX_INSTR, MAX_ELEMS, 1 << 24, strict)).toEqual(js);
        expect(kernelWasm(simd, b, MAX_INSTR, MAX_ELEMS, 1 << 24, strict)).toEqual(js);
      }),
      { numRuns: runs(5_000), seed },
    );
  });

  it('GuacamoleScanner: same instructions, errors and buffered bytes for any split, push or reserve/commit', () => {
    const engines = ['js', 'wasm', 'wasm-simd', 'auto'] as const;
    fc.assert(
      fc.property(
        hostileStream.chain((b) => fc.tuple(fc.constant(b), cuts(b.length), fc.boolean(), fc.boolean())),
        ([b, points, strict, viaReserve]) => {
          const chunks = split(b, points);
          const results = engines.map((engine) => {
            const s = new GuacamoleScanner({ engine, strict, maxInstructionBytes: 4096 });
            const parts: (number | string)[] = [];
            for (const c of chunks) {
              let batch: ReturnType<GuacamoleScanner['push']>;
              if (viaReserve) {
                s.reserve(c.length).set(c);
                batch = s.commit(c.length);
              } else batch = s.push(c);
              parts.push(Buffer.from(batch.bytes).toString('hex'), batch.count, batch.error?.message ?? '');
              for (let i = 0; i < batch.count; i++) {
                for (let j = 0; j < batch.elementCount(i); j++) {
                  parts.push(batch.elementStart(i, j), batch.elementByteLength(i, j));
                }
              }
              parts.push(s.bufferedBytes);
            }
            s.dispose();
            return parts;
          });
          for (let k = 1; k < results.length; k++) expect(results[k]).toEqual(results[0]);
        },
      ),
      { numRuns: runs(15_000), seed },
    );
  });

  it('GuacamoleScanner auto: base64 display streams in large reads (tail kept in JS memory), push and reserve/commit mixed', () => {
    const b64 = Buffer.alloc(9000, 7).toString('base64');
    const instr = fc.oneof(
      fc.integer({ min: 0, max: 9000 }).map((n) => encodeInstruction('blob', '1', b64.slice(0, n))),
      fc.constant(encodeInstruction('img', '1', '14', '0', 'image/png', '128', '256')),
      fc.string({ unit: 'binary', maxLength: 600 }).map((t) => encodeInstruction('clipboard', t)),
      fc.constant('4.sync,5.12345;'),
    );
    fc.assert(
      fc.property(
        fc.array(instr, { minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a.join(''))),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 70000 }), fc.boolean()), { minLength: 1, maxLength: 12 }),
        (wire, reads) => {
          const results = (['js', 'auto'] as const).map((engine) => {
            const s = new GuacamoleScanner({ engine });
            const parts: (number | string)[] = [];
            let at = 0;
            for (let k = 0; at < wire.length; k++) {
              const [size, viaReserve] = reads[k % reads.length]!;
              const c = wire.subarray(at, at + size);
              at += c.length;
              let batch: ReturnType<GuacamoleScanner['push']>;
              if (viaReserve) {
                s.reserve(c.length).set(c);
                batch = s.commit(c.length);
              } else batch = s.push(c);
              parts.push(Buffer.from(batch.bytes).toString('hex'), batch.count, batch.error?.message ?? '');
              for (let i = 0; i < batch.count; i++)
                parts.push(batch.start(i), batch.end(i), batch.elementCount(i));
              parts.push(s.bufferedBytes);
            }
            s.dispose();
            return parts;
          });
          expect(results[1]).toEqual(results[0]);
        },
      ),
      { numRuns: runs(1_000), seed },
    );
  });

  it('GuacamoleScanner round trip: encodeInstruction of random strings scans back to the same elements', () => {
    const engines = ['js', 'wasm', 'wasm-simd'] as const;
    const instr = fc.tuple(
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.array(unicode, { maxLength: 4 }),
    );
    fc.assert(
      fc.property(
        fc.array(instr, { minLength: 1, maxLength: 6 }).chain((list) => {
          const wire = Buffer.from(list.map(([op, args]) => encodeInstruction(op, ...args)).join(''));
          return fc.tuple(fc.constant(list), fc.constant(wire), cuts(wire.length));
        }),
        ([list, wire, points]) => {
          // what the peer will decode: lone surrogates become U+FFFD in UTF-8
          const want = list.map(([op, args]) => [op, ...args].map((s) => enc(s).toString('utf8')));
          for (const engine of engines) {
            const s = new GuacamoleScanner({ engine });
            const got: string[][] = [];
            for (const c of split(wire, points)) {
              const b = s.push(c);
              expect(b.error).toBeUndefined();
              for (let i = 0; i < b.count; i++) got.push([b.opcode(i), ...b.args(i)]);
            }
            s.dispose();
            expect(got).toEqual(want);
          }
        },
      ),
      { numRuns: runs(5_000), seed },
    );
  });

  it('FrameDecoder: same frames and errors for random, corrupted and oversized streams split anywhere', () => {
    const frame = fc
      .tuple(fc.nat({ max: 0xffffffff }), fc.uint8Array({ maxLength: 80 }), fc.integer({ min: 0, max: 9 }))
      .map(([conn, payload, kind]) => {
        const f = Buffer.from(encodeFrame(conn, payload, 1_700_000_000_000));
        if (kind === 0) f[f.length - 1] = 0x3a; // corrupt terminator
        if (kind === 1) f.writeUInt32BE(0xfffffff0, 12); // oversized length
        return f;
      });
    const engines = ['js', 'wasm', 'wasm-simd', 'auto'] as const;
    fc.assert(
      fc.property(
        fc
          .array(
            fc.oneof(
              { weight: 8, arbitrary: frame },
              {
                weight: 1,
                arbitrary: fc.array(frame, { minLength: 8, maxLength: 40 }).map((a) => Buffer.concat(a)),
              },
              { weight: 1, arbitrary: fc.uint8Array({ maxLength: 20 }) },
            ),
            {
              maxLength: 8,
            },
          )
          .map((p) => Buffer.concat(p))
          .chain((b) => fc.tuple(fc.constant(b), cuts(b.length), fc.constantFrom(64, 1 << 24))),
        ([b, points, maxPayload]) => {
          const chunks = split(b, points);
          const results = engines.map((engine) => {
            const d = new FrameDecoder({ engine, maxPayload });
            const out: (string | number)[] = [];
            for (const c of chunks) {
              const err = d.push(c, (conn, payload) => out.push(conn, Buffer.from(payload).toString('hex')));
              out.push(err?.message ?? '', d.bufferedBytes);
            }
            return out;
          });
          // the span API on every engine: same frames, errors and buffered bytes
          for (const engine of engines) {
            const d = new FrameDecoder({ engine, maxPayload });
            const out: (string | number)[] = [];
            for (const c of chunks) {
              const err = d.pushSpans(c, (conn, bytes, start, end) =>
                out.push(conn, Buffer.from(bytes.subarray(start, end)).toString('hex')),
              );
              out.push(err?.message ?? '', d.bufferedBytes);
            }
            results.push(out);
          }
          for (let k = 1; k < results.length; k++) expect(results[k]).toEqual(results[0]);
        },
      ),
      { numRuns: runs(15_000), seed },
    );
  });

  it('countCodePoints and validateUtf8: random bytes, truncated and valid UTF-8', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true });
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.string({ unit: 'binary', maxLength: 300 }).map(enc),
      fc.tuple(fc.string({ unit: 'binary', maxLength: 200 }), fc.nat()).map(([s, cut]) => {
        const b = enc(s);
        return b.subarray(0, cut % (b.length + 1));
      }),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const n = countCodePointsWith('js', b);
        expect(countCodePointsWith('wasm', b)).toBe(n);
        expect(countCodePointsWith('wasm-simd', b)).toBe(n);
        let valid = true;
        try {
          fatal.decode(b);
        } catch {
          valid = false;
        }
        for (const e of [scalar, simd]) {
          const p = e.scratch(b.length);
          e.u8.set(b, p);
          expect(e.x.validateUtf8(p, b.length) === 1, e.name).toBe(valid);
        }
        if (valid) expect(n).toBe([...fatal.decode(b)].length);
      }),
      { numRuns: runs(15_000), seed },
    );
  });
});
