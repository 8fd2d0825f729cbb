/**
 * Plain-JS reference implementations of every hot path. The Wasm engines must produce identical results
 * (checked by the parity fuzz tests).
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { FRAME_HEADER_SIZE, FRAME_TERMINATOR } from './constants.ts';
import { corruptMessage, readU32, tooLargeMessage } from './frame-codec.ts';
import type { FrameHandler, FrameSpanHandler } from './frame-decoder.ts';
import { type FrameWalker, WALK_CORRUPT, WALK_TOO_LARGE, type WalkState } from './walker.ts';

export function walkFramesJs(
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

/**
 * Span walk: after this many frames in one chunk, the rest is read through a DataView (its creation costs
 * ~40 ns, saves ~1.5 ns per frame) when at least SPAN_DATAVIEW_MIN_MORE more frames of the size seen so far fit.
 */
const SPAN_DATAVIEW_AFTER = 8;
const SPAN_DATAVIEW_MIN_MORE = 32;

/**
 * walkFramesJs without the payload view: the handler gets the chunk and the payload's byte range. No
 * allocation per frame; `state.resume` is set only if a handler throws (same value walkFramesJs leaves).
 */
export function walkFrameSpansJs(
  chunk: Uint8Array,
  pos: number,
  maxPayload: number,
  onSpan: FrameSpanHandler,
  state: WalkState,
): number {
  const len = chunk.length;
  const first = pos;
  try {
    for (
      let k = 0;
      k < SPAN_DATAVIEW_AFTER || len - pos < ((pos - first) >>> 3) * SPAN_DATAVIEW_MIN_MORE;
      k++
    ) {
      if (len - pos < FRAME_HEADER_SIZE) return pos;
      const length = readU32(chunk, pos + 12);
      if (length > maxPayload) {
        state.message = tooLargeMessage(length, maxPayload, pos);
        return WALK_TOO_LARGE;
      }
      const end = pos + FRAME_HEADER_SIZE + length;
      if (end >= len) return pos;
      const connNo = readU32(chunk, pos);
      if (chunk[end] !== FRAME_TERMINATOR) {
        state.message = corruptMessage(chunk[end]!, connNo, length, end);
        return WALK_CORRUPT;
      }
      const start = pos + FRAME_HEADER_SIZE;
      pos = end + 1;
      onSpan(connNo, chunk, start, end);
    }
    if (len - pos < FRAME_HEADER_SIZE) return pos;
    // many frames in this chunk: big-endian u32 reads through one DataView
    const dv = new DataView(chunk.buffer, chunk.byteOffset, len);
    while (len - pos >= FRAME_HEADER_SIZE) {
      const length = dv.getUint32(pos + 12);
      if (length > maxPayload) {
        state.message = tooLargeMessage(length, maxPayload, pos);
        return WALK_TOO_LARGE;
      }
      const end = pos + FRAME_HEADER_SIZE + length;
      if (end >= len) break;
      const connNo = dv.getUint32(pos);
      if (chunk[end] !== FRAME_TERMINATOR) {
        state.message = corruptMessage(chunk[end]!, connNo, length, end);
        return WALK_CORRUPT;
      }
      const start = pos + FRAME_HEADER_SIZE;
      pos = end + 1;
      onSpan(connNo, chunk, start, end);
    }
  } catch (error) {
    state.resume = pos; // the throwing handler's frame is consumed
    throw error;
  }
  return pos;
}

export const jsFrameWalker: FrameWalker = { name: 'js', walk: walkFramesJs, walkSpans: walkFrameSpansJs };

/** Number of Unicode code points in UTF-8 bytes (counts non-continuation bytes; assumes valid UTF-8). */
export function countCodePointsJs(b: Uint8Array, start = 0, end = b.length): number {
  let cont = 0;
  for (let i = start; i < end; i++) cont += (b[i]! & 0xc0) === 0x80 ? 1 : 0;
  return end - start - cont;
}

// ---------------------------------------------------------------------------------------------- UTF-8

/** Length of the valid UTF-8 sequence at p (1..4), 0 if invalid, -1 if truncated by `end`. */
function sequenceAt(b: Uint8Array, p: number, end: number): number {
  const b0 = b[p]!;
  if (b0 < 0x80) return 1;
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 < 0xc2) return 0;
  if (b0 < 0xe0) need = 1;
  else if (b0 < 0xf0) {
    need = 2;
    if (b0 === 0xe0) lo = 0xa0;
    else if (b0 === 0xed) hi = 0x9f;
  } else if (b0 < 0xf5) {
    need = 3;
    if (b0 === 0xf0) lo = 0x90;
    else if (b0 === 0xf4) hi = 0x8f;
  } else return 0;
  if (p + 1 >= end) return -1;
  const b1 = b[p + 1]!;
  if (b1 < lo || b1 > hi) return 0;
  for (let k = 2; k <= need; k++) {
    if (p + k >= end) return -1;
    if ((b[p + k]! & 0xc0) !== 0x80) return 0;
  }
  return need + 1;
}

/** Start of a trailing sequence truncated by `end` whose bytes are valid so far; `end` if there is none. */
export function trailingPartial(b: Uint8Array, start: number, end: number): number {
  let q = end;
  for (let k = 0; q > start && k < 3; k++) {
    q--;
    if ((b[q]! & 0xc0) !== 0x80) return sequenceAt(b, q, end) < 0 ? q : end;
  }
  return end;
}

// ---------------------------------------------------------------------------------------------- Guacamole

/** Kernel status codes (same values as assembly/guacamole.ts). */
export const GUAC_OK = 0;
export const GUAC_FULL = 1;
export const GUAC_MALFORMED = -1;
export const GUAC_INVALID_UTF8 = -2;
export const GUAC_ELEMENT_TOO_LARGE = -3;
export const GUAC_TOO_MANY_ELEMENTS = -4;
export const GUAC_INSTRUCTION_TOO_LARGE = -5;

/** Result layout (u32 slots), identical to the Wasm kernel's. */
export const H_INSTRUCTIONS = 0;
export const H_CONSUMED = 1;
export const H_STATUS = 2;
export const H_ELEMENTS = 3;
export const H_HINT = 4;
export const H_ERROR_AT = 5;
export const HEADER_SLOTS = 8;
export const INSTRUCTION_SLOTS = 4; // start, end, firstElement, elementCount
export const ELEMENT_SLOTS = 2; // valueStart, valueByteLength

const MAX_DIGITS = 7;
const MAX_ELEMENT_CODE_POINTS = 8 * 1024 * 1024;
const MAX_ELEMENTS = 128;
const INCOMPLETE = -1;
const INVALID = -2;
/** Below this input size the validating traversal beats counting + one native isUtf8() call. */
const NATIVE_VALIDATION_MIN_BYTES = 256;

let invalidAt = 0;

function skipValidating(b: Uint8Array, p: number, end: number, n: number): number {
  while (n > 0) {
    if (p >= end) return INCOMPLETE;
    const b0 = b[p]!;
    if (b0 < 0x80) {
      p++;
    } else {
      const s = sequenceAt(b, p, end);
      if (s <= 0) {
        if (s < 0) return INCOMPLETE;
        invalidAt = p;
        return INVALID;
      }
      p += s;
    }
    n--;
  }
  return p;
}

/** Position of the (n+1)-th non-continuation byte at or after p, or INCOMPLETE. */
function skipCounting(b: Uint8Array, p: number, end: number, n: number): number {
  if (n >= 32) {
    const stop = p + n;
    // a long ASCII value (base64 blobs): one native check instead of a byte loop
    if (stop < end && b[p]! < 0x80 && b[stop - 1]! < 0x80 && (b[stop]! & 0xc0) !== 0x80) {
      if (isAscii(b.subarray(p, stop))) return stop;
    }
    // every code point has at least one byte: consume `n` bytes, the continuation bytes among them are
    // code points still owed; repeat (branch-free inner loop)
    while (n > 0) {
      const to = p + n;
      if (to > end) return INCOMPLETE;
      let cont = 0;
      for (let i = p; i < to; i++) cont += (((b[i]! & 0xc0) ^ 0x80) - 1) >>> 31; // 1 iff continuation
      p = to;
      n = cont;
    }
    while (p < end && (b[p]! & 0xc0) === 0x80) p++;
    return p < end ? p : INCOMPLETE;
  }
  while (p < end) {
    if ((b[p]! & 0xc0) !== 0x80) {
      if (n === 0) return p;
      n--;
    }
    p++;
  }
  return INCOMPLETE;
}

function traverse(
  b: Uint8Array,
  start: number,
  end: number,
  out: Uint32Array,
  maxInstr: number,
  elems: Uint32Array,
  maxElems: number,
  maxBytes: number,
  validating: boolean,
): number {
  let p = start;
  let nI = 0;
  let nE = 0;
  let status = GUAC_OK;
  let rec = HEADER_SLOTS;
  let hint = 0;
  let errorAt = 0;
  for (;;) {
    if (nI === maxInstr) {
      status = GUAC_FULL;
      break;
    }
    let q = p;
    let count = 0;
    const firstElem = nE;
    let incomplete = false;
    for (;;) {
      let n = 0;
      let digits = 0;
      const lenStart = q;
      for (;;) {
        if (q >= end) {
          incomplete = true;
          hint = end + 1;
          break;
        }
        const c = b[q]! - 48;
        if (c >= 0 && c < 10) {
          if (digits === MAX_DIGITS) {
            status = GUAC_ELEMENT_TOO_LARGE;
            errorAt = q;
            break;
          }
          n = n * 10 + c;
          digits++;
          q++;
        } else if (c === -2 && digits > 0) {
          q++;
          break;
        } else {
          status = GUAC_MALFORMED;
          errorAt = q;
          break;
        }
      }
      if (incomplete || status !== GUAC_OK) break;
      if (n > MAX_ELEMENT_CODE_POINTS) {
        status = GUAC_ELEMENT_TOO_LARGE;
        errorAt = lenStart;
        break;
      }
      const vs = q;
      if (vs - p + n + 1 > maxBytes) {
        status = GUAC_INSTRUCTION_TOO_LARGE;
        errorAt = p;
        break;
      }
      q = validating ? skipValidating(b, q, end, n) : skipCounting(b, q, end, n);
      if (q === INCOMPLETE) {
        incomplete = true;
        hint = Math.max(vs + n + 1, end + 1);
        break;
      }
      if (q === INVALID) {
        status = GUAC_INVALID_UTF8;
        errorAt = invalidAt;
        break;
      }
      if (q >= end) {
        incomplete = true;
        hint = end + 1;
        break;
      }
      const d = b[q]!;
      if (d !== 0x3b && d !== 0x2c) {
        status = GUAC_MALFORMED;
        errorAt = q;
        break;
      }
      if (d === 0x2c && count === MAX_ELEMENTS - 1) {
        status = GUAC_TOO_MANY_ELEMENTS;
        errorAt = q;
        break;
      }
      if (nE === maxElems) {
        status = GUAC_FULL;
        break;
      }
      elems[nE * 2] = vs - start;
      elems[nE * 2 + 1] = q - vs;
      nE++;
      count++;
      q++;
      if (d === 0x3b) break;
    }
    if (incomplete) {
      nE = firstElem;
      if (end - p >= maxBytes) {
        status = GUAC_INSTRUCTION_TOO_LARGE;
        errorAt = p;
      }
      break;
    }
    if (status !== GUAC_OK) {
      nE = firstElem;
      break;
    }
    if (q - p > maxBytes) {
      nE = firstElem;
      status = GUAC_INSTRUCTION_TOO_LARGE;
      errorAt = p;
      break;
    }
    out[rec] = p - start;
    out[rec + 1] = q - start;
    out[rec + 2] = firstElem;
    out[rec + 3] = count;
    rec += INSTRUCTION_SLOTS;
    nI++;
    p = q;
  }
  out[H_INSTRUCTIONS] = nI;
  out[H_CONSUMED] = p - start;
  out[H_STATUS] = status;
  out[H_ELEMENTS] = nE;
  out[H_HINT] = hint === 0 ? 0 : hint - start;
  out[H_ERROR_AT] = status < 0 ? errorAt - start : 0;
  return status;
}

/**
 * JS reference of `scanInstructions` (assembly/guacamole.ts): scans b[start..end) for complete
 * instructions; results in `out` (header + instruction records) and `elems` (element records), offsets
 * relative to `start`. `maxElems` must be >= 128. Returns the status.
 */
export function scanInstructionsJs(
  b: Uint8Array,
  start: number,
  end: number,
  out: Uint32Array,
  maxInstr: number,
  elems: Uint32Array,
  maxElems: number,
  maxBytes: number,
  strict: boolean,
): number {
  if (!strict) return traverse(b, start, end, out, maxInstr, elems, maxElems, maxBytes, false);
  if (end - start < NATIVE_VALIDATION_MIN_BYTES) {
    return traverse(b, start, end, out, maxInstr, elems, maxElems, maxBytes, true);
  }
  // count code points, then validate everything scanned with one native (simdutf) call
  const status = traverse(b, start, end, out, maxInstr, elems, maxElems, maxBytes, false);
  if (status >= 0) {
    const consumed = start + out[H_CONSUMED]!;
    const checkEnd = status === GUAC_FULL ? consumed : trailingPartial(b, consumed, end);
    if (isUtf8(b.subarray(start, checkEnd))) return status;
  }
  return traverse(b, start, end, out, maxInstr, elems, maxElems, maxBytes, true);
}

/** True if b[start..end) is well-formed UTF-8. */
export function validateUtf8Js(b: Uint8Array, start = 0, end = b.length): boolean {
  return isUtf8(b.subarray(start, end));
}
