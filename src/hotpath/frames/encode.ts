import { ErrorCode, TubesError } from '../errors.ts';
import { FRAME_HEADER_SIZE, FRAME_OVERHEAD, FRAME_TERMINATOR, U32_MAX } from './constants.ts';

const TWO_POW_32 = 0x1_0000_0000;

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, `${what} must be an integer in 0..${U32_MAX}, got ${value}`);
  }
}

function checkTimestamp(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER) {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, `timestampMs must be a non-negative safe number, got ${ms}`);
  }
  return Math.floor(ms);
}

/** Writes the 16-byte header at `o`. Arguments are trusted (validated by the callers). */
export function writeFrameHeader(t: Uint8Array, o: number, connNo: number, ts: number, length: number): void {
  const hi = Math.floor(ts / TWO_POW_32);
  const lo = ts >>> 0;
  t[o] = connNo >>> 24;
  t[o + 1] = connNo >>> 16;
  t[o + 2] = connNo >>> 8;
  t[o + 3] = connNo;
  t[o + 4] = hi >>> 24;
  t[o + 5] = hi >>> 16;
  t[o + 6] = hi >>> 8;
  t[o + 7] = hi;
  t[o + 8] = lo >>> 24;
  t[o + 9] = lo >>> 16;
  t[o + 10] = lo >>> 8;
  t[o + 11] = lo;
  t[o + 12] = length >>> 24;
  t[o + 13] = length >>> 16;
  t[o + 14] = length >>> 8;
  t[o + 15] = length;
}

/** Copies small payloads with a loop (cheaper than `set()` below ~32 bytes). */
function copyPayload(target: Uint8Array, at: number, payload: Uint8Array): void {
  const n = payload.length;
  if (n < 32) {
    for (let i = 0; i < n; i++) target[at + i] = payload[i]!;
  } else {
    target.set(payload, at);
  }
}

/**
 * Encodes one frame (header + payload + `;`) into `target` at `offset`; returns the bytes written
 * (`17 + payload.length`). Throws `TUBES_ERR_BAD_ARGUMENT` for out-of-range numbers or a short target.
 */
export function encodeFrameInto(
  target: Uint8Array,
  offset: number,
  connNo: number,
  payload: Uint8Array,
  timestampMs: number = Date.now(),
): number {
  checkU32(connNo, 'connNo');
  checkU32(payload.length, 'payload length');
  const ts = checkTimestamp(timestampMs);
  const total = payload.length + FRAME_OVERHEAD;
  if (!Number.isInteger(offset) || offset < 0 || offset + total > target.length) {
    throw new TubesError(
      ErrorCode.BAD_ARGUMENT,
      `target too small: need ${total} bytes at offset ${offset}, target has ${target.length}`,
    );
  }
  writeFrameHeader(target, offset, connNo, ts, payload.length);
  copyPayload(target, offset + FRAME_HEADER_SIZE, payload);
  target[offset + FRAME_HEADER_SIZE + payload.length] = FRAME_TERMINATOR;
  return total;
}

/** Validates encodeFrame arguments; returns the integral timestamp. */
export function checkFrameArgs(connNo: number, payload: Uint8Array, timestampMs: number): number {
  checkU32(connNo, 'connNo');
  checkU32(payload.length, 'payload length');
  return checkTimestamp(timestampMs);
}

/** JS encoder: one frame into a fresh Buffer the caller owns (arguments already validated). */
export function encodeFrameJs(connNo: number, payload: Uint8Array, ts: number): Buffer {
  const out = Buffer.allocUnsafe(payload.length + FRAME_OVERHEAD);
  writeFrameHeader(out, 0, connNo, ts, payload.length);
  copyPayload(out, FRAME_HEADER_SIZE, payload);
  out[FRAME_HEADER_SIZE + payload.length] = FRAME_TERMINATOR;
  return out;
}

/** Reads a big-endian u32 at `o` (caller guarantees 4 readable bytes). */
export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function tooLargeMessage(length: number, max: number, at: number): string {
  return `Frame too large: declared payload length ${length} exceeds the maximum ${max} (header at chunk offset ${at}); buffered stream discarded`;
}

export function corruptMessage(got: number, connNo: number, length: number, at: number): string {
  const hex = got.toString(16).padStart(2, '0');
  return `Corrupt frame: expected terminator 0x3b after the ${length}-byte payload of conn ${connNo}, got 0x${hex} at chunk offset ${at}; buffered stream discarded`;
}
