/**
 * The limits of the JS API, declared once. The limits the Wasm kernels enforce themselves (Guacamole
 * digits, element length, element count) are part of the kernel ABI: engine/abi.ts.
 */

/** Largest value a u32 length or connection number can hold. */
export const U32_MAX = 0xffff_ffff;
/** Largest payload a FrameDecoder accepts unless configured otherwise. */
export const DEFAULT_MAX_FRAME_PAYLOAD = 16 * 1024 * 1024;
/** Largest instruction a GuacamoleScanner accepts unless configured otherwise. */
export const DEFAULT_MAX_INSTRUCTION_BYTES = 16 * 1024 * 1024;
/** Bounds of `maxInstructionBytes` (the smallest instruction is `0.;`; offsets stay below 2^31). */
export const MIN_INSTRUCTION_BYTES = 3;
export const MAX_INSTRUCTION_BYTES = 0x7fff_ffff;
