// The kernel ABI: status codes, result layouts and limits shared with the JS side.
// src/hotpath/engine/abi.ts mirrors this file name for name and value; test/hotpath-abi.test.ts reads
// both and fails when they differ. Change both together (and rebuild: `npm run build:wasm`).

// ---- tube frame wire format: [conn_no u32 BE][timestamp u64 BE][length u32 BE][payload][';']
export const FRAME_HEADER_SIZE: u32 = 16;
export const FRAME_OVERHEAD: u32 = 17;
export const FRAME_TERMINATOR: u32 = 0x3b;

// ---- walkFrames: status codes
export const FRAME_OK: i32 = 0;
export const FRAME_FULL: i32 = 1;
export const FRAME_CORRUPT: i32 = -1;
export const FRAME_TOO_LARGE: i32 = -2;

// walkFrames result at `out`: a header of u32 slots (byte offsets below), then records of 3 x u32
// (connNo, payloadOffset, payloadLength; offsets relative to ptr) from out + FRAME_RESULT_HEADER_BYTES.
export const FRAME_R_COUNT: u32 = 0;
export const FRAME_R_CONSUMED: u32 = 4;
export const FRAME_R_STATUS: u32 = 8;
export const FRAME_R_FAIL_AT: u32 = 12;
export const FRAME_R_FAIL_LENGTH: u32 = 16;
export const FRAME_R_FAIL_CONN: u32 = 20;
export const FRAME_R_FAIL_BYTE: u32 = 24;
export const FRAME_RESULT_HEADER_BYTES: u32 = 32;
export const FRAME_RECORD_BYTES: u32 = 12;

// ---- scanInstructions: status codes
export const GUAC_OK: i32 = 0;
export const GUAC_FULL: i32 = 1;
export const GUAC_MALFORMED: i32 = -1;
export const GUAC_INVALID_UTF8: i32 = -2;
export const GUAC_ELEMENT_TOO_LARGE: i32 = -3;
export const GUAC_TOO_MANY_ELEMENTS: i32 = -4;
export const GUAC_INSTRUCTION_TOO_LARGE: i32 = -5;

// scanInstructions result at `out`: a header of u32 slots (byte offsets below), then instruction records
// of 4 x u32 (start, end after ';', firstElement, elementCount) from out + GUAC_RESULT_HEADER_BYTES.
// Element records at `elemOut`, 2 x u32 (valueStart, valueByteLength). Offsets are relative to ptr.
// `hint` (last instruction incomplete): rescanning cannot progress before ptr + hint bytes exist.
export const GUAC_R_INSTRUCTIONS: u32 = 0;
export const GUAC_R_CONSUMED: u32 = 4;
export const GUAC_R_STATUS: u32 = 8;
export const GUAC_R_ELEMENTS: u32 = 12;
export const GUAC_R_HINT: u32 = 16;
export const GUAC_R_ERROR_AT: u32 = 20;
export const GUAC_RESULT_HEADER_BYTES: u32 = 32;
export const GUAC_INSTRUCTION_BYTES: u32 = 16;
export const GUAC_ELEMENT_BYTES: u32 = 8;

// ---- Guacamole limits (libguac uses 5 length digits; 7 allow the larger element limit)
export const GUAC_MAX_LENGTH_DIGITS: u32 = 7;
export const GUAC_MAX_ELEMENT_CODE_POINTS: u32 = 8 * 1024 * 1024;
export const GUAC_MAX_ELEMENTS: u32 = 128;
