/**
 * Frame encoders: `encodeFrameInto` (caller's buffer) and `encodeFrame` (a fresh Buffer; JS, or the Wasm
 * kernel when a Wasm engine is chosen explicitly).
 */

import { ErrorCode, TubesError } from '../../errors.ts';
import { allocBytes } from '../../platform/bytes.ts';
import { FRAME_HEADER_SIZE, FRAME_OVERHEAD, FRAME_TERMINATOR } from '../engine/abi.ts';
import { resolveEngine } from '../engine/dispatch.ts';
import type { WasmEngine } from '../engine/loader.ts';
import type { EngineChoice } from '../engine/types.ts';
import { U32_MAX } from '../limits.ts';

const TWO_POW_32 = 0x1_0000_0000;

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, `${what} must be an integer in 0..${U32_MAX}, got ${value}`);
  }
}

function checkTimestamp(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER) {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, `timestampMs must be a non-negative safe number, got ${ms}`);
  }
  return Math.floor(ms);
}

/** Writes the 16-byte header at `o`. Arguments are trusted (validated by the callers). */
export function writeFrameHeader(t: Uint8Array, o: number, connNo: number, ts: number, length: number): void {
  const hi = Math.floor(ts / TWO_POW_32);
  const lo = ts >>> 0;
  t[o] = connNo >>> 24;
  t[o + 1] = connNo >>> 16;
  t[o + 2] = connNo >>> 8;
  t[o + 3] = connNo;
  t[o + 4] = hi >>> 24;
  t[o + 5] = hi >>> 16;
  t[o + 6] = hi >>> 8;
  t[o + 7] = hi;
  t[o + 8] = lo >>> 24;
  t[o + 9] = lo >>> 16;
  t[o + 10] = lo >>> 8;
  t[o + 11] = lo;
  t[o + 12] = length >>> 24;
  t[o + 13] = length >>> 16;
  t[o + 14] = length >>> 8;
  t[o + 15] = length;
}

/** Copies small payloads with a loop (cheaper than `set()` below ~32 bytes). */
function copyPayload(target: Uint8Array, at: number, payload: Uint8Array): void {
  const n = payload.length;
  if (n < 32) {
    for (let i = 0; i < n; i++) target[at + i] = payload[i]!;
  } else {
    target.set(payload, at);
  }
}

/**
 * Encodes one frame (header + payload + `;`) into `target` at `offset`; returns the bytes written
 * (`17 + payload.length`). Throws `TUBES_ERR_BAD_ARGUMENT` for out-of-range numbers or a short target.
 */
export function encodeFrameInto(
  target: Uint8Array,
  offset: number,
  connNo: number,
  payload: Uint8Array,
  timestampMs: number = Date.now(),
): number {
  checkU32(connNo, 'connNo');
  checkU32(payload.length, 'payload length');
  const ts = checkTimestamp(timestampMs);
  const total = payload.length + FRAME_OVERHEAD;
  if (!Number.isInteger(offset) || offset < 0 || offset + total > target.length) {
    throw new TubesError(
      ErrorCode.BAD_ARGUMENT,
      `target too small: need ${total} bytes at offset ${offset}, target has ${target.length}`,
    );
  }
  writeFrameHeader(target, offset, connNo, ts, payload.length);
  copyPayload(target, offset + FRAME_HEADER_SIZE, payload);
  target[offset + FRAME_HEADER_SIZE + payload.length] = FRAME_TERMINATOR;
  return total;
}

/** Validates encodeFrame arguments; returns the integral timestamp. */
function checkFrameArgs(connNo: number, payload: Uint8Array, timestampMs: number): number {
  checkU32(connNo, 'connNo');
  checkU32(payload.length, 'payload length');
  return checkTimestamp(timestampMs);
}

/** JS encoder: one frame into a fresh Buffer the caller owns (arguments already validated). */
function encodeFrameJs(connNo: number, payload: Uint8Array, ts: number): Buffer {
  const out = allocBytes(payload.length + FRAME_OVERHEAD);
  writeFrameHeader(out, 0, connNo, ts, payload.length);
  copyPayload(out, FRAME_HEADER_SIZE, payload);
  out[FRAME_HEADER_SIZE + payload.length] = FRAME_TERMINATOR;
  return out;
}

/** Encodes a frame in Wasm: copy the payload in, encode, copy the frame out into a fresh Buffer. */
function encodeFrameWasm(e: WasmEngine, connNo: number, payload: Uint8Array, ts: number): Buffer {
  const total = payload.length + FRAME_OVERHEAD;
  const ptr = e.scratch(total + payload.length);
  const src = ptr + total;
  e.u8.set(payload, src);
  e.x.encodeFrame(ptr, connNo, ts, src, payload.length);
  const out = allocBytes(total);
  out.set(e.u8.subarray(ptr, ptr + total));
  return out;
}

/** encodeFrame on a named engine (undefined: the default choice). Auto always uses JS (one copy, not two). */
export function encodeFrameWith(
  choice: EngineChoice | undefined,
  connNo: number,
  payload: Uint8Array,
  timestampMs: number = Date.now(),
): Buffer {
  const ts = checkFrameArgs(connNo, payload, timestampMs);
  const { auto, wasm } = resolveEngine(choice);
  if (wasm === undefined || auto) return encodeFrameJs(connNo, payload, ts);
  return encodeFrameWasm(wasm, connNo, payload, ts);
}

/** Encodes one frame into a fresh Buffer the caller owns. */
export function encodeFrame(connNo: number, payload: Uint8Array, timestampMs: number = Date.now()): Buffer {
  return encodeFrameWith(undefined, connNo, payload, timestampMs);
}
