// UTF-8 helpers: code-point counting and strict validation (WHATWG / TextDecoder fatal semantics).
// With SIMD enabled (ASC_FEATURE_SIMD) 16-byte blocks are processed as v128; the same source builds
// the scalar module. No reads outside [p, p+len).

// 16-byte scratch for the final partial block (so SIMD never reads past the input).
const tailScratch: usize = memory.data(16, 16);

/** Number of non-continuation bytes (= code points of valid UTF-8). */
export function countCodePoints(p: usize, len: usize): u32 {
  const end = p + len;
  let cont: u32 = 0;
  if (ASC_FEATURE_SIMD) {
    const threshold = i8x16.splat(-64); // continuation bytes are 0x80..0xBF = -128..-65 as i8
    while (end - p >= 16) {
      let blocks = (end - p) >> 4;
      if (blocks > 255) blocks = 255; // u8 lane accumulators
      const stop = p + (blocks << 4);
      let acc = i8x16.splat(0);
      while (p < stop) {
        acc = i8x16.sub(acc, i8x16.lt_s(v128.load(p), threshold));
        p += 16;
      }
      const s32 = i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(acc));
      cont += <u32>(
        i32x4.extract_lane(s32, 0) +
        i32x4.extract_lane(s32, 1) +
        i32x4.extract_lane(s32, 2) +
        i32x4.extract_lane(s32, 3)
      );
    }
  }
  while (p < end) {
    cont += u32((<u32>load<u8>(p) & 0xc0) == 0x80);
    p++;
  }
  return <u32>len - cont;
}

/** Length in bytes of the valid UTF-8 sequence at p (1..4), or 0 if invalid, or -1 if truncated by `end`. */
// @ts-ignore: decorator
@inline export function sequenceAt(p: usize, end: usize): i32 {
  const b0 = <u32>load<u8>(p);
  if (b0 < 0x80) return 1;
  let need: usize = 0;
  let lo: u32 = 0x80;
  let hi: u32 = 0xbf;
  if (b0 < 0xc2) return 0;
  if (b0 < 0xe0) need = 1;
  else if (b0 < 0xf0) {
    need = 2;
    if (b0 == 0xe0) lo = 0xa0;
    else if (b0 == 0xed) hi = 0x9f;
  } else if (b0 < 0xf5) {
    need = 3;
    if (b0 == 0xf0) lo = 0x90;
    else if (b0 == 0xf4) hi = 0x8f;
  } else return 0;
  if (p + 1 >= end) return -1;
  const b1 = <u32>load<u8>(p, 1);
  if (b1 < lo || b1 > hi) return 0;
  for (let k: usize = 2; k <= need; k++) {
    if (p + k >= end) return -1;
    if ((<u32>load<u8>(p + k) & 0xc0) != 0x80) return 0;
  }
  return <i32>need + 1;
}

function validateScalar(p: usize, end: usize): bool {
  while (p < end) {
    const n = sequenceAt(p, end);
    if (n <= 0) return false;
    p += <usize>n;
  }
  return true;
}

// Keiser–Lemire "lookup" validation (as in simdjson / simdutf), ported to Wasm SIMD.
// Error bits: TOO_SHORT 1, TOO_LONG 2, OVERLONG_3 4, TOO_LARGE 8, SURROGATE 16, OVERLONG_2 32,
// TOO_LARGE_1000 / OVERLONG_4 64, TWO_CONTS 128.
// @ts-ignore: decorator
@inline function byte1High(): v128 {
  return i8x16(2, 2, 2, 2, 2, 2, 2, 2, -128, -128, -128, -128, 33, 1, 21, 73);
}
// @ts-ignore: decorator
@inline function byte1Low(): v128 {
  return i8x16(-25, -93, -125, -125, -117, -53, -53, -53, -53, -53, -53, -53, -53, -37, -53, -53);
}
// @ts-ignore: decorator
@inline function byte2High(): v128 {
  return i8x16(1, 1, 1, 1, 1, 1, 1, 1, -26, -82, -70, -70, 1, 1, 1, 1);
}
// @ts-ignore: decorator
@inline function highNibble(v: v128): v128 {
  return v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f));
}
// @ts-ignore: decorator
@inline function blockErrors(input: v128, prev: v128): v128 {
  const prev1 = i8x16.shuffle(prev, input, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30);
  const special = v128.and(
    v128.and(
      i8x16.swizzle(byte1High(), highNibble(prev1)),
      i8x16.swizzle(byte1Low(), v128.and(prev1, i8x16.splat(0x0f))),
    ),
    i8x16.swizzle(byte2High(), highNibble(input)),
  );
  const prev2 = i8x16.shuffle(prev, input, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29);
  const prev3 = i8x16.shuffle(prev, input, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28);
  const third = i8x16.sub_sat_u(prev2, i8x16.splat(0x60)); // >= 0xE0: third byte must be a continuation
  const fourth = i8x16.sub_sat_u(prev3, i8x16.splat(0x70)); // >= 0xF0: fourth byte must be a continuation
  const must23 = v128.and(v128.or(third, fourth), i8x16.splat(-128));
  return v128.xor(must23, special);
}
// Non-zero where the block ends inside a multi-byte sequence (lead in one of the last three lanes).
// @ts-ignore: decorator
@inline function endsIncomplete(v: v128): v128 {
  return i8x16.sub_sat_u(v, i8x16(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -17, -33, -65));
}

function validateSimd(p: usize, end: usize): bool {
  let prev = i8x16.splat(0);
  let pending = i8x16.splat(0); // "previous block ended inside a sequence"
  let error = i8x16.splat(0);
  while (end - p >= 64) {
    const a = v128.load(p);
    const b = v128.load(p, 16);
    const c = v128.load(p, 32);
    const d = v128.load(p, 48);
    if (i8x16.bitmask(v128.or(v128.or(a, b), v128.or(c, d))) == 0) {
      error = v128.or(error, pending);
      pending = i8x16.splat(0);
    } else {
      error = v128.or(error, blockErrors(a, prev));
      error = v128.or(error, blockErrors(b, a));
      error = v128.or(error, blockErrors(c, b));
      error = v128.or(error, blockErrors(d, c));
      pending = endsIncomplete(d);
    }
    prev = d;
    p += 64;
  }
  while (end - p >= 16) {
    const v = v128.load(p);
    if (i8x16.bitmask(v) == 0) {
      error = v128.or(error, pending);
      pending = i8x16.splat(0);
    } else {
      error = v128.or(error, blockErrors(v, prev));
      pending = endsIncomplete(v);
    }
    prev = v;
    p += 16;
  }
  if (p < end) {
    // zero padding is ASCII: a sequence truncated by `end` shows up as TOO_SHORT
    v128.store(tailScratch, i8x16.splat(0));
    memory.copy(tailScratch, p, end - p);
    const v = v128.load(tailScratch);
    error = v128.or(error, blockErrors(v, prev));
    pending = endsIncomplete(v);
  }
  error = v128.or(error, pending);
  return !v128.any_true(error);
}

/** True if [p, p+len) is well-formed UTF-8 (no overlongs, surrogates, values above U+10FFFF, truncation). */
export function validateUtf8(p: usize, len: usize): bool {
  if (ASC_FEATURE_SIMD) return validateSimd(p, p + len);
  return validateScalar(p, p + len);
}
