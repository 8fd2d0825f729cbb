// Tube frame walk and encode: [conn_no u32 BE][timestamp u64 BE][length u32 BE][payload][';'].
// Raw pointers only; JS owns the memory. Status codes and the result layout: ./abi.ts.
import {
  FRAME_CORRUPT,
  FRAME_FULL,
  FRAME_HEADER_SIZE,
  FRAME_OK,
  FRAME_OVERHEAD,
  FRAME_R_CONSUMED,
  FRAME_R_FAIL_AT,
  FRAME_R_FAIL_BYTE,
  FRAME_R_FAIL_CONN,
  FRAME_R_FAIL_LENGTH,
  FRAME_R_STATUS,
  FRAME_RECORD_BYTES,
  FRAME_RESULT_HEADER_BYTES,
  FRAME_TERMINATOR,
  FRAME_TOO_LARGE,
} from './abi';

/** Walks the complete frames in [ptr, ptr+len); stops at the first incomplete one or when `maxRecords` are out. */
export function walkFrames(ptr: usize, len: usize, maxPayload: u32, out: usize, maxRecords: u32): i32 {
  const end = ptr + len;
  let p = ptr;
  let n: u32 = 0;
  let rec = out + FRAME_RESULT_HEADER_BYTES;
  let status = FRAME_OK;
  while (end - p >= FRAME_HEADER_SIZE) {
    const length = bswap<u32>(load<u32>(p, 12));
    if (length > maxPayload) {
      status = FRAME_TOO_LARGE;
      store<u32>(out, <u32>(p - ptr), FRAME_R_FAIL_AT);
      store<u32>(out, length, FRAME_R_FAIL_LENGTH);
      break;
    }
    const term = p + FRAME_HEADER_SIZE + <usize>length;
    if (term >= end) break;
    const connNo = bswap<u32>(load<u32>(p));
    const got = <u32>load<u8>(term);
    if (got != FRAME_TERMINATOR) {
      status = FRAME_CORRUPT;
      store<u32>(out, <u32>(term - ptr), FRAME_R_FAIL_AT);
      store<u32>(out, length, FRAME_R_FAIL_LENGTH);
      store<u32>(out, connNo, FRAME_R_FAIL_CONN);
      store<u32>(out, got, FRAME_R_FAIL_BYTE);
      break;
    }
    if (n == maxRecords) {
      status = FRAME_FULL;
      break;
    }
    store<u32>(rec, connNo);
    store<u32>(rec, <u32>(p + FRAME_HEADER_SIZE - ptr), 4);
    store<u32>(rec, length, 8);
    rec += FRAME_RECORD_BYTES;
    n++;
    p = term + 1;
  }
  store<u32>(out, n); // FRAME_R_COUNT
  store<u32>(out, <u32>(p - ptr), FRAME_R_CONSUMED);
  store<i32>(out, status, FRAME_R_STATUS);
  return status;
}

/** Encodes one frame at `out`; the timestamp crosses as f64 milliseconds (no BigInt). Returns bytes written. */
export function encodeFrame(out: usize, connNo: u32, timestampMs: f64, payload: usize, length: u32): u32 {
  store<u32>(out, bswap<u32>(connNo));
  store<u64>(out, bswap<u64>(<u64>timestampMs), 4);
  store<u32>(out, bswap<u32>(length), 12);
  memory.copy(out + FRAME_HEADER_SIZE, payload, length);
  store<u8>(out + FRAME_HEADER_SIZE + <usize>length, FRAME_TERMINATOR);
  return length + FRAME_OVERHEAD;
}
