/**
 * Streaming Guacamole instruction scanner (`<len>.<opcode>(,<len>.<arg>)*;`, lengths in code points)
 * and the instruction encoder.
 */
import { isUtf8 } from 'node:buffer';
import { ErrorCode, TubesError } from '../errors.ts';
import {
  DEFAULT_MAX_INSTRUCTION_BYTES,
  type EngineChoice,
  type EngineName,
  GUAC_MAX_ELEMENT_CODE_POINTS,
  GUAC_MAX_ELEMENTS,
} from './constants.ts';
import { AUTO_THRESHOLDS, resolveEngine } from './dispatch.ts';
import {
  ELEMENT_SLOTS,
  GUAC_ELEMENT_TOO_LARGE,
  GUAC_FULL,
  GUAC_INSTRUCTION_TOO_LARGE,
  GUAC_INVALID_UTF8,
  GUAC_TOO_MANY_ELEMENTS,
  H_CONSUMED,
  H_ELEMENTS,
  H_ERROR_AT,
  H_HINT,
  H_INSTRUCTIONS,
  HEADER_SLOTS,
  INSTRUCTION_SLOTS,
  scanInstructionsJs,
  trailingPartial,
} from './js.ts';
import type { WasmEngine } from './loader.ts';

export interface GuacamoleScannerOptions {
  /** Engine; default `auto` (or env TUBES_HOTPATH). */
  engine?: EngineChoice;
  /** Reject invalid UTF-8 (default true). When false, code points are counted as non-continuation bytes. */
  strict?: boolean;
  /** Largest accepted instruction in bytes (default 16 MiB); a longer one is a TUBES_ERR_GUAC_TOO_LARGE. */
  maxInstructionBytes?: number;
}

// ignoreBOM: a value starting with U+FEFF keeps it (the default decoder would strip it)
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const EMPTY = new Uint8Array(0);
const INITIAL_DATA_BYTES = 4096;
const DEFAULT_RESERVE_BYTES = 64 * 1024;
const INITIAL_INSTRUCTIONS = 32;
const ASCII_PROBE_BYTES = 512;
/** Auto probe: a value this long among the first PROBE_ELEMENTS elements means base64-like data. */
const LONG_VALUE_BYTES = 256;
const PROBE_ELEMENTS = 12;
/** Bytes of a long value checked by the auto probes: base64 alphabet only (text has spaces, punctuation, UTF-8). */
const SAMPLE_BYTES = 24;
/** Pushed-chunk probe: bytes of the long value that must be ASCII. */
const ASCII_SAMPLE_BYTES = 64;
const BASE64_CHAR = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=')
  BASE64_CHAR[c.charCodeAt(0)] = 1;

/** 1: b[from..from+SAMPLE_BYTES) is base64 alphabet; 0: it is not; -1: fewer bytes than that before `end`. */
function base64Sample(b: Uint8Array, from: number, end: number): number {
  const stop = from + SAMPLE_BYTES;
  if (stop > end) return -1;
  let ok = 1;
  for (let i = from; i < stop; i++) ok &= BASE64_CHAR[b[i]!]!;
  return ok;
}
/** Element capacity: one instruction of 128 elements always fits. */
const INITIAL_ELEMENTS = 2 * GUAC_MAX_ELEMENTS;

/** Decodes b[s..e) as UTF-8 (short ASCII without TextDecoder). */
function text(b: Uint8Array, s: number, e: number): string {
  if (e - s <= 16) {
    let out = '';
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c >= 0x80) return utf8Decoder.decode(b.subarray(s, e));
      out += String.fromCharCode(c);
    }
    return out;
  }
  return utf8Decoder.decode(b.subarray(s, e));
}

/**
 * The complete instructions found by one `push()` / `commit()`. The object and its `data` view are reused
 * and overwritten by the scanner's next push/commit/reserve: copy what must outlive that (encoding a frame
 * copies). Offsets are relative to `data`.
 */
export class GuacamoleBatch {
  /** Number of complete instructions. */
  count = 0;
  /** Bytes of all complete instructions (contiguous from offset 0 of `data`). */
  byteLength = 0;
  /** Set when the stream is malformed; the instructions before the error are still reported. */
  error: TubesError | undefined;
  /** The scanned bytes live in #src from #off (no view is created unless asked for). */
  #src: Uint8Array = EMPTY;
  #off = 0;
  #len = 0;
  #ins: Uint32Array = new Uint32Array(HEADER_SLOTS);
  #insBase = HEADER_SLOTS;
  #els: Uint32Array = new Uint32Array(0);
  #elsBase = 0;

  /** @internal */
  set(
    src: Uint8Array,
    off: number,
    len: number,
    count: number,
    byteLength: number,
    ins: Uint32Array,
    insBase: number,
    els: Uint32Array,
    elsBase: number,
    error: TubesError | undefined,
  ): this {
    this.#src = src;
    this.#off = off;
    this.#len = len;
    this.count = count;
    this.byteLength = byteLength;
    this.#ins = ins;
    this.#insBase = insBase;
    this.#els = els;
    this.#elsBase = elsBase;
    this.error = error;
    return this;
  }

  /** The scanned bytes (a view); the complete instructions are its first `byteLength` bytes. */
  get data(): Uint8Array {
    return this.#src.subarray(this.#off, this.#off + this.#len);
  }
  /** All complete instructions as one view (e.g. a frame payload). */
  get bytes(): Uint8Array {
    return this.#src.subarray(this.#off, this.#off + this.byteLength);
  }
  /** Byte offset where instruction i starts. */
  start(i: number): number {
    return this.#ins[this.#insBase + i * INSTRUCTION_SLOTS]!;
  }
  /** Byte offset just after instruction i's `;`. */
  end(i: number): number {
    return this.#ins[this.#insBase + i * INSTRUCTION_SLOTS + 1]!;
  }
  /** Number of elements of instruction i (opcode included). */
  elementCount(i: number): number {
    return this.#ins[this.#insBase + i * INSTRUCTION_SLOTS + 3]!;
  }
  /** Byte offset of the value of element j of instruction i (j = 0 is the opcode). */
  elementStart(i: number, j: number): number {
    const first = this.#ins[this.#insBase + i * INSTRUCTION_SLOTS + 2]!;
    return this.#els[this.#elsBase + (first + j) * ELEMENT_SLOTS]!;
  }
  /** Byte length of the value of element j of instruction i. */
  elementByteLength(i: number, j: number): number {
    const first = this.#ins[this.#insBase + i * INSTRUCTION_SLOTS + 2]!;
    return this.#els[this.#elsBase + (first + j) * ELEMENT_SLOTS + 1]!;
  }
  /** Instruction i's bytes (a view). */
  instruction(i: number): Uint8Array {
    return this.#src.subarray(this.#off + this.start(i), this.#off + this.end(i));
  }
  /** Element j of instruction i, decoded. */
  element(i: number, j: number): string {
    const s = this.#off + this.elementStart(i, j);
    return text(this.#src, s, s + this.elementByteLength(i, j));
  }
  /** Opcode of instruction i. */
  opcode(i: number): string {
    return this.element(i, 0);
  }
  /** True if instruction i's opcode equals `name` (no allocation when `name` is ASCII). */
  opcodeIs(i: number, name: string): boolean {
    const s = this.#off + this.elementStart(i, 0);
    const n = this.elementByteLength(i, 0);
    const src = this.#src;
    for (let k = 0; k < name.length; k++) {
      if (name.charCodeAt(k) >= 0x80) return this.opcode(i) === name;
    }
    if (n !== name.length) return false;
    for (let k = 0; k < n; k++) if (src[s + k] !== name.charCodeAt(k)) return false;
    return true;
  }
  /** Arguments (elements after the opcode) of instruction i, decoded. */
  args(i: number): string[] {
    const n = this.elementCount(i);
    const out: string[] = new Array(n - 1);
    for (let j = 1; j < n; j++) out[j - 1] = this.element(i, j);
    return out;
  }
}

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
    if (!Number.isInteger(max) || max < 3 || max > 0x7fff_ffff) {
      throw new TubesError(
        ErrorCode.BAD_ARGUMENT,
        `maxInstructionBytes must be an integer in 3..2^31-1, got ${max}`,
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

  /**
   * Auto: JS for small chunks, and for long ASCII chunks made of long values (base64 display data: native
   * isAscii in the JS engine beats copying into Wasm memory). Short ASCII instructions (key/mouse/sync)
   * and any non-ASCII text go to Wasm. Only a prefix is probed; the choice never changes results.
   */
  #pushScansInJs(chunk: Uint8Array): boolean {
    if (this.#wasm === undefined) return true;
    if (!this.#auto) return false;
    const n = chunk.length;
    if (n < AUTO_THRESHOLDS.guacPushWasmMinBytes) return true;
    if (n < AUTO_THRESHOLDS.guacPushAsciiProbeMinBytes) return false;
    // walk the first length prefixes; a long value whose first bytes are ASCII means base64-like data
    // (a sample in JS: no view and no native call per chunk)
    const probe = Math.min(n, ASCII_PROBE_BYTES);
    for (let q = 0, seen = 0; seen < PROBE_ELEMENTS && q < probe; seen++) {
      let len = 0;
      for (let c = chunk[q]! - 48; q < probe && c >= 0 && c < 10; c = chunk[++q]! - 48) len = len * 10 + c;
      if (len >= LONG_VALUE_BYTES) {
        // whole instructions scanned in place: an ASCII sample is enough (JS checks long values natively)
        const stop = Math.min(n, q + 1 + ASCII_SAMPLE_BYTES);
        for (let i = q + 1; i < stop; i++) if (chunk[i]! >= 0x80) return false;
        return true;
      }
      q += len + 2; // '.', value, delimiter
    }
    return false;
  }

  /**
   * Auto, tail buffered: true when the pending instruction (it starts at #start) has a value of at least
   * LONG_VALUE_BYTES among its first elements whose first bytes are base64 (display data); false when that
   * value's sample is not base64; undecided (short values only, or too few bytes): where the tail is now.
   */
  #pendingScansInJs(): boolean {
    const b = this.#storage();
    const from = this.#base() + this.#start;
    const end = this.#base() + this.#end;
    for (let q = from, seen = 0; seen < PROBE_ELEMENTS && q < end; seen++) {
      let n = 0;
      let c = b[q]! - 48;
      if (c < 0 || c > 9) return this.#jsHeld;
      for (; q < end && c >= 0 && c < 10; c = b[++q]! - 48) n = n * 10 + c;
      if (n >= LONG_VALUE_BYTES) {
        const r = base64Sample(b, q + 1, end);
        return r < 0 ? this.#jsHeld : r === 1;
      }
      q += n + 2; // '.', value, delimiter
    }
    return this.#jsHeld; // undecided (short values, or a truncated prefix): the bytes stay where they are
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
        const next = Buffer.allocUnsafe(size);
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
    if (
      this.#wasm === undefined ||
      this.#jsHeld ||
      (this.#auto && len < AUTO_THRESHOLDS.guacInWasmMinBytes)
    ) {
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
      error = this.#error(status, src, off + header[H_ERROR_AT]!, header[H_ERROR_AT]!);
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

  #error(status: number, src: Uint8Array, byteAt: number, at: number): TubesError {
    const where = `at stream byte ${this.#streamPos + at}`;
    switch (status) {
      case GUAC_INVALID_UTF8:
        return new TubesError(ErrorCode.GUAC_INVALID_UTF8, `Invalid UTF-8 in Guacamole instruction ${where}`);
      case GUAC_ELEMENT_TOO_LARGE:
        return new TubesError(
          ErrorCode.GUAC_TOO_LARGE,
          `Guacamole element length above ${GUAC_MAX_ELEMENT_CODE_POINTS} code points (or more than 7 digits) ${where}`,
        );
      case GUAC_TOO_MANY_ELEMENTS:
        return new TubesError(
          ErrorCode.GUAC_TOO_LARGE,
          `Guacamole instruction with more than ${GUAC_MAX_ELEMENTS} elements ${where}`,
        );
      case GUAC_INSTRUCTION_TOO_LARGE:
        return new TubesError(
          ErrorCode.GUAC_TOO_LARGE,
          `Guacamole instruction larger than ${this.#maxBytes} bytes starting ${where}`,
        );
      default: {
        const got = src[byteAt];
        const shown = got === undefined ? 'end' : `0x${got.toString(16).padStart(2, '0')}`;
        return new TubesError(
          ErrorCode.GUAC_MALFORMED,
          `Malformed Guacamole instruction: unexpected byte ${shown} ${where} (expected a digit, '.', ',' or ';')`,
        );
      }
    }
  }
}
