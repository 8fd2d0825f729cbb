/**
 * Plain-JS reference implementations of every hot path. The Wasm engines must produce identical results
 * (checked by the parity fuzz tests).
 */
import { FRAME_HEADER_SIZE, FRAME_TERMINATOR } from './constants.ts';
import { corruptMessage, readU32, tooLargeMessage } from './frame-codec.ts';
import type { FrameHandler } from './frame-decoder.ts';
import { type FrameWalker, WALK_CORRUPT, WALK_TOO_LARGE, type WalkState } from './walker.ts';

function walkFramesJs(
  chunk: Uint8Array,
  pos: number,
  maxPayload: number,
  onFrame: FrameHandler,
  state: WalkState,
): number {
  const len = chunk.length;
  while (len - pos >= FRAME_HEADER_SIZE) {
    const length = readU32(chunk, pos + 12);
    if (length > maxPayload) {
      state.message = tooLargeMessage(length, maxPayload, pos);
      return WALK_TOO_LARGE;
    }
    const end = pos + FRAME_HEADER_SIZE + length;
    if (end >= len) break;
    const connNo = readU32(chunk, pos);
    if (chunk[end] !== FRAME_TERMINATOR) {
      state.message = corruptMessage(chunk[end]!, connNo, length, end);
      return WALK_CORRUPT;
    }
    const payload = chunk.subarray(pos + FRAME_HEADER_SIZE, end);
    pos = end + 1;
    state.resume = pos;
    onFrame(connNo, payload);
  }
  return pos;
}

export const jsFrameWalker: FrameWalker = { name: 'js', walk: walkFramesJs };

/** Number of Unicode code points in UTF-8 bytes (counts non-continuation bytes; assumes valid UTF-8). */
export function countCodePointsJs(b: Uint8Array, start = 0, end = b.length): number {
  let cont = 0;
  for (let i = start; i < end; i++) cont += (b[i]! & 0xc0) === 0x80 ? 1 : 0;
  return end - start - cont;
}
