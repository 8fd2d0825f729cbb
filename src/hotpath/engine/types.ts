/** Engine names: what runs (`EngineName`) and what a caller may ask for (`EngineChoice`). */
export type EngineName = 'wasm-simd' | 'wasm' | 'js';
export type EngineChoice = 'auto' | EngineName;
export type WasmEngineName = 'wasm-simd' | 'wasm';
