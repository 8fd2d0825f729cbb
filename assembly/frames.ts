// Tube frame walk: [conn_no u32 BE][timestamp u64 BE][length u32 BE][payload][';'].
// Raw pointers only; JS owns the memory layout.

export const FRAME_OK: i32 = 0;
export const FRAME_FULL: i32 = 1;
export const FRAME_CORRUPT: i32 = -1;
export const FRAME_TOO_LARGE: i32 = -2;

// Result header (u32 slots at `out`): count, consumed, status, failAt, failLength, failConn, failByte, -.
// Records follow at out + 32, 3 x u32 each: connNo, payloadOffset, payloadLength (offsets relative to ptr).
export const FRAME_HEADER_BYTES: u32 = 32;
export const FRAME_RECORD_BYTES: u32 = 12;

/** Walks the complete frames in [ptr, ptr+len); stops at the first incomplete one or when `maxRecords` are out. */
export function walkFrames(ptr: usize, len: usize, maxPayload: u32, out: usize, maxRecords: u32): i32 {
  const end = ptr + len;
  let p = ptr;
  let n: u32 = 0;
  let rec = out + FRAME_HEADER_BYTES;
  let status = FRAME_OK;
  while (end - p >= 16) {
    const length = bswap<u32>(load<u32>(p, 12));
    if (length > maxPayload) {
      status = FRAME_TOO_LARGE;
      store<u32>(out, <u32>(p - ptr), 12);
      store<u32>(out, length, 16);
      break;
    }
    const term = p + 16 + <usize>length;
    if (term >= end) break;
    const connNo = bswap<u32>(load<u32>(p));
    const got = <u32>load<u8>(term);
    if (got != 0x3b) {
      status = FRAME_CORRUPT;
      store<u32>(out, <u32>(term - ptr), 12);
      store<u32>(out, length, 16);
      store<u32>(out, connNo, 20);
      store<u32>(out, got, 24);
      break;
    }
    if (n == maxRecords) {
      status = FRAME_FULL;
      break;
    }
    store<u32>(rec, connNo);
    store<u32>(rec, <u32>(p + 16 - ptr), 4);
    store<u32>(rec, length, 8);
    rec += FRAME_RECORD_BYTES;
    n++;
    p = term + 1;
  }
  store<u32>(out, n);
  store<u32>(out, <u32>(p - ptr), 4);
  store<i32>(out, status, 8);
  return status;
}

/** Encodes one frame at `out`; the timestamp crosses as f64 milliseconds (no BigInt). Returns bytes written. */
export function encodeFrame(out: usize, connNo: u32, timestampMs: f64, payload: usize, length: u32): u32 {
  store<u32>(out, bswap<u32>(connNo));
  store<u64>(out, bswap<u64>(<u64>timestampMs), 4);
  store<u32>(out, bswap<u32>(length), 12);
  memory.copy(out + 16, payload, length);
  store<u8>(out + 16 + <usize>length, 0x3b);
  return length + 17;
}
