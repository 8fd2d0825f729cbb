/** UTF-8 helpers of the JS engine (code-point counting, sequence checks), same semantics as assembly/utf8.ts. */

/** Number of Unicode code points in UTF-8 bytes (counts non-continuation bytes; assumes valid UTF-8). */
export function countCodePointsJs(b: Uint8Array, start = 0, end = b.length): number {
  let cont = 0;
  for (let i = start; i < end; i++) cont += (b[i]! & 0xc0) === 0x80 ? 1 : 0;
  return end - start - cont;
}

/** Length of the valid UTF-8 sequence at p (1..4), 0 if invalid, -1 if truncated by `end`. */
export function sequenceAt(b: Uint8Array, p: number, end: number): number {
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
