/**
 * The hot path as the rest of this repository sees it (channel, registry, benchmarks, tests): the public
 * API of ./index.ts plus internals that are not part of the package API. Code outside src/hotpath/
 * imports from here or from ./index.ts, so the feature folders can move without rippling.
 */

export { type Resolved, resetEnginesForTests, resolveEngine, wasmEngine } from './engine/dispatch.ts';
export { type HotpathExports, WasmEngine, type WasmEngineOptions } from './engine/loader.ts';
export type { WasmEngineName } from './engine/types.ts';
export { encodeFrameWith, writeFrameHeader } from './frames/encode.ts';
export { countCodePointsWith } from './guac/code-points.ts';
export * from './index.ts';
