/** The TubesError for a failed Guacamole scan (the kernel reports a status code and a byte offset). */
import { ErrorCode, TubesError } from '../../errors.ts';
import {
  GUAC_ELEMENT_TOO_LARGE,
  GUAC_INSTRUCTION_TOO_LARGE,
  GUAC_INVALID_UTF8,
  GUAC_MAX_ELEMENT_CODE_POINTS,
  GUAC_MAX_ELEMENTS,
  GUAC_MAX_LENGTH_DIGITS,
  GUAC_TOO_MANY_ELEMENTS,
} from '../engine/abi.ts';

/**
 * `status` is the kernel's negative status, `src[byteAt]` the offending byte, `streamAt` its offset in the
 * whole stream, `maxBytes` the scanner's instruction limit.
 */
export function scanError(
  status: number,
  src: Uint8Array,
  byteAt: number,
  streamAt: number,
  maxBytes: number,
): TubesError {
  const where = `at stream byte ${streamAt}`;
  switch (status) {
    case GUAC_INVALID_UTF8:
      return new TubesError(ErrorCode.GUAC_INVALID_UTF8, `Invalid UTF-8 in Guacamole instruction ${where}`);
    case GUAC_ELEMENT_TOO_LARGE:
      return new TubesError(
        ErrorCode.GUAC_TOO_LARGE,
        `Guacamole element length above ${GUAC_MAX_ELEMENT_CODE_POINTS} code points (or more than ${GUAC_MAX_LENGTH_DIGITS} digits) ${where}`,
      );
    case GUAC_TOO_MANY_ELEMENTS:
      return new TubesError(
        ErrorCode.GUAC_TOO_LARGE,
        `Guacamole instruction with more than ${GUAC_MAX_ELEMENTS} elements ${where}`,
      );
    case GUAC_INSTRUCTION_TOO_LARGE:
      return new TubesError(
        ErrorCode.GUAC_TOO_LARGE,
        `Guacamole instruction larger than ${maxBytes} bytes starting ${where}`,
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
