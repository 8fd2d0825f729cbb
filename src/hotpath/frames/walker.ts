/**
 * The contract between a FrameDecoder and the engine walking complete frames inside a chunk (JS:
 * ./walk-js.ts, Wasm: ./walk-wasm.ts), and what both report.
 */
import type { EngineName } from '../engine/types.ts';

export type FrameHandler = (connNo: number, payload: Uint8Array) => void;

/**
 * Zero-allocation frame handler: the payload is `bytes[start..end)`. `bytes` is the pushed chunk (or, for a
 * frame split across chunks, a fresh buffer holding exactly its payload): never memory the decoder reuses,
 * so `bytes.subarray(start, end)` stays valid as long as the caller keeps its chunks unmodified.
 */
export type FrameSpanHandler = (connNo: number, bytes: Uint8Array, start: number, end: number) => void;

/** Shared between a FrameDecoder and its walker: where to resume after a throwing handler, failure text. */
export interface WalkState {
  resume: number;
  message: string;
}

export const WALK_CORRUPT = -1;
export const WALK_TOO_LARGE = -2;

/**
 * Walks the complete frames lying wholly inside `chunk` from `pos`, calling `onFrame` with views of the
 * chunk. Sets `state.resume` past each frame before its handler runs. Returns the position of the first
 * incomplete frame, or WALK_CORRUPT / WALK_TOO_LARGE (with `state.message` set).
 */
export interface FrameWalker {
  readonly name: EngineName;
  walk(chunk: Uint8Array, pos: number, maxPayload: number, onFrame: FrameHandler, state: WalkState): number;
  /** Same walk, calling `onSpan(connNo, chunk, start, end)` instead of creating a payload view. */
  walkSpans(
    chunk: Uint8Array,
    pos: number,
    maxPayload: number,
    onSpan: FrameSpanHandler,
    state: WalkState,
  ): number;
}

/** Reads a big-endian u32 at `o` (caller guarantees 4 readable bytes). */
export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function tooLargeMessage(length: number, max: number, at: number): string {
  return `Frame too large: declared payload length ${length} exceeds the maximum ${max} (header at chunk offset ${at}); buffered stream discarded`;
}

export function corruptMessage(got: number, connNo: number, length: number, at: number): string {
  const hex = got.toString(16).padStart(2, '0');
  return `Corrupt frame: expected terminator 0x3b after the ${length}-byte payload of conn ${connNo}, got 0x${hex} at chunk offset ${at}; buffered stream discarded`;
}
