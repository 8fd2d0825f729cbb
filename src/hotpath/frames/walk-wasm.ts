/** Glue between the JS API and the Wasm kernels: copies inputs into Wasm memory and reads the records. */
import { FRAME_OVERHEAD } from './constants.ts';
import { corruptMessage, tooLargeMessage } from './frame-codec.ts';
import type { FrameHandler, FrameSpanHandler } from './frame-decoder.ts';
import { jsFrameWalker } from './js.ts';
import type { WasmEngine } from './loader.ts';
import { type FrameWalker, WALK_CORRUPT, WALK_TOO_LARGE, type WalkState } from './walker.ts';

const FRAME_FULL = 1;
const FRAME_CORRUPT = -1;
const FRAME_RECORDS = 1024;
const FRAME_OUT_BYTES = 32 + 12 * FRAME_RECORDS;

/**
 * Frame walker running the Wasm kernel: one copy of the chunk into Wasm memory and one call per chunk
 * (per 1,024 frames); payload views still point into the caller's chunk. A handler that pushes into
 * another decoder re-enters: that nested walk runs in JS so the shared scratch is never overwritten.
 */
export function makeWasmFrameWalker(e: WasmEngine): FrameWalker {
  const out = e.alloc(FRAME_OUT_BYTES);
  let busy = false;
  /** One walker for both handler kinds: `onSpan` set means spans, else views for `onFrame`. */
  const run = (
    chunk: Uint8Array,
    pos: number,
    maxPayload: number,
    onFrame: FrameHandler | undefined,
    onSpan: FrameSpanHandler | undefined,
    state: WalkState,
  ): number => {
    if (busy) {
      return onSpan !== undefined
        ? jsFrameWalker.walkSpans(chunk, pos, maxPayload, onSpan, state)
        : jsFrameWalker.walk(chunk, pos, maxPayload, onFrame!, state);
    }
    busy = true;
    try {
      for (;;) {
        const n = chunk.length - pos;
        if (n < 16) return pos;
        const ptr = e.scratch(n);
        e.u8.set(n === chunk.length ? chunk : chunk.subarray(pos), ptr);
        const status = e.x.walkFrames(ptr, n, maxPayload, out, FRAME_RECORDS);
        const o = out >>> 2;
        let u32 = e.u32;
        const count = u32[o]!;
        const consumed = u32[o + 1]!;
        const failAt = u32[o + 3]!;
        const failLength = u32[o + 4]!;
        const failConn = u32[o + 5]!;
        const failByte = u32[o + 6]!;
        for (let i = 0, r = o + 8; i < count; i++, r += 3) {
          const connNo = u32[r]!;
          const at = pos + u32[r + 1]!;
          const length = u32[r + 2]!;
          state.resume = at + length + 1;
          if (onSpan !== undefined) onSpan(connNo, chunk, at, at + length);
          else onFrame!(connNo, chunk.subarray(at, at + length));
          u32 = e.u32; // a handler may have grown the memory
        }
        if (status < 0) {
          if (status === FRAME_CORRUPT) {
            state.message = corruptMessage(failByte, failConn, failLength, pos + failAt);
            return WALK_CORRUPT;
          }
          state.message = tooLargeMessage(failLength, maxPayload, pos + failAt);
          return WALK_TOO_LARGE;
        }
        pos += consumed;
        if (status !== FRAME_FULL) return pos;
      }
    } finally {
      busy = false;
    }
  };
  return {
    name: e.name,
    walk: (chunk, pos, maxPayload, onFrame, state) => run(chunk, pos, maxPayload, onFrame, undefined, state),
    walkSpans: (chunk, pos, maxPayload, onSpan, state) =>
      run(chunk, pos, maxPayload, undefined, onSpan, state),
  };
}

/** Code points of `bytes` counted in Wasm (after one copy into Wasm memory). */
export function countCodePointsWasm(e: WasmEngine, bytes: Uint8Array): number {
  const ptr = e.scratch(bytes.length);
  e.u8.set(bytes, ptr);
  return e.x.countCodePoints(ptr, bytes.length) >>> 0;
}

/** Encodes a frame in Wasm: copy the payload in, encode, copy the frame out into a fresh Buffer. */
export function encodeFrameWasm(e: WasmEngine, connNo: number, payload: Uint8Array, ts: number): Buffer {
  const total = payload.length + FRAME_OVERHEAD;
  const ptr = e.scratch(total + payload.length);
  const src = ptr + total;
  e.u8.set(payload, src);
  e.x.encodeFrame(ptr, connNo, ts, src, payload.length);
  const out = Buffer.allocUnsafe(total);
  out.set(e.u8.subarray(ptr, ptr + total));
  return out;
}
