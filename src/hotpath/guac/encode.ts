/** Guacamole instruction encoder: `<len>.<opcode>(,<len>.<arg>)*;` with code-point length prefixes. */

import { ErrorCode, TubesError } from '../../errors.ts';
import { encodeUtf8 } from '../../platform/bytes.ts';
import { GUAC_MAX_ELEMENT_CODE_POINTS, GUAC_MAX_ELEMENTS } from '../engine/abi.ts';

/**
 * Unicode code points of a JS string (a surrogate pair counts once; a lone surrogate counts once, as the
 * U+FFFD it becomes in UTF-8). Equals `[...s].length` without the array.
 */
export function stringCodePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

function element(value: string): string {
  const n = stringCodePoints(value);
  if (n > GUAC_MAX_ELEMENT_CODE_POINTS) {
    throw new TubesError(
      ErrorCode.GUAC_TOO_LARGE,
      `Guacamole element of ${n} code points exceeds ${GUAC_MAX_ELEMENT_CODE_POINTS}`,
    );
  }
  return `${n}.${value}`;
}

/** Encodes an instruction, e.g. `encodeInstruction('size', '1024', '768')` → `4.size,4.1024,3.768;`. */
export function encodeInstruction(opcode: string, ...args: string[]): string {
  if (args.length + 1 > GUAC_MAX_ELEMENTS) {
    throw new TubesError(
      ErrorCode.GUAC_TOO_LARGE,
      `Guacamole instruction with ${args.length + 1} elements exceeds ${GUAC_MAX_ELEMENTS}`,
    );
  }
  let out = element(opcode);
  for (const a of args) out += `,${element(a)}`;
  return `${out};`;
}

/** encodeInstruction as UTF-8 bytes (a fresh Buffer). */
export function encodeInstructionBytes(opcode: string, ...args: string[]): Buffer {
  return encodeUtf8(encodeInstruction(opcode, ...args));
}
