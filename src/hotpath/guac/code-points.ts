/** Code points of UTF-8 bytes (the unit of Guacamole length prefixes) on the chosen engine. */
import { codePointsInJs } from '../engine/auto.ts';
import { resolveEngine } from '../engine/dispatch.ts';
import type { WasmEngine } from '../engine/loader.ts';
import type { EngineChoice } from '../engine/types.ts';
import { countCodePointsJs } from './utf8.ts';

/** Code points of `bytes` counted in Wasm (after one copy into Wasm memory). */
function countCodePointsWasm(e: WasmEngine, bytes: Uint8Array): number {
  const ptr = e.scratch(bytes.length);
  e.u8.set(bytes, ptr);
  return e.x.countCodePoints(ptr, bytes.length) >>> 0;
}

/** countCodePoints on a named engine (undefined: the default choice). */
export function countCodePointsWith(choice: EngineChoice | undefined, utf8: Uint8Array): number {
  const { auto, wasm } = resolveEngine(choice);
  if (wasm === undefined || (auto && codePointsInJs(utf8.length))) {
    return countCodePointsJs(utf8, 0, utf8.length);
  }
  return countCodePointsWasm(wasm, utf8);
}

/** Number of Unicode code points in `utf8` (counts non-continuation bytes; the input is assumed valid). */
export function countCodePoints(utf8: Uint8Array): number {
  return countCodePointsWith(undefined, utf8);
}
