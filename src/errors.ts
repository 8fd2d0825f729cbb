/**
 * Every error this library raises on purpose is a `TubesError` with a stable `code`.
 * The codes are listed, with their meaning, in docs/ERRORS.md.
 */
export const ErrorCode = {
  TUBE_NOT_FOUND: 'TUBES_ERR_TUBE_NOT_FOUND',
  CONVERSATION_NOT_FOUND: 'TUBES_ERR_CONVERSATION_NOT_FOUND',
  BAD_SDP_BASE64: 'TUBES_ERR_BAD_SDP_BASE64',
  BAD_SDP: 'TUBES_ERR_BAD_SDP',
  BAD_SETTINGS: 'TUBES_ERR_BAD_SETTINGS',
  BAD_ARGUMENT: 'TUBES_ERR_BAD_ARGUMENT',
  OVERLOADED: 'TUBES_ERR_OVERLOADED',
  FRAME_CORRUPT: 'TUBES_ERR_FRAME_CORRUPT',
  FRAME_TOO_LARGE: 'TUBES_ERR_FRAME_TOO_LARGE',
  CONTROL_MALFORMED: 'TUBES_ERR_CONTROL_MALFORMED',
  GUAC_MALFORMED: 'TUBES_ERR_GUAC_MALFORMED',
  GUAC_INVALID_UTF8: 'TUBES_ERR_GUAC_INVALID_UTF8',
  GUAC_TOO_LARGE: 'TUBES_ERR_GUAC_TOO_LARGE',
  LISTEN_FAILED: 'TUBES_ERR_LISTEN_FAILED',
  WEBRTC: 'TUBES_ERR_WEBRTC',
  CLOSED: 'TUBES_ERR_CLOSED',
  TIMEOUT: 'TUBES_ERR_TIMEOUT',
  HOTPATH_UNAVAILABLE: 'TUBES_ERR_HOTPATH_UNAVAILABLE',
  SOCKS_MALFORMED: 'TUBES_ERR_SOCKS_MALFORMED',
  SOCKS_UNSUPPORTED: 'TUBES_ERR_SOCKS_UNSUPPORTED',
  SOCKS_AUTH_FAILED: 'TUBES_ERR_SOCKS_AUTH_FAILED',
  SOCKS_REFUSED: 'TUBES_ERR_SOCKS_REFUSED',
  TURN_AUTH: 'TUBES_ERR_TURN_AUTH',
  TURN_UNREACHABLE: 'TUBES_ERR_TURN_UNREACHABLE',
  TURN_REJECTED: 'TUBES_ERR_TURN_REJECTED',
  CONNECTION_REFUSED: 'TUBES_ERR_CONNECTION_REFUSED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class TubesError extends Error {
  readonly code: ErrorCode;
  /** The CloseConnection reason behind the error, when a connection was refused or closed by the peer. */
  readonly closeReason?: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; closeReason?: number }) {
    super(message, options);
    this.name = 'TubesError';
    this.code = code;
    if (options?.closeReason !== undefined) this.closeReason = options.closeReason;
  }
}

export function isTubesError(value: unknown, code?: ErrorCode): value is TubesError {
  return value instanceof TubesError && (code === undefined || value.code === code);
}
