/**
 * Browser implementation of src/platform/bytes.ts (same exports): Uint8Array only, no Node API. The
 * browser bundle substitutes this file for bytes.ts (scripts/build-browser.mjs).
 */

const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const utf8Encoder = new TextEncoder();
const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** TextDecoder refuses views of a SharedArrayBuffer (a shared Wasm memory): those are copied first. */
function decodable(bytes: Uint8Array): Uint8Array {
  return bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice();
}

export function isAscii(bytes: Uint8Array): boolean {
  const n = bytes.length;
  let i = 0;
  let acc = 0;
  for (; i + 4 <= n; i += 4) acc |= bytes[i]! | bytes[i + 1]! | bytes[i + 2]! | bytes[i + 3]!;
  for (; i < n; i++) acc |= bytes[i]!;
  return acc < 0x80;
}

export function isUtf8(bytes: Uint8Array): boolean {
  if (isAscii(bytes)) return true;
  try {
    fatalDecoder.decode(decodable(bytes));
    return true;
  } catch {
    return false;
  }
}

export function allocBytes(length: number): Uint8Array {
  return new Uint8Array(length);
}

export function decodeUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(decodable(bytes));
}

export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

export function bytesFromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** `globalThis.TUBES_HOTPATH` (set before the bundle loads) plays the part of the environment variable. */
export function hotpathEnvChoice(): string {
  const v = (globalThis as { TUBES_HOTPATH?: unknown }).TUBES_HOTPATH;
  return typeof v === 'string' ? v : '';
}

export function emitWarning(message: string, code: string): void {
  console.warn(`${code}: ${message}`);
}
