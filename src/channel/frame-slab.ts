/**
 * Reads that land directly in frames. A socket we dial reads (via `onread`) into a slab right behind 16
 * bytes of room; the header and terminator are written around the bytes in place, and the frame goes to the
 * data channel as a view. One allocation per slab instead of two per read (Node's read buffer and the frame
 * copy), and no payload copy. Frames are never overwritten: werift keeps each until it is acknowledged, so
 * a slab is only ever appended to and is freed when its last frame is.
 */

import {
  FRAME_HEADER_SIZE,
  FRAME_OVERHEAD,
  FRAME_TERMINATOR,
  writeFrameHeader,
} from '../hotpath/internal.ts';

const SLAB_BYTES = 256 * 1024;

export class FrameSlab {
  readonly #maxPayload: number;
  #slab: Buffer;
  #offset = 0;

  /** `maxPayload`: the largest read, so the largest frame is maxPayload + 17 bytes. */
  constructor(maxPayload: number) {
    this.#maxPayload = maxPayload;
    this.#slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, maxPayload + FRAME_OVERHEAD));
  }

  /** Where the next read goes: room for a whole payload after the header. */
  next(): Buffer {
    if (this.#slab.length - this.#offset < this.#maxPayload + FRAME_OVERHEAD) {
      this.#slab = Buffer.allocUnsafe(this.#slab.length);
      this.#offset = 0;
    }
    const start = this.#offset + FRAME_HEADER_SIZE;
    return this.#slab.subarray(start, start + this.#maxPayload);
  }

  /** Frames the `n` bytes the last read put into `next()`'s view and returns the frame. */
  commit(connNo: number, n: number): Buffer {
    const at = this.#offset;
    writeFrameHeader(this.#slab, at, connNo, Date.now(), n);
    this.#slab[at + FRAME_HEADER_SIZE + n] = FRAME_TERMINATOR;
    const frame = this.#slab.subarray(at, at + FRAME_OVERHEAD + n);
    this.#offset = (at + FRAME_OVERHEAD + n + 7) & ~7;
    return frame;
  }
}
