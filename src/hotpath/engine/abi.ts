/**
 * The kernel ABI seen from JS: status codes, result layouts and limits. This module mirrors
 * assembly/abi.ts name for name and value for value (test/unit/hotpath-abi.test.ts reads both and fails when
 * they differ); the JS reference kernels use the same codes and layouts, so every engine's results are
 * read by the same code. Layout offsets are in bytes, as in assembly/; `slot()` turns one into a
 * Uint32Array index.
 */

// ---- tube frame wire format: [conn_no u32 BE][timestamp u64 BE][length u32 BE][payload][';']
/** conn_no (u32) + timestamp_ms (u64) + length (u32), all big-endian. */
export const FRAME_HEADER_SIZE = 16;
/** Header plus the one-byte terminator. */
export const FRAME_OVERHEAD = 17;
/** The byte that must follow every payload: `;`. */
export const FRAME_TERMINATOR = 0x3b;

// ---- walkFrames: status codes
export const FRAME_OK = 0;
export const FRAME_FULL = 1;
export const FRAME_CORRUPT = -1;
export const FRAME_TOO_LARGE = -2;

// walkFrames result: header fields (byte offsets), then records of 3 x u32 (connNo, payloadOffset,
// payloadLength) from FRAME_RESULT_HEADER_BYTES
export const FRAME_R_COUNT = 0;
export const FRAME_R_CONSUMED = 4;
export const FRAME_R_STATUS = 8;
export const FRAME_R_FAIL_AT = 12;
export const FRAME_R_FAIL_LENGTH = 16;
export const FRAME_R_FAIL_CONN = 20;
export const FRAME_R_FAIL_BYTE = 24;
export const FRAME_RESULT_HEADER_BYTES = 32;
export const FRAME_RECORD_BYTES = 12;

// ---- scanInstructions: status codes
export const GUAC_OK = 0;
export const GUAC_FULL = 1;
export const GUAC_MALFORMED = -1;
export const GUAC_INVALID_UTF8 = -2;
export const GUAC_ELEMENT_TOO_LARGE = -3;
export const GUAC_TOO_MANY_ELEMENTS = -4;
export const GUAC_INSTRUCTION_TOO_LARGE = -5;

// scanInstructions result: header fields (byte offsets), then instruction records of 4 x u32 (start, end
// after ';', firstElement, elementCount) from GUAC_RESULT_HEADER_BYTES; element records of 2 x u32
// (valueStart, valueByteLength) in their own region. `hint`: no rescan can progress before that many bytes.
export const GUAC_R_INSTRUCTIONS = 0;
export const GUAC_R_CONSUMED = 4;
export const GUAC_R_STATUS = 8;
export const GUAC_R_ELEMENTS = 12;
export const GUAC_R_HINT = 16;
export const GUAC_R_ERROR_AT = 20;
export const GUAC_RESULT_HEADER_BYTES = 32;
export const GUAC_INSTRUCTION_BYTES = 16;
export const GUAC_ELEMENT_BYTES = 8;

// ---- Guacamole limits (libguac uses 5 length digits; 7 allow the larger element limit)
export const GUAC_MAX_LENGTH_DIGITS = 7;
export const GUAC_MAX_ELEMENT_CODE_POINTS = 8 * 1024 * 1024;
export const GUAC_MAX_ELEMENTS = 128;

/** A byte offset or size of the layouts above as a count of u32 slots. */
export const slot = (bytes: number): number => bytes >>> 2;
