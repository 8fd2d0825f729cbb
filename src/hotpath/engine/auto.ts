/**
 * What `auto` runs, per call: pure functions of the input, measured thresholds (src/bench/hotpath.ts,
 * docs/PERFORMANCE.md "Hot paths"). A probe only chooses where bytes are scanned; results never depend
 * on it. Frames always run in JS under `auto` (they arrive in JS buffers, and the copy into Wasm memory
 * costs more than walking the headers), so they need no probe.
 */

/** Measured crossover points for `auto`. */
export const AUTO_THRESHOLDS = {
  /** countCodePoints: JS below this many bytes (the copy into Wasm memory plus the call cost more). */
  countCodePointsWasmMinBytes: 48,
  /** Guacamole scan of bytes already in Wasm memory (reserve/commit, or a buffered tail): JS below. */
  guacInWasmMinBytes: 96,
  /** Guacamole scan of a pushed chunk (needs a copy into Wasm memory): JS below this many bytes. */
  guacPushWasmMinBytes: 96,
  /** Pushed chunks at least this long that look like base64 display data (a value >= 256 B among the first 12
   * elements, ASCII up to 64 bytes into it) scan in JS: native isAscii beats the copy into Wasm memory. A
   * buffered tail of such an instruction is kept in JS memory and the next push continues there. */
  guacPushAsciiProbeMinBytes: 1024,
};

/** Bytes of a pushed chunk whose length prefixes the push probe walks. */
const ASCII_PROBE_BYTES = 512;
/** A value this long among the first PROBE_ELEMENTS elements means base64-like data. */
const LONG_VALUE_BYTES = 256;
const PROBE_ELEMENTS = 12;
/** Bytes of a long value checked by the pending probe: base64 alphabet only (text has spaces, punctuation, UTF-8). */
const SAMPLE_BYTES = 24;
/** Push probe: bytes of the long value that must be ASCII. */
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

/** countCodePoints of `byteLength` bytes runs in JS. */
export function codePointsInJs(byteLength: number): boolean {
  return byteLength < AUTO_THRESHOLDS.countCodePointsWasmMinBytes;
}

/** A Guacamole scan of `byteLength` bytes already in the scanner's buffer runs in JS. */
export function guacBufferedInJs(byteLength: number): boolean {
  return byteLength < AUTO_THRESHOLDS.guacInWasmMinBytes;
}

/**
 * A pushed chunk (nothing buffered before it) is scanned in place in JS: small chunks, and long ASCII
 * chunks made of long values (base64 display data: native isAscii in the JS engine beats copying into
 * Wasm memory). Short ASCII instructions (key/mouse/sync) and any non-ASCII text go to Wasm. Only a
 * prefix is probed.
 */
export function guacPushInJs(chunk: Uint8Array): boolean {
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
 * Where the buffered tail `b[from..end)` of a pending instruction continues: true (JS memory) when one
 * of its first elements has a value of at least LONG_VALUE_BYTES whose first bytes are base64 (display
 * data), false (Wasm memory) when that value's sample is not base64, undefined when undecided (short
 * values only, or too few bytes): the caller keeps the tail where it is.
 */
export function guacPendingInJs(b: Uint8Array, from: number, end: number): boolean | undefined {
  for (let q = from, seen = 0; seen < PROBE_ELEMENTS && q < end; seen++) {
    let n = 0;
    let c = b[q]! - 48;
    if (c < 0 || c > 9) return undefined;
    for (; q < end && c >= 0 && c < 10; c = b[++q]! - 48) n = n * 10 + c;
    if (n >= LONG_VALUE_BYTES) {
      const r = base64Sample(b, q + 1, end);
      return r < 0 ? undefined : r === 1;
    }
    q += n + 2; // '.', value, delimiter
  }
  return undefined;
}
