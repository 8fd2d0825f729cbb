/**
 * `webrtc-tubes/hotpath`: the frame codec and Guacamole scanner, in JS and AssemblyScript (Wasm and Wasm
 * SIMD) engines with identical results. See docs/HOTPATH.md.
 */
export {
  DEFAULT_MAX_FRAME_PAYLOAD,
  type EngineChoice,
  type EngineName,
  FRAME_HEADER_SIZE,
  FRAME_OVERHEAD,
  FRAME_TERMINATOR,
} from './constants.ts';
export {
  AUTO_THRESHOLDS,
  countCodePoints,
  type EngineInfo,
  encodeFrame,
  engine,
  engineInfo,
} from './dispatch.ts';
export { encodeFrameInto } from './frame-codec.ts';
export {
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
  type FrameHandler,
  type FrameSpanHandler,
} from './frame-decoder.ts';
export { encodeInstruction, encodeInstructionBytes, stringCodePoints } from './guac-encode.ts';
export { GuacamoleBatch, GuacamoleScanner, type GuacamoleScannerOptions } from './guacamole.ts';
