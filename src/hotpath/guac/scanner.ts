/**
 * Streaming Guacamole instruction scanner (`<len>.<opcode>(,<len>.<arg>)*;`, lengths in code points):
 * buffering, engine routing (engine/auto.ts) and the Wasm kernel calls; the JS kernel is ./scan-js.ts.
 */

import { ErrorCode, TubesError } from '../../errors.ts';
import { allocBytes, isUtf8 } from '../../platform/bytes.ts';
import { GUAC_FULL, GUAC_MAX_ELEMENTS } from '../engine/abi.ts';
import { guacBufferedInJs, guacPendingInJs, guacPushInJs } from '../engine/auto.ts';
import { resolveEngine } from '../engine/dispatch.ts';
import type { WasmEngine } from '../engine/loader.ts';
import type { EngineChoice, EngineName } from '../engine/types.ts';
import { DEFAULT_MAX_INSTRUCTION_BYTES, MAX_INSTRUCTION_BYTES, MIN_INSTRUCTION_BYTES } from '../limits.ts';
import { GuacamoleBatch } from './batch.ts';
import { scanError } from './scan-error.ts';
import {
  ELEMENT_SLOTS,
  H_CONSUMED,
  H_ELEMENTS,
  H_ERROR_AT,
  H_HINT,
  H_INSTRUCTIONS,
  HEADER_SLOTS,
  INSTRUCTION_SLOTS,
  scanInstructionsJs,
} from './scan-js.ts';
import { trailingPartial } from './utf8.ts';

export interface GuacamoleScannerOptions {
  /** Engine; default `auto` (or env TUBES_HOTPATH). */
  engine?: EngineChoice;
  /** Reject invalid UTF-8 (default true). When false, code points are counted as non-continuation bytes. */
  strict?: boolean;
  /** Largest accepted instruction in bytes (default 16 MiB); a longer one is a TUBES_ERR_GUAC_TOO_LARGE. */
  maxInstructionBytes?: number;
}

const EMPTY = new Uint8Array(0);
const INITIAL_DATA_BYTES = 4096;
const DEFAULT_RESERVE_BYTES = 64 * 1024;
const INITIAL_INSTRUCTIONS = 32;
/** Element capacity: one instruction of 128 elements always fits. */
const INITIAL_ELEMENTS = 2 * GUAC_MAX_ELEMENTS;

interface WasmRegions {
  e: WasmEngine;
  data: number;
  dataSize: number;
  out: number;
  outSize: number;
  elems: number;
  elemsSize: number;
}

const regionRegistry = new FinalizationRegistry<WasmRegions>((r) => freeRegions(r));

function freeRegions(r: WasmRegions): void {
  if (r.dataSize > 0) r.e.free(r.data, r.dataSize);
  if (r.outSize > 0) r.e.free(r.out, r.outSize);
  if (r.elemsSize > 0) r.e.free(r.elems, r.elemsSize);
  r.dataSize = r.outSize = r.elemsSize = 0;
}

/**
 * Finds complete Guacamole instructions in UTF-8 bytes arriving in arbitrary chunks (split anywhere, also
 * inside a multi-byte character). Validates every element's declared code-point length, UTF-8 (strict
 * mode), digits (at most 7), element count (at most 128), element length (at most 8 Mi code points) and
 * instruction size; a violation is reported once as a `TubesError` (TUBES_ERR_GUAC_MALFORMED,
 * TUBES_ERR_GUAC_INVALID_UTF8, TUBES_ERR_GUAC_TOO_LARGE) and the scanner stays failed until reset().
 *
 * Bytes can be pushed (`push(chunk)`, copied only when an instruction spans chunks or the Wasm engine
 * scans), or written straight into the scanner's buffer: `reserve(n)` returns a writable view (inside Wasm
 * memory for the Wasm engines, e.g. for `net.Socket` `onread.buffer`), then `commit(bytesWritten)`.
 */
export class GuacamoleScanner {
  readonly #strict: boolean;
  readonly #maxBytes: number;
  readonly #auto: boolean;
  readonly #wasm: WasmEngine | undefined;
  readonly #regions: WasmRegions | undefined;
  readonly #batch = new GuacamoleBatch();
  /** JS storage (no Wasm engine, or auto holding a JS-routed tail): the buffer, data in [#start, #end). */
  #buf: Uint8Array = EMPTY;
  /** Auto with a Wasm engine: the buffered bytes live in #buf (JS memory) instead of the Wasm region. */
  #jsHeld = false;
  #start = 0;
  #end = 0;
  /** No rescan can progress before this many bytes are buffered (from #start). */
  #need = 0;
  /** Stream offset of #start (for error messages). */
  #streamPos = 0;
  #failure: TubesError | undefined;
  /** JS kernel result arrays (grown on demand). */
  #jsOut = new Uint32Array(HEADER_SLOTS + INITIAL_INSTRUCTIONS * INSTRUCTION_SLOTS);
  #jsElems = new Uint32Array(INITIAL_ELEMENTS * ELEMENT_SLOTS);

  constructor(options: GuacamoleScannerOptions = {}) {
    this.#strict = options.strict ?? true;
    const max = options.maxInstructionBytes ?? DEFAULT_MAX_INSTRUCTION_BYTES;
    if (!Number.isInteger(max) || max < MIN_INSTRUCTION_BYTES || max > MAX_INSTRUCTION_BYTES) {
      throw new TubesError(
        ErrorCode.BAD_ARGUMENT,
        `maxInstructionBytes must be an integer in ${MIN_INSTRUCTION_BYTES}..2^31-1, got ${max}`,
      );
    }
    this.#maxBytes = max;
    const { auto, wasm } = resolveEngine(options.engine);
    this.#auto = auto;
    this.#wasm = wasm;
    if (wasm !== undefined) {
      // regions are allocated on first use (many scanners may exist; most stay small)
      this.#regions = { e: wasm, data: 0, dataSize: 0, out: 0, outSize: 0, elems: 0, elemsSize: 0 };
      regionRegistry.register(this, this.#regions, this);
    }
  }

  /** Engine holding the buffer and scanning large inputs. */
  get engine(): EngineName {
    return this.#wasm?.name ?? 'js';
  }

  /** Bytes of an incomplete instruction held for the next push. */
  get bufferedBytes(): number {
    return this.#end - this.#start;
  }

  /** The error that stopped this scanner, if any. */
  get failure(): TubesError | undefined {
    return this.#failure;
  }

  /** Forgets buffered bytes and a failure. */
  reset(): void {
    this.#start = this.#end = 0;
    this.#need = 0;
    this.#streamPos = 0;
    this.#failure = undefined;
    this.#jsHeld = false;
  }

  /** Returns Wasm memory now instead of at garbage collection. The scanner must not be used afterwards. */
  dispose(): void {
    if (this.#regions !== undefined) {
      regionRegistry.unregister(this);
      freeRegions(this.#regions);
    }
    this.#buf = EMPTY;
  }

  /** Scans `chunk` (after any buffered incomplete instruction). */
  push(chunk: Uint8Array): GuacamoleBatch {
    if (this.#failure !== undefined) return this.#failed();
    const n = chunk.length;
    const buffered = this.#end !== this.#start;
    if (buffered && this.#regions !== undefined && this.#auto) {
      // auto with a tail buffered: continue in JS memory when the pending instruction looks like base64
      // display data (a 64 KiB read almost always starts inside the instruction the last read left over)
      const toJs = this.#pendingScansInJs();
      if (toJs !== this.#jsHeld) this.#move(toJs);
      if (toJs) {
        this.#ensure(n);
        this.#buf.set(chunk, this.#end);
        this.#end += n;
        return this.#scanBuffered(); // JS over #buf (respects the bytes-needed hint like every engine)
      }
    }
    if (!buffered && this.#pushScansInJs(chunk)) {
      // nothing buffered: scan the caller's chunk in place and keep only the incomplete tail
      this.#start = this.#end = 0;
      this.#jsHeld = this.#regions !== undefined; // an auto tail stays in JS memory
      const batch = this.#scanJs(chunk, 0, n);
      this.#start = this.#end = 0;
      if (this.#failure === undefined) {
        const rest = n - batch.byteLength;
        if (rest > 0) {
          this.#ensure(rest);
          this.#storage().set(chunk.subarray(batch.byteLength), this.#base() + this.#end);
          this.#end += rest;
        }
      }
      return batch;
    }
    if (!buffered) this.#jsHeld = false; // Wasm route: the bytes go to the Wasm region
    this.#ensure(n);
    this.#storage().set(chunk, this.#base() + this.#end);
    this.#end += n;
    return this.#scanBuffered();
  }

  /**
   * A writable view of at least `minBytes` where the next bytes should land (inside Wasm memory for the
   * Wasm engines); pass the number written to commit(). Invalidates the previous batch.
   */
  reserve(minBytes = DEFAULT_RESERVE_BYTES): Uint8Array {
    if (this.#jsHeld) this.#move(false);
    this.#ensure(minBytes);
    const base = this.#base();
    return this.#storage().subarray(base + this.#end, base + this.#capacity());
  }

  /** Scans the `bytesWritten` bytes written into the last reserve() view. */
  commit(bytesWritten: number): GuacamoleBatch {
    if (!Number.isInteger(bytesWritten) || bytesWritten < 0 || this.#end + bytesWritten > this.#capacity()) {
      throw new TubesError(ErrorCode.BAD_ARGUMENT, `commit(${bytesWritten}) exceeds the reserved space`);
    }
    if (this.#failure !== undefined) return this.#failed();
    this.#end += bytesWritten;
    return this.#scanBuffered();
  }

  /** Nothing buffered: scan `chunk` in place in JS (no Wasm engine, or auto's push probe says so). */
  #pushScansInJs(chunk: Uint8Array): boolean {
    if (this.#wasm === undefined) return true;
    return this.#auto && guacPushInJs(chunk);
  }

  /** Auto, tail buffered: continue in JS memory? Undecided by the probe: where the tail is now. */
  #pendingScansInJs(): boolean {
    const base = this.#base();
    return guacPendingInJs(this.#storage(), base + this.#start, base + this.#end) ?? this.#jsHeld;
  }

  /** Auto: moves the buffered bytes between JS memory and the Wasm region. */
  #move(toJs: boolean): void {
    const from = this.#storage().subarray(this.#base() + this.#start, this.#base() + this.#end);
    const used = from.length;
    const saved = used === 0 ? EMPTY : Uint8Array.from(from); // small: at most one pending instruction
    this.#jsHeld = toJs;
    this.#start = this.#end = 0;
    if (used > 0) {
      this.#ensure(used);
      this.#storage().set(saved, this.#base());
      this.#end = used;
    }
  }

  #failed(): GuacamoleBatch {
    this.#start = this.#end = 0;
    return this.#batch.set(EMPTY, 0, 0, 0, 0, this.#jsOut, HEADER_SLOTS, this.#jsElems, 0, this.#failure);
  }

  #storage(): Uint8Array {
    return this.#wasm === undefined || this.#jsHeld ? this.#buf : this.#wasm.u8;
  }
  #base(): number {
    return this.#regions === undefined || this.#jsHeld ? 0 : this.#regions.data;
  }
  #capacity(): number {
    return this.#regions === undefined || this.#jsHeld ? this.#buf.length : this.#regions.dataSize;
  }

  /** Room for `n` more bytes after #end: compact, or grow the buffer. */
  #ensure(n: number): void {
    const used = this.#end - this.#start;
    const cap = this.#capacity();
    if (this.#end + n <= cap) return;
    const base = this.#base();
    if (used + n <= cap) {
      this.#storage().copyWithin(base, base + this.#start, base + this.#end);
    } else {
      let size = Math.max(cap * 2, INITIAL_DATA_BYTES);
      while (size < used + n) size *= 2;
      const r = this.#regions;
      if (r === undefined || this.#jsHeld) {
        const next = allocBytes(size);
        next.set(this.#buf.subarray(this.#start, this.#end), 0);
        this.#buf = next;
      } else {
        const ptr = r.e.alloc(size);
        if (used > 0) r.e.u8.copyWithin(ptr, r.data + this.#start, r.data + this.#end);
        if (r.dataSize > 0) r.e.free(r.data, r.dataSize);
        r.data = ptr;
        r.dataSize = size;
      }
    }
    this.#start = 0;
    this.#end = used;
  }

  #scanBuffered(): GuacamoleBatch {
    const len = this.#end - this.#start;
    const base = this.#base();
    if (len < this.#need) {
      return this.#batch.set(EMPTY, 0, 0, 0, 0, this.#jsOut, HEADER_SLOTS, this.#jsElems, 0, undefined);
    }
    if (this.#wasm === undefined || this.#jsHeld || (this.#auto && guacBufferedInJs(len))) {
      return this.#scanJs(this.#storage(), base + this.#start, base + this.#end);
    }
    return this.#scanWasm(this.#wasm, base + this.#start, len);
  }

  /** JS kernel over b[s..e); advances #start past the complete instructions. */
  #scanJs(b: Uint8Array, s: number, e: number): GuacamoleBatch {
    for (;;) {
      const out = this.#jsOut;
      const els = this.#jsElems;
      const maxInstr = (out.length - HEADER_SLOTS) / INSTRUCTION_SLOTS;
      const maxElems = els.length / ELEMENT_SLOTS;
      const status = scanInstructionsJs(b, s, e, out, maxInstr, els, maxElems, this.#maxBytes, this.#strict);
      if (status === GUAC_FULL) {
        this.#jsOut = new Uint32Array(HEADER_SLOTS + maxInstr * 2 * INSTRUCTION_SLOTS);
        if (out[H_ELEMENTS]! + GUAC_MAX_ELEMENTS > maxElems) this.#jsElems = new Uint32Array(els.length * 2);
        continue; // rescan with room for every instruction: one batch per push
      }
      return this.#finish(b, s, e - s, status, out, out, els, 0);
    }
  }

  #scanWasm(w: WasmEngine, ptr: number, len: number): GuacamoleBatch {
    const r = this.#regions!;
    if (r.outSize === 0) {
      r.outSize = (HEADER_SLOTS + INITIAL_INSTRUCTIONS * INSTRUCTION_SLOTS) * 4;
      r.out = w.alloc(r.outSize);
      r.elemsSize = INITIAL_ELEMENTS * ELEMENT_SLOTS * 4;
      r.elems = w.alloc(r.elemsSize);
    }
    for (;;) {
      const maxInstr = (r.outSize / 4 - HEADER_SLOTS) / INSTRUCTION_SLOTS;
      const maxElems = r.elemsSize / 4 / ELEMENT_SLOTS;
      const status = this.#kernel(w, ptr, len, maxInstr, maxElems);
      const u32 = w.u32;
      if (status === GUAC_FULL) {
        const elemsFull = u32[(r.out >>> 2) + H_ELEMENTS]! + GUAC_MAX_ELEMENTS > maxElems;
        w.free(r.out, r.outSize);
        r.outSize *= 2;
        r.out = w.alloc(r.outSize);
        if (elemsFull) {
          w.free(r.elems, r.elemsSize);
          r.elemsSize *= 2;
          r.elems = w.alloc(r.elemsSize);
        }
        continue;
      }
      const o = r.out >>> 2;
      const header = u32.subarray(o, o + HEADER_SLOTS);
      return this.#finish(w.u8, ptr, len, status, header, u32, u32, r.elems >>> 2, o);
    }
  }

  /**
   * Runs the Wasm kernel. Strict Wasm SIMD scans count code points in Wasm and validate the scanned bytes
   * with Node's native UTF-8 validator (simdutf, faster than 128-bit Wasm SIMD at it); on any failure the
   * strict kernel re-runs and reports the canonical error. Same results as the all-Wasm strict kernel.
   */
  #kernel(w: WasmEngine, ptr: number, len: number, maxInstr: number, maxElems: number): number {
    const r = this.#regions!;
    const strict = this.#strict;
    const hybrid = strict && w.name === 'wasm-simd';
    const mode = strict && !hybrid ? 1 : 0;
    let status = w.x.scanInstructions(ptr, len, r.out, maxInstr, r.elems, maxElems, this.#maxBytes, mode);
    if (hybrid) {
      let valid = false;
      if (status >= 0) {
        const u8 = w.u8;
        const consumedEnd = ptr + w.u32[(r.out >>> 2) + H_CONSUMED]!;
        const checkEnd = status === GUAC_FULL ? consumedEnd : trailingPartial(u8, consumedEnd, ptr + len);
        valid = isUtf8(u8.subarray(ptr, checkEnd));
      }
      if (!valid)
        status = w.x.scanInstructions(ptr, len, r.out, maxInstr, r.elems, maxElems, this.#maxBytes, 1);
    }
    return status;
  }

  /** Builds the batch from a kernel result and advances the stream state. */
  #finish(
    src: Uint8Array,
    off: number,
    len: number,
    status: number,
    header: Uint32Array,
    ins: Uint32Array,
    els: Uint32Array,
    elsBase: number,
    headerBase = 0,
  ): GuacamoleBatch {
    const count = header[H_INSTRUCTIONS]!;
    const consumed = header[H_CONSUMED]!;
    let error: TubesError | undefined;
    if (status < 0) {
      error = scanError(
        status,
        src,
        off + header[H_ERROR_AT]!,
        this.#streamPos + header[H_ERROR_AT]!,
        this.#maxBytes,
      );
      this.#failure = error;
      this.#start = this.#end = 0;
      this.#need = 0;
    } else {
      this.#start += consumed;
      if (this.#start === this.#end) this.#start = this.#end = 0;
      const hint = header[H_HINT]!;
      this.#need = hint === 0 ? 0 : hint - consumed;
    }
    this.#streamPos += consumed;
    return this.#batch.set(
      src,
      off,
      len,
      count,
      consumed,
      ins,
      headerBase + HEADER_SLOTS,
      els,
      elsBase,
      error,
    );
  }
}
