/** The result of one GuacamoleScanner push/commit: instruction and element boundaries, decoded on demand. */

import type { TubesError } from '../../errors.ts';
import { decodeUtf8 } from '../../platform/bytes.ts';
import { ELEMENT_SLOTS, HEADER_SLOTS, INSTRUCTION_SLOTS } from './scan-js.ts';

const EMPTY = new Uint8Array(0);

/** Decodes b[s..e) as UTF-8 (short ASCII without TextDecoder). */
function text(b: Uint8Array, s: number, e: number): string {
  if (e - s <= 16) {
    let out = '';
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c >= 0x80) return decodeUtf8(b.subarray(s, e));
      out += String.fromCharCode(c);
    }
    return out;
  }
  return decodeUtf8(b.subarray(s, e));
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
