/**
 * Instantiates the embedded AssemblyScript modules (./wasm-bytes.ts) over an imported
 * `WebAssembly.Memory` and manages that memory: a small size-class allocator for per-object regions,
 * a scratch region for synchronous calls, and cached typed-array views refreshed after every grow.
 *
 * A plain `WebAssembly.Instance`: the modules import only `env.memory` (built with `--runtime stub` and
 * `--noAssert`, so no `env.abort`) and every export takes and returns numbers, so a loader library would
 * add nothing.
 */

import { ErrorCode, TubesError } from '../../errors.ts';
import { bytesFromBase64 } from '../../platform/bytes.ts';
import type { WasmEngineName } from './types.ts';
import { WASM_MEMORY, WASM_SCALAR, WASM_SIMD } from './wasm-bytes.ts';

/** Raw exports of assembly/index.ts (pointers are byte offsets into the memory). */
export interface HotpathExports {
  walkFrames(ptr: number, len: number, maxPayload: number, out: number, maxRecords: number): number;
  encodeFrame(out: number, connNo: number, timestampMs: number, payload: number, length: number): number;
  scanInstructions(
    ptr: number,
    len: number,
    out: number,
    maxInstr: number,
    elemOut: number,
    maxElems: number,
    maxBytes: number,
    strict: number,
  ): number;
  countCodePoints(ptr: number, len: number): number;
  validateUtf8(ptr: number, len: number): number;
  heapBase(): number;
  simd(): number;
}

const PAGE = 65536;
const MIN_BLOCK = 64;
/** SIMD loads are 16 bytes wide; regions are 16-byte aligned (the kernels never read past their input). */
const ALIGN = 16;

export interface WasmEngineOptions {
  /**
   * Module bytes to instantiate instead of the embedded build of `name` (the benchmark compiles a
   * non-shared-memory build on demand); they must import a memory of the kind `shared` says.
   */
  module?: Uint8Array;
  /** Use a shared memory (default, needed for zero-copy socket reads shared across workers). */
  shared?: boolean;
}

export class WasmEngine {
  readonly name: WasmEngineName;
  readonly shared: boolean;
  readonly memory: WebAssembly.Memory;
  readonly x: HotpathExports;
  /** Whole-memory views; replaced after every grow (read the property each time, don't keep it). */
  u8: Uint8Array;
  u32: Uint32Array;
  #top: number;
  readonly #free = new Map<number, number[]>();
  #scratchPtr = 0;
  #scratchSize = 0;

  constructor(name: WasmEngineName, options: WasmEngineOptions = {}) {
    this.name = name;
    this.shared = options.shared ?? true;
    if (options.module === undefined && !this.shared) {
      throw new TubesError(
        ErrorCode.HOTPATH_UNAVAILABLE,
        'the embedded Wasm modules are built for shared memory only',
      );
    }
    const bytes = options.module ?? bytesFromBase64(name === 'wasm' ? WASM_SCALAR : WASM_SIMD);
    this.memory = new WebAssembly.Memory({
      initial: WASM_MEMORY.initial,
      maximum: WASM_MEMORY.maximum,
      shared: this.shared,
    });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      env: { memory: this.memory },
    });
    this.x = instance.exports as unknown as HotpathExports;
    this.#top = align(this.x.heapBase(), MIN_BLOCK);
    this.u8 = new Uint8Array(this.memory.buffer);
    this.u32 = new Uint32Array(this.memory.buffer);
  }

  /** Allocates a zero-or-garbage region of at least `bytes` (rounded up to a power of two); returns its offset. */
  alloc(bytes: number): number {
    const size = blockSize(bytes);
    const list = this.#free.get(size);
    const reused = list?.pop();
    if (reused !== undefined) return reused;
    const ptr = this.#top;
    const top = ptr + size;
    if (top > this.u8.length) this.#grow(top);
    this.#top = top;
    return ptr;
  }

  /** Returns a region obtained from alloc(bytes). */
  free(ptr: number, bytes: number): void {
    const size = blockSize(bytes);
    let list = this.#free.get(size);
    if (list === undefined) {
      list = [];
      this.#free.set(size, list);
    }
    list.push(ptr);
  }

  /** A region of at least `bytes` for a synchronous call; invalidated by the next scratch() call. */
  scratch(bytes: number): number {
    if (bytes > this.#scratchSize) {
      if (this.#scratchSize > 0) this.free(this.#scratchPtr, this.#scratchSize);
      this.#scratchSize = blockSize(Math.max(bytes, 64 * 1024));
      this.#scratchPtr = this.alloc(this.#scratchSize);
    }
    return this.#scratchPtr;
  }

  #grow(top: number): void {
    const have = this.memory.buffer.byteLength;
    // grow geometrically so repeated allocations do not grow page by page
    const want = Math.max(top, Math.min(have * 2, WASM_MEMORY.maximum * PAGE));
    const pages = Math.ceil((want - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (cause) {
      throw new TubesError(
        ErrorCode.OVERLOADED,
        `Wasm memory exhausted: cannot grow to ${want} bytes (maximum ${WASM_MEMORY.maximum * PAGE})`,
        { cause },
      );
    }
    this.u8 = new Uint8Array(this.memory.buffer);
    this.u32 = new Uint32Array(this.memory.buffer);
  }
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function blockSize(bytes: number): number {
  let size = MIN_BLOCK;
  while (size < bytes) size *= 2;
  return Math.max(size, ALIGN);
}

/** Loads an engine, or returns the reason it is unavailable. */
export function tryLoad(name: WasmEngineName, options?: WasmEngineOptions): WasmEngine | Error {
  try {
    const engine = new WasmEngine(name, options);
    if ((engine.x.simd() === 1) !== (name === 'wasm-simd')) {
      return new Error(`module ${name} reports simd=${engine.x.simd()}`);
    }
    return engine;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
