/**
 * JS reference of the Guacamole kernel (`scanInstructions` of assembly/guacamole.ts): same status codes,
 * result layout and limits (engine/abi.ts), identical results (checked by the parity fuzz tests).
 */
import { isAscii, isUtf8 } from '../../platform/bytes.ts';
import {
  GUAC_ELEMENT_BYTES,
  GUAC_ELEMENT_TOO_LARGE,
  GUAC_FULL,
  GUAC_INSTRUCTION_BYTES,
  GUAC_INSTRUCTION_TOO_LARGE,
  GUAC_INVALID_UTF8,
  GUAC_MALFORMED,
  GUAC_MAX_ELEMENT_CODE_POINTS,
  GUAC_MAX_ELEMENTS,
  GUAC_MAX_LENGTH_DIGITS,
  GUAC_OK,
  GUAC_R_CONSUMED,
  GUAC_R_ELEMENTS,
  GUAC_R_ERROR_AT,
  GUAC_R_HINT,
  GUAC_R_INSTRUCTIONS,
  GUAC_R_STATUS,
  GUAC_RESULT_HEADER_BYTES,
  GUAC_TOO_MANY_ELEMENTS,
  slot,
} from '../engine/abi.ts';
import { sequenceAt, trailingPartial } from './utf8.ts';

/** The result layout of engine/abi.ts as u32 slot indexes (results are read through Uint32Arrays). */
export const H_INSTRUCTIONS = slot(GUAC_R_INSTRUCTIONS);
export const H_CONSUMED = slot(GUAC_R_CONSUMED);
export const H_STATUS = slot(GUAC_R_STATUS);
export const H_ELEMENTS = slot(GUAC_R_ELEMENTS);
export const H_HINT = slot(GUAC_R_HINT);
export const H_ERROR_AT = slot(GUAC_R_ERROR_AT);
export const HEADER_SLOTS = slot(GUAC_RESULT_HEADER_BYTES);
/** start, end, firstElement, elementCount */
export const INSTRUCTION_SLOTS = slot(GUAC_INSTRUCTION_BYTES);
/** valueStart, valueByteLength */
export const ELEMENT_SLOTS = slot(GUAC_ELEMENT_BYTES);

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
          if (digits === GUAC_MAX_LENGTH_DIGITS) {
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
      if (n > GUAC_MAX_ELEMENT_CODE_POINTS) {
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
      if (d === 0x2c && count === GUAC_MAX_ELEMENTS - 1) {
        status = GUAC_TOO_MANY_ELEMENTS;
        errorAt = q;
        break;
      }
      if (nE === maxElems) {
        status = GUAC_FULL;
        break;
      }
      elems[nE * ELEMENT_SLOTS] = vs - start;
      elems[nE * ELEMENT_SLOTS + 1] = q - vs;
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
