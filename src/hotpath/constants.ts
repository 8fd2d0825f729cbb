/** Wire-format constants of the tube frame (see docs/HOTPATH.md). */

/** conn_no (u32) + timestamp_ms (u64) + length (u32), all big-endian. */
export const FRAME_HEADER_SIZE = 16;
/** Header plus the one-byte terminator. */
export const FRAME_OVERHEAD = 17;
/** The byte that must follow every payload: `;`. */
export const FRAME_TERMINATOR = 0x3b;
/** Largest payload a {@link FrameDecoder} accepts unless configured otherwise. */
export const DEFAULT_MAX_FRAME_PAYLOAD = 16 * 1024 * 1024;
/** Largest value a u32 length or connection number can hold. */
export const U32_MAX = 0xffff_ffff;

/** Guacamole limits (libguac uses 5 digits; we allow 7 for the larger element limit). */
export const GUAC_MAX_ELEMENTS = 128;
export const GUAC_MAX_LENGTH_DIGITS = 7;
export const GUAC_MAX_ELEMENT_CODE_POINTS = 8 * 1024 * 1024;
export const DEFAULT_MAX_INSTRUCTION_BYTES = 16 * 1024 * 1024;

export type EngineName = 'wasm-simd' | 'wasm' | 'js';
export type EngineChoice = 'auto' | EngineName;
