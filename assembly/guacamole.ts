// Guacamole instruction scanner: `<len>.<opcode>(,<len>.<arg>)*;` where every <len> counts Unicode code
// points. Finds complete instructions in [ptr, ptr+len) and reports instruction and element boundaries.
//
// Two traversals with identical results on valid input:
//  - canonical: validates UTF-8 inline while skipping code points (the reference semantics, also used to
//    find the exact error whenever the fast traversal reports any problem);
//  - counting: skips code points by counting non-continuation bytes (SIMD when enabled); in strict mode
//    the scanned bytes are then validated in one pass, and any failure re-runs the canonical traversal.
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
  GUAC_R_STATUS,
  GUAC_RESULT_HEADER_BYTES,
  GUAC_TOO_MANY_ELEMENTS,
} from './abi';
import { sequenceAt, validateUtf8 } from './utf8';

const INCOMPLETE: usize = <usize>-1;
const INVALID: usize = <usize>-2;
let invalidAt: usize = 0;

/** Canonical skip of n code points with validation: new position, INCOMPLETE, or INVALID (invalidAt set). */
// @ts-ignore: decorator
@inline function skipValidating(p: usize, end: usize, n: u32): usize {
  while (n > 0) {
    if (p >= end) return INCOMPLETE;
    const s = sequenceAt(p, end);
    if (s <= 0) {
      if (s < 0) return INCOMPLETE;
      invalidAt = p;
      return INVALID;
    }
    p += <usize>s;
    n--;
  }
  return p;
}

/** Position of the (n+1)-th non-continuation byte at or after p, or INCOMPLETE. */
// @ts-ignore: decorator
@inline function skipCounting(p: usize, end: usize, n: u32): usize {
  if (ASC_FEATURE_SIMD && n >= 16) {
    const threshold = i8x16.splat(-64);
    // 256 bytes hold at most 256 code points: while at least that many are owed, sum the continuation
    // bytes of 16 blocks in u8 lanes (at most 16 per lane) and subtract the leads in one step
    while (n >= 256 && end - p >= 256) {
      let acc = i8x16.splat(0);
      for (let k: usize = 0; k < 256; k += 16) {
        acc = i8x16.sub(acc, i8x16.lt_s(v128.load(p + k), threshold));
      }
      const s32 = i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(acc));
      const cont = <u32>(
        i32x4.extract_lane(s32, 0) +
        i32x4.extract_lane(s32, 1) +
        i32x4.extract_lane(s32, 2) +
        i32x4.extract_lane(s32, 3)
      );
      n -= 256 - cont;
      p += 256;
    }
    while (n >= 64 && end - p >= 64) {
      const a = v128.load(p);
      const b = v128.load(p, 16);
      const c = v128.load(p, 32);
      const d = v128.load(p, 48);
      if (i8x16.bitmask(v128.or(v128.or(a, b), v128.or(c, d))) == 0) {
        n -= 64;
      } else {
        const cont =
          popcnt<u32>(i8x16.bitmask(i8x16.lt_s(a, threshold))) +
          popcnt<u32>(i8x16.bitmask(i8x16.lt_s(b, threshold))) +
          popcnt<u32>(i8x16.bitmask(i8x16.lt_s(c, threshold))) +
          popcnt<u32>(i8x16.bitmask(i8x16.lt_s(d, threshold)));
        n -= 64 - cont; // at most 64 leads, and n >= 64: never underflows
      }
      p += 64;
    }
    while (end - p >= 16) {
      const leads = ~i8x16.bitmask(i8x16.lt_s(v128.load(p), threshold)) & 0xffff;
      const c = popcnt<u32>(leads);
      if (c > n) {
        let m = leads;
        for (let i: u32 = 0; i < n; i++) m &= m - 1; // drop the n lowest leads
        return p + <usize>ctz<u32>(m);
      }
      n -= c;
      p += 16;
    }
  }
  while (p < end) {
    if ((<u32>load<u8>(p) & 0xc0) != 0x80) {
      if (n == 0) return p;
      n--;
    }
    p++;
  }
  return INCOMPLETE;
}

let errorAt: usize = 0;
let hint: usize = 0;

// @ts-ignore: decorator
@inline function traverse(
  ptr: usize,
  len: usize,
  out: usize,
  maxInstr: u32,
  elemOut: usize,
  maxElems: u32,
  maxBytes: u32,
  validating: bool,
): i32 {
  const end = ptr + len;
  let p = ptr;
  let nI: u32 = 0;
  let nE: u32 = 0;
  let status: i32 = GUAC_OK;
  let rec = out + GUAC_RESULT_HEADER_BYTES;
  hint = 0;
  errorAt = 0;
  while (true) {
    if (nI == maxInstr) {
      status = GUAC_FULL;
      break;
    }
    let q = p;
    let elems: u32 = 0;
    const firstElem = nE;
    let incomplete = false;
    while (true) {
      // length prefix
      let n: u32 = 0;
      let digits: u32 = 0;
      const lenStart = q;
      while (true) {
        if (q >= end) {
          incomplete = true;
          hint = end + 1;
          break;
        }
        const c = <u32>load<u8>(q) - 48;
        if (c < 10) {
          if (digits == GUAC_MAX_LENGTH_DIGITS) {
            status = GUAC_ELEMENT_TOO_LARGE;
            errorAt = q;
            break;
          }
          n = n * 10 + c;
          digits++;
          q++;
        } else if (c == <u32>(46 - 48) && digits > 0) {
          q++;
          break;
        } else {
          status = GUAC_MALFORMED;
          errorAt = q;
          break;
        }
      }
      if (incomplete || status != GUAC_OK) break;
      if (n > GUAC_MAX_ELEMENT_CODE_POINTS) {
        status = GUAC_ELEMENT_TOO_LARGE;
        errorAt = lenStart;
        break;
      }
      const vs = q;
      if (<u64>(vs - p) + <u64>n + 1 > <u64>maxBytes) {
        status = GUAC_INSTRUCTION_TOO_LARGE;
        errorAt = p;
        break;
      }
      q = validating ? skipValidating(q, end, n) : skipCounting(q, end, n);
      if (q == INCOMPLETE) {
        incomplete = true;
        const need = vs + <usize>n + 1;
        hint = need > end + 1 ? need : end + 1;
        break;
      }
      if (q == INVALID) {
        status = GUAC_INVALID_UTF8;
        errorAt = invalidAt;
        break;
      }
      if (q >= end) {
        incomplete = true;
        hint = end + 1;
        break;
      }
      const d = <u32>load<u8>(q);
      if (d != 0x3b && d != 0x2c) {
        status = GUAC_MALFORMED;
        errorAt = q;
        break;
      }
      if (d == 0x2c && elems == GUAC_MAX_ELEMENTS - 1) {
        status = GUAC_TOO_MANY_ELEMENTS;
        errorAt = q;
        break;
      }
      if (nE == maxElems) {
        status = GUAC_FULL;
        break;
      }
      const er = elemOut + <usize>nE * GUAC_ELEMENT_BYTES;
      store<u32>(er, <u32>(vs - ptr));
      store<u32>(er, <u32>(q - vs), 4);
      nE++;
      elems++;
      q++;
      if (d == 0x3b) break;
    }
    if (incomplete) {
      nE = firstElem;
      if (<u64>(end - p) >= <u64>maxBytes) {
        status = GUAC_INSTRUCTION_TOO_LARGE;
        errorAt = p;
      }
      break;
    }
    if (status != GUAC_OK) {
      nE = firstElem;
      break;
    }
    if (<u64>(q - p) > <u64>maxBytes) {
      nE = firstElem;
      status = GUAC_INSTRUCTION_TOO_LARGE;
      errorAt = p;
      break;
    }
    store<u32>(rec, <u32>(p - ptr));
    store<u32>(rec, <u32>(q - ptr), 4);
    store<u32>(rec, firstElem, 8);
    store<u32>(rec, elems, 12);
    rec += GUAC_INSTRUCTION_BYTES;
    nI++;
    p = q;
  }
  store<u32>(out, nI); // GUAC_R_INSTRUCTIONS
  store<u32>(out, <u32>(p - ptr), GUAC_R_CONSUMED);
  store<i32>(out, status, GUAC_R_STATUS);
  store<u32>(out, nE, GUAC_R_ELEMENTS);
  store<u32>(out, hint == 0 ? 0 : <u32>(hint - ptr), GUAC_R_HINT);
  store<u32>(out, status < 0 ? <u32>(errorAt - ptr) : 0, GUAC_R_ERROR_AT);
  return status;
}

/** Start of a trailing sequence truncated by `end` whose bytes are valid so far; `end` if there is none. */
function trailingPartial(start: usize, end: usize): usize {
  let q = end;
  let k = 0;
  while (q > start && k < 3) {
    q--;
    k++;
    if ((<u32>load<u8>(q) & 0xc0) != 0x80) {
      return sequenceAt(q, end) < 0 ? q : end;
    }
  }
  return end;
}

/**
 * Scans [ptr, ptr+len) for complete instructions (at most maxInstr instructions and maxElems elements,
 * maxElems >= 128). strict: reject invalid UTF-8; otherwise code points are counted as non-continuation
 * bytes without validation. Returns the status (also stored in the header).
 */
export function scanInstructions(
  ptr: usize,
  len: usize,
  out: usize,
  maxInstr: u32,
  elemOut: usize,
  maxElems: u32,
  maxBytes: u32,
  strict: bool,
): i32 {
  if (!strict) return traverse(ptr, len, out, maxInstr, elemOut, maxElems, maxBytes, false);
  if (!ASC_FEATURE_SIMD) return traverse(ptr, len, out, maxInstr, elemOut, maxElems, maxBytes, true);
  const status = traverse(ptr, len, out, maxInstr, elemOut, maxElems, maxBytes, false);
  if (status >= 0) {
    const consumed = <usize>load<u32>(out, GUAC_R_CONSUMED);
    const checkEnd = status == GUAC_FULL ? ptr + consumed : trailingPartial(ptr + consumed, ptr + len);
    if (validateUtf8(ptr, checkEnd - ptr)) return status;
  }
  return traverse(ptr, len, out, maxInstr, elemOut, maxElems, maxBytes, true);
}

