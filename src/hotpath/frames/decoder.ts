/** Streaming frame decoder: reassembles frames split across chunks, a walker handles the rest. */

import { ErrorCode, TubesError } from '../../errors.ts';
import { allocBytes } from '../../platform/bytes.ts';
import { FRAME_HEADER_SIZE, FRAME_TERMINATOR } from '../engine/abi.ts';
import { resolveEngine } from '../engine/dispatch.ts';
import type { WasmEngine } from '../engine/loader.ts';
import type { EngineChoice, EngineName } from '../engine/types.ts';
import { DEFAULT_MAX_FRAME_PAYLOAD, U32_MAX } from '../limits.ts';
import { jsFrameWalker, walkFrameSpansJs, walkFramesJs } from './walk-js.ts';
import { makeWasmFrameWalker } from './walk-wasm.ts';
import {
  corruptMessage,
  type FrameHandler,
  type FrameSpanHandler,
  type FrameWalker,
  readU32,
  tooLargeMessage,
  WALK_CORRUPT,
  WALK_TOO_LARGE,
  type WalkState,
} from './walker.ts';

export interface Frame {
  connNo: number;
  payload: Uint8Array;
}

export interface FrameDecoderOptions {
  /** Largest accepted payload in bytes (default 16 MiB). Larger declared lengths are rejected unallocated. */
  maxPayload?: number;
  /** Engine for the in-chunk frame walk; default `auto` (or env `TUBES_HOTPATH`). */
  engine?: EngineChoice;
}

const EMPTY = new Uint8Array(0);
/** One Wasm walker per loaded engine (it owns a result region in that engine's memory). */
const wasmWalkers = new WeakMap<WasmEngine, FrameWalker>();

/**
 * Frame walker for a decoder. Auto uses the JS walker: frames arrive in JS buffers, and copying them
 * into Wasm memory costs more than walking the headers (measured, docs/PERFORMANCE.md).
 */
function chooseFrameWalker(choice: EngineChoice | undefined): FrameWalker {
  const { auto, wasm } = resolveEngine(choice);
  if (auto || wasm === undefined) return jsFrameWalker;
  let w = wasmWalkers.get(wasm);
  if (w === undefined) {
    w = makeWasmFrameWalker(wasm);
    wasmWalkers.set(wasm, w);
  }
  return w;
}

/**
 * Streaming decoder of the tube wire format: `conn_no u32 | timestamp u64 | length u32 | payload | ';'`.
 *
 * Frames that lie wholly inside a chunk are delivered as views of that chunk (no copy); a frame split
 * across chunks is reassembled into a fresh buffer of exactly its payload size. Payload views are never
 * reused by the decoder, so they stay valid as long as the caller keeps its chunks unmodified.
 */
export class FrameDecoder {
  readonly #maxPayload: number;
  readonly #walker: FrameWalker;
  /** Partial header of a frame split across chunks (its bytes are copied, so reusing it is safe). */
  readonly #head = new Uint8Array(FRAME_HEADER_SIZE);
  #headLen = 0;
  /** Payload of the frame being reassembled (fresh per frame), its fill level and connection. */
  #body: Uint8Array = EMPTY;
  #bodyLen = 0;
  #bodyTotal = 0;
  #bodyConn = 0;
  /** Rest of a chunk left unprocessed because a handler threw; processed first on the next push. */
  #deferred: Uint8Array | undefined;
  /** Resume position and failure text shared with the frame walker. */
  readonly #state: WalkState = { resume: 0, message: '' };

  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxPayload ?? DEFAULT_MAX_FRAME_PAYLOAD;
    if (!Number.isInteger(max) || max < 0 || max > U32_MAX) {
      throw new TubesError(
        ErrorCode.BAD_ARGUMENT,
        `maxPayload must be an integer in 0..${U32_MAX}, got ${max}`,
      );
    }
    this.#maxPayload = max;
    this.#walker = chooseFrameWalker(options.engine);
  }

  /** Bytes held for a frame that is not complete yet (plus any remainder deferred by a throwing handler). */
  get bufferedBytes(): number {
    const partial = this.#headLen < FRAME_HEADER_SIZE ? this.#headLen : FRAME_HEADER_SIZE + this.#bodyLen;
    return partial + (this.#deferred?.length ?? 0);
  }

  /** The engine that walks complete frames inside a chunk. */
  get engine(): EngineName {
    return this.#walker.name;
  }

  /** Drops all buffered bytes. */
  reset(): void {
    this.#headLen = 0;
    this.#body = EMPTY;
    this.#bodyLen = 0;
    this.#bodyTotal = 0;
    this.#deferred = undefined;
  }

  /**
   * Decodes every complete frame of `chunk` in order, calling `onFrame` for each. Never throws for bad
   * input: on a corrupt terminator or an oversized length the whole buffered stream and the rest of this
   * chunk are discarded and a `TubesError` is returned (`TUBES_ERR_FRAME_CORRUPT` /
   * `TUBES_ERR_FRAME_TOO_LARGE`). If `onFrame` throws, the decoder has already consumed that frame and
   * keeps the rest of the chunk for the next push.
   */
  push(chunk: Uint8Array, onFrame: FrameHandler): TubesError | undefined {
    if (this.#deferred !== undefined) {
      const err = this.#pushDeferred(chunk, onFrame, false);
      if (err !== undefined) return err;
    }
    return this.#pushOne(chunk, onFrame, false);
  }

  /**
   * Like `push`, without creating a payload view: calls `onFrame(connNo, bytes, start, end)` with the
   * payload at `bytes[start..end)`. `bytes` is `chunk` for a frame lying wholly inside it, else a fresh
   * buffer of exactly the payload (`start = 0`); never memory the decoder reuses, so a view created later
   * (`bytes.subarray(start, end)`) has the same lifetime as a `push` payload. Same frames, errors, state
   * and throwing-handler rules as `push`; the two may be mixed on one decoder.
   */
  pushSpans(chunk: Uint8Array, onFrame: FrameSpanHandler): TubesError | undefined {
    if (this.#deferred !== undefined) {
      const err = this.#pushDeferred(chunk, onFrame, true);
      if (err !== undefined) return err;
    }
    return this.#pushOne(chunk, onFrame, true);
  }

  /** Processes the remainder a throwing handler left behind, before `chunk`. */
  #pushDeferred(
    chunk: Uint8Array,
    handler: FrameHandler | FrameSpanHandler,
    spans: boolean,
  ): TubesError | undefined {
    const deferred = this.#deferred!;
    this.#deferred = undefined;
    try {
      return this.#pushOne(deferred, handler, spans);
    } catch (error) {
      // the handler threw again: keep what is left of the remainder and this chunk, in order
      this.#deferred = this.#deferred === undefined ? chunk : concat(this.#deferred, chunk);
      throw error;
    }
  }

  /** Convenience: returns the frames of `chunk`; throws the `TubesError` on corrupt input. */
  decode(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    const err = this.push(chunk, (connNo, payload) => {
      frames.push({ connNo, payload });
    });
    if (err !== undefined) throw err;
    return frames;
  }

  #pushOne(
    chunk: Uint8Array,
    handler: FrameHandler | FrameSpanHandler,
    spans: boolean,
  ): TubesError | undefined {
    const len = chunk.length;
    let pos = 0;
    try {
      if (this.#headLen > 0) {
        pos = this.#continuePartial(chunk, handler, spans);
        if (pos < 0) return this.#fail(pos);
        if (this.#headLen > 0) return undefined; // still partial: the whole chunk went into it
      }
      const state = this.#state;
      state.resume = pos;
      const w = this.#walker;
      // direct calls for the JS walker (what auto runs): inlinable, no property load per chunk
      if (spans) {
        const onSpan = handler as FrameSpanHandler;
        pos =
          w === jsFrameWalker
            ? walkFrameSpansJs(chunk, pos, this.#maxPayload, onSpan, state)
            : w.walkSpans(chunk, pos, this.#maxPayload, onSpan, state);
      } else {
        const onFrame = handler as FrameHandler;
        pos =
          w === jsFrameWalker
            ? walkFramesJs(chunk, pos, this.#maxPayload, onFrame, state)
            : w.walk(chunk, pos, this.#maxPayload, onFrame, state);
      }
      if (pos < 0) return this.#fail(pos);
    } catch (error) {
      this.#deferRest(chunk);
      throw error;
    }
    if (pos < len) {
      const err = this.#startPartial(chunk, pos);
      if (err < 0) return this.#fail(err);
    }
    return undefined;
  }

  #deferRest(chunk: Uint8Array): void {
    // markConsumed() ran before the handler that threw; everything after it is still unprocessed
    const rest = chunk.subarray(this.#state.resume);
    if (rest.length > 0) this.#deferred = rest;
  }

  #fail(code: number): TubesError {
    const message = this.#state.message;
    this.reset();
    return new TubesError(
      code === WALK_TOO_LARGE ? ErrorCode.FRAME_TOO_LARGE : ErrorCode.FRAME_CORRUPT,
      message,
    );
  }

  /** Stores the incomplete tail `chunk[pos..]` (validating the length as soon as the header is known). */
  #startPartial(chunk: Uint8Array, pos: number): number {
    const avail = chunk.length - pos;
    if (avail < FRAME_HEADER_SIZE) {
      this.#head.set(chunk.subarray(pos), 0);
      this.#headLen = avail;
      return 0;
    }
    this.#head.set(chunk.subarray(pos, pos + FRAME_HEADER_SIZE), 0);
    this.#headLen = FRAME_HEADER_SIZE;
    const err = this.#beginBody(pos);
    if (err < 0) return err;
    const n = chunk.length - pos - FRAME_HEADER_SIZE; // < total + 1, so the whole rest belongs to the body
    if (n > 0) this.#body.set(chunk.subarray(pos + FRAME_HEADER_SIZE), 0);
    this.#bodyLen = n;
    return 0;
  }

  /** Header complete: check the length and allocate the payload buffer. */
  #beginBody(at: number): number {
    const length = readU32(this.#head, 12);
    if (length > this.#maxPayload) {
      this.#state.message = tooLargeMessage(length, this.#maxPayload, at);
      return WALK_TOO_LARGE;
    }
    this.#bodyConn = readU32(this.#head, 0);
    this.#bodyTotal = length;
    this.#bodyLen = 0;
    this.#body = length === 0 ? EMPTY : allocBytes(length);
    return 0;
  }

  /** Continues a frame split across chunks; returns the position after it, or a negative failure. */
  #continuePartial(chunk: Uint8Array, handler: FrameHandler | FrameSpanHandler, spans: boolean): number {
    const len = chunk.length;
    let pos = 0;
    if (this.#headLen < FRAME_HEADER_SIZE) {
      const take = Math.min(FRAME_HEADER_SIZE - this.#headLen, len);
      this.#head.set(chunk.subarray(0, take), this.#headLen);
      this.#headLen += take;
      pos = take;
      if (this.#headLen < FRAME_HEADER_SIZE) return pos;
      const err = this.#beginBody(0);
      if (err < 0) return err;
    }
    const need = this.#bodyTotal - this.#bodyLen;
    if (need > 0) {
      const take = Math.min(need, len - pos);
      if (take > 0) this.#body.set(chunk.subarray(pos, pos + take), this.#bodyLen);
      this.#bodyLen += take;
      pos += take;
      if (take < need) return pos;
    }
    if (pos >= len) return pos; // waiting for the terminator
    if (chunk[pos] !== FRAME_TERMINATOR) {
      this.#state.message = corruptMessage(chunk[pos]!, this.#bodyConn, this.#bodyTotal, pos);
      return WALK_CORRUPT;
    }
    pos++;
    const payload = this.#body;
    const connNo = this.#bodyConn;
    this.#headLen = 0;
    this.#body = EMPTY;
    this.#bodyLen = 0;
    this.#bodyTotal = 0;
    this.#state.resume = pos;
    if (spans) (handler as FrameSpanHandler)(connNo, payload, 0, payload.length);
    else (handler as FrameHandler)(connNo, payload);
    return pos;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
