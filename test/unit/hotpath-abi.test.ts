/**
 * The kernel ABI has one home per side: assembly/abi.ts for the AssemblyScript kernels and
 * src/hotpath/engine/abi.ts for JS. These tests read the assembly source and check the mirror value for
 * value, check that no other file declares its own codes, and check by behaviour that the built Wasm
 * kernels report what the mirror says at the offsets it says.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as abi from '../../src/hotpath/engine/abi.ts';
import { type WasmEngine, wasmEngine } from '../../src/hotpath/internal.ts';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** `export const NAME: i32|u32 = <integer arithmetic>;` of an AssemblyScript file, evaluated. */
function assemblyConstants(source: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of source.matchAll(/^export const (\w+): [iu]32 = ([^;]+);/gm)) {
    const expr = m[2]!;
    expect(expr, `${m[1]} must be integer arithmetic`).toMatch(/^[-0-9a-fx* ]+$/i);
    out.set(m[1]!, Number(new Function(`return (${expr});`)()));
  }
  return out;
}

const mirror = new Map(Object.entries(abi).filter((e): e is [string, number] => typeof e[1] === 'number'));

describe('kernel ABI', () => {
  const kernel = assemblyConstants(read('assembly/abi.ts'));

  it('src/hotpath/engine/abi.ts mirrors assembly/abi.ts name for name and value for value', () => {
    expect(kernel.size).toBeGreaterThan(30);
    expect(Object.fromEntries(mirror)).toEqual(Object.fromEntries(kernel));
  });

  it('no other assembly/ or src/hotpath/ file declares status codes, layout offsets or kernel limits', () => {
    const names = [...kernel.keys()].join('|');
    const declares = new RegExp(`\\b(?:const|let|var)\\s+(?:${names})\\b`);
    const files = [
      ...readdirSync(new URL('assembly/', root)).map((f) => `assembly/${f}`),
      ...readdirSync(new URL('src/hotpath/', root), { recursive: true }).map((f) => `src/hotpath/${f}`),
    ].filter((f) => f.endsWith('.ts') && !f.endsWith('/abi.ts'));
    expect(files.length).toBeGreaterThan(15);
    for (const f of files) expect(read(f), f).not.toMatch(declares);
  });

  const engines = [wasmEngine('wasm-simd'), wasmEngine('wasm')].filter(
    (e): e is WasmEngine => e !== undefined,
  );
  it.each(engines.map((e) => [e.name, e] as const))(
    '%s: walkFrames reports the mirrored statuses at the mirrored offsets',
    (_name, e) => {
      const frame = (conn: number, payload: string, terminator = 0x3b) => {
        const p = Buffer.from(payload);
        const b = Buffer.alloc(abi.FRAME_OVERHEAD + p.length);
        b.writeUInt32BE(conn, 0);
        b.writeUInt32BE(p.length, 12);
        p.copy(b, abi.FRAME_HEADER_SIZE);
        b[abi.FRAME_HEADER_SIZE + p.length] = terminator;
        return b;
      };
      const walk = (chunk: Buffer, maxPayload: number, maxRecords = 16) => {
        const ptr = e.scratch(chunk.length + 1024);
        const out = ptr + 512;
        e.u8.set(chunk, ptr + 1024);
        const status = e.x.walkFrames(ptr + 1024, chunk.length, maxPayload, out, maxRecords);
        const at = (offset: number) => e.u32[abi.slot(out + offset)]!;
        return { status, at };
      };
      const two = Buffer.concat([frame(7, 'abc'), frame(9, 'hello')]);
      let r = walk(two, 100);
      expect(r.status).toBe(abi.FRAME_OK);
      expect(r.at(abi.FRAME_R_STATUS)).toBe(abi.FRAME_OK);
      expect(r.at(abi.FRAME_R_COUNT)).toBe(2);
      expect(r.at(abi.FRAME_R_CONSUMED)).toBe(two.length);
      const second = abi.FRAME_RESULT_HEADER_BYTES + abi.FRAME_RECORD_BYTES;
      expect([r.at(second), r.at(second + 4), r.at(second + 8)]).toEqual([9, 20 + abi.FRAME_HEADER_SIZE, 5]);

      r = walk(two, 100, 1);
      expect([r.status, r.at(abi.FRAME_R_COUNT)]).toEqual([abi.FRAME_FULL, 1]);

      r = walk(Buffer.concat([frame(7, 'abc'), frame(9, 'hello', 0x21)]), 100);
      expect(r.status).toBe(abi.FRAME_CORRUPT);
      expect(r.at(abi.FRAME_R_FAIL_AT)).toBe(20 + abi.FRAME_HEADER_SIZE + 5);
      expect(r.at(abi.FRAME_R_FAIL_LENGTH)).toBe(5);
      expect(r.at(abi.FRAME_R_FAIL_CONN)).toBe(9);
      expect(r.at(abi.FRAME_R_FAIL_BYTE)).toBe(0x21);

      r = walk(two, 4);
      expect(r.status).toBe(abi.FRAME_TOO_LARGE);
      expect([r.at(abi.FRAME_R_FAIL_AT), r.at(abi.FRAME_R_FAIL_LENGTH)]).toEqual([20, 5]);
    },
  );

  it.each(engines.map((e) => [e.name, e] as const))(
    '%s: scanInstructions reports the mirrored statuses, limits and offsets',
    (_name, e) => {
      const scan = (text: string | Buffer, maxBytes = 1 << 26, maxInstr = 16) => {
        const b = typeof text === 'string' ? Buffer.from(text) : text;
        const out = e.alloc(abi.GUAC_RESULT_HEADER_BYTES + maxInstr * abi.GUAC_INSTRUCTION_BYTES);
        const els = e.alloc(256 * abi.GUAC_ELEMENT_BYTES);
        const ptr = e.alloc(b.length + 16);
        e.u8.set(b, ptr);
        const status = e.x.scanInstructions(ptr, b.length, out, maxInstr, els, 256, maxBytes, 1);
        const at = (offset: number) => e.u32[abi.slot(out + offset)]!;
        const el = (offset: number) => e.u32[abi.slot(els + offset)]!;
        return { status, at, el };
      };
      let r = scan('4.sync,2.42;3.key,');
      expect(r.status).toBe(abi.GUAC_OK);
      expect(r.at(abi.GUAC_R_STATUS)).toBe(abi.GUAC_OK);
      expect(r.at(abi.GUAC_R_INSTRUCTIONS)).toBe(1);
      expect(r.at(abi.GUAC_R_CONSUMED)).toBe(12);
      expect(r.at(abi.GUAC_R_ELEMENTS)).toBe(2);
      expect(r.at(abi.GUAC_R_HINT)).toBeGreaterThan(0);
      const rec = abi.GUAC_RESULT_HEADER_BYTES;
      expect([r.at(rec), r.at(rec + 4), r.at(rec + 8), r.at(rec + 12)]).toEqual([0, 12, 0, 2]);
      expect([r.el(abi.GUAC_ELEMENT_BYTES), r.el(abi.GUAC_ELEMENT_BYTES + 4)]).toEqual([9, 2]);

      expect(scan('4.sync;4.sync;', 1 << 26, 1).status).toBe(abi.GUAC_FULL);
      r = scan('4.sync;4x');
      expect(r.status).toBe(abi.GUAC_MALFORMED);
      expect(r.at(abi.GUAC_R_ERROR_AT)).toBe(8);
      expect(scan(Buffer.from([0x32, 0x2e, 0xc3, 0x28, 0x3b])).status).toBe(abi.GUAC_INVALID_UTF8);
      expect(scan(`${'1'.repeat(abi.GUAC_MAX_LENGTH_DIGITS + 1)}.`).status).toBe(abi.GUAC_ELEMENT_TOO_LARGE);
      expect(scan(`${abi.GUAC_MAX_ELEMENT_CODE_POINTS + 1}.`).status).toBe(abi.GUAC_ELEMENT_TOO_LARGE);
      expect(scan(`${abi.GUAC_MAX_ELEMENT_CODE_POINTS}.`).status).toBe(abi.GUAC_OK);
      const elements = (n: number) => `1.x${',0.'.repeat(n - 1)};`;
      expect(scan(elements(abi.GUAC_MAX_ELEMENTS)).status).toBe(abi.GUAC_OK);
      expect(scan(elements(abi.GUAC_MAX_ELEMENTS + 1)).status).toBe(abi.GUAC_TOO_MANY_ELEMENTS);
      expect(scan('4.sync,10.0123456789;', 12).status).toBe(abi.GUAC_INSTRUCTION_TOO_LARGE);
    },
  );
});
