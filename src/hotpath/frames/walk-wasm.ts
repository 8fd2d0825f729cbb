/** Frame walker running the Wasm kernel `walkFrames`: copies the chunk into Wasm memory, reads the records. */
import {
  FRAME_CORRUPT,
  FRAME_FULL,
  FRAME_R_CONSUMED,
  FRAME_R_COUNT,
  FRAME_R_FAIL_AT,
  FRAME_R_FAIL_BYTE,
  FRAME_R_FAIL_CONN,
  FRAME_R_FAIL_LENGTH,
  FRAME_RECORD_BYTES,
  FRAME_RESULT_HEADER_BYTES,
  slot,
} from '../engine/abi.ts';
import type { WasmEngine } from '../engine/loader.ts';
import { jsFrameWalker } from './walk-js.ts';
import {
  corruptMessage,
  type FrameHandler,
  type FrameSpanHandler,
  type FrameWalker,
  tooLargeMessage,
  WALK_CORRUPT,
  WALK_TOO_LARGE,
  type WalkState,
} from './walker.ts';

const FRAME_RECORDS = 1024;
const FRAME_OUT_BYTES = FRAME_RESULT_HEADER_BYTES + FRAME_RECORD_BYTES * FRAME_RECORDS;
const COUNT = slot(FRAME_R_COUNT);
const CONSUMED = slot(FRAME_R_CONSUMED);
const FAIL_AT = slot(FRAME_R_FAIL_AT);
const FAIL_LENGTH = slot(FRAME_R_FAIL_LENGTH);
const FAIL_CONN = slot(FRAME_R_FAIL_CONN);
const FAIL_BYTE = slot(FRAME_R_FAIL_BYTE);
const RECORDS = slot(FRAME_RESULT_HEADER_BYTES);
const RECORD_SLOTS = slot(FRAME_RECORD_BYTES);

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
        const count = u32[o + COUNT]!;
        const consumed = u32[o + CONSUMED]!;
        const failAt = u32[o + FAIL_AT]!;
        const failLength = u32[o + FAIL_LENGTH]!;
        const failConn = u32[o + FAIL_CONN]!;
        const failByte = u32[o + FAIL_BYTE]!;
        for (let i = 0, r = o + RECORDS; i < count; i++, r += RECORD_SLOTS) {
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
