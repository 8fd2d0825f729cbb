import type { FrameHandler, FrameSpanHandler } from './frame-decoder.ts';

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
  readonly name: 'wasm-simd' | 'wasm' | 'js';
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
