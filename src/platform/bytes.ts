/**
 * The few byte and runtime services the platform-neutral modules (src/hotpath, src/protocol) need, on
 * Node. `bytes.browser.ts` is the browser implementation of the same functions; the browser bundle
 * (scripts/build-browser.mjs) substitutes it for this file, so nothing below reaches a browser.
 *
 * `allocBytes` is typed as returning a Buffer because the Node API hands these buffers out as Buffers
 * (e.g. `encodeFrame`); platform-neutral code uses them as plain Uint8Arrays only.
 */
import { isAscii, isUtf8 } from 'node:buffer';

export { isAscii, isUtf8 };

// ignoreBOM: a value starting with U+FEFF keeps it (the default decoder would strip it)
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Uninitialised bytes the caller overwrites. */
export function allocBytes(length: number): Buffer {
  return Buffer.allocUnsafe(length);
}

/** UTF-8 text of `bytes` (malformed sequences become U+FFFD). */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

export function encodeUtf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

export function bytesFromBase64(b64: string): Uint8Array {
  return Buffer.from(b64, 'base64');
}

/** The hot-path engine asked for by the environment (`TUBES_HOTPATH`), '' when unset. */
export function hotpathEnvChoice(): string {
  return process.env['TUBES_HOTPATH'] ?? '';
}

export function emitWarning(message: string, code: string): void {
  process.emitWarning(message, { code });
}
