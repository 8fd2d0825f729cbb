// Entry point of the hot-path Wasm modules (built twice: with and without SIMD).
export { encodeFrame, walkFrames } from './frames';
export { scanInstructions } from './guacamole';
export { countCodePoints, validateUtf8 } from './utf8';

/** First byte after the module's static data: JS allocates its regions from here. */
export function heapBase(): usize {
  return __heap_base;
}

/** 1 when built with SIMD. */
export function simd(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}
