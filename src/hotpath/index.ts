/**
 * `webrtc-tubes/hotpath`: the frame codec and Guacamole scanner, in JS and AssemblyScript (Wasm and Wasm
 * SIMD) engines with identical results. See docs/HOTPATH.md. Code of this repository outside
 * src/hotpath/ imports from here or from ./internal.ts, never from the feature folders.
 */

export { FRAME_HEADER_SIZE, FRAME_OVERHEAD, FRAME_TERMINATOR } from './engine/abi.ts';
export { AUTO_THRESHOLDS } from './engine/auto.ts';
export { type EngineInfo, engine, engineInfo } from './engine/dispatch.ts';
export type { EngineChoice, EngineName } from './engine/types.ts';
export { type Frame, FrameDecoder, type FrameDecoderOptions } from './frames/decoder.ts';
export { encodeFrame, encodeFrameInto } from './frames/encode.ts';
export type { FrameHandler, FrameSpanHandler } from './frames/walker.ts';
export { GuacamoleBatch } from './guac/batch.ts';
export { countCodePoints } from './guac/code-points.ts';
export { encodeInstruction, encodeInstructionBytes, stringCodePoints } from './guac/encode.ts';
export { GuacamoleScanner, type GuacamoleScannerOptions } from './guac/scanner.ts';
export { DEFAULT_MAX_FRAME_PAYLOAD } from './limits.ts';
