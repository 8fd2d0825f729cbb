/**
 * CloseConnection reasons: one byte on the wire (original-behaviour §2.2). Code 3 is unassigned,
 * unknown codes read as Unknown (6), a missing byte reads as Normal (0).
 */
export interface CloseReasonInfo {
  readonly code: number;
  readonly name: string;
  readonly message: string;
  readonly isCritical: boolean;
  readonly isRetryable: boolean;
}

const table: ReadonlyArray<readonly [number, string, string, boolean, boolean]> = [
  [0, 'Normal', 'connection closed normally', false, false],
  [1, 'Error', 'connection error', true, false],
  [2, 'Timeout', 'connection timeout', false, true],
  [4, 'ServerRefuse', 'server refused connection', false, true],
  [5, 'Client', 'client closed connection', false, false],
  [6, 'Unknown', 'unknown error', false, false],
  [7, 'InvalidInstruction', 'invalid instruction', false, false],
  [8, 'GuacdRefuse', 'guacd refused connection', false, false],
  [9, 'ConnectionLost', 'connection lost', false, true],
  [10, 'ConnectionFailed', 'connection failed', false, true],
  [11, 'TunnelClosed', 'tunnel closed', false, false],
  [12, 'AdminClosed', 'administrator closed connection', false, false],
  [13, 'ErrorRecording', 'error recording session', true, false],
  [14, 'GuacdError', 'guacd protocol error', true, false],
  [15, 'AIClosed', 'AI closed connection', false, false],
  [16, 'AddressResolutionFailed', 'address resolution failed', false, true],
  [17, 'DecryptionFailed', 'decryption failed', true, false],
  [18, 'ConfigurationError', 'configuration error', true, false],
  [19, 'ProtocolError', 'protocol error', true, false],
  [20, 'UpstreamClosed', 'upstream connection closed', false, false],
  [21, 'ProxyError', 'database proxy error', true, false],
  [22, 'HandlerError', 'protocol handler error', false, false],
  [23, 'SecurityThreat', 'security threat detected', false, false],
];

const byCode = new Map<number, CloseReasonInfo>(
  table.map(([code, name, message, isCritical, isRetryable]) => [
    code,
    Object.freeze({ code, name, message, isCritical, isRetryable }),
  ]),
);

/** Reason codes by name, e.g. `CloseConnectionReason.AIClosed === 15`. */
export const CloseConnectionReason = {
  Normal: 0,
  Error: 1,
  Timeout: 2,
  ServerRefuse: 4,
  Client: 5,
  Unknown: 6,
  InvalidInstruction: 7,
  GuacdRefuse: 8,
  ConnectionLost: 9,
  ConnectionFailed: 10,
  TunnelClosed: 11,
  AdminClosed: 12,
  ErrorRecording: 13,
  GuacdError: 14,
  AIClosed: 15,
  AddressResolutionFailed: 16,
  DecryptionFailed: 17,
  ConfigurationError: 18,
  ProtocolError: 19,
  UpstreamClosed: 20,
  ProxyError: 21,
  HandlerError: 22,
  SecurityThreat: 23,
} as const;

export type CloseConnectionReason = (typeof CloseConnectionReason)[keyof typeof CloseConnectionReason];

/** Information about a reason code; unassigned or out-of-range codes read as Unknown (6), as the original. */
export function closeReasonInfo(code: number): CloseReasonInfo {
  return byCode.get(code) ?? (byCode.get(CloseConnectionReason.Unknown) as CloseReasonInfo);
}

export function isKnownCloseReason(code: number): boolean {
  return byCode.has(code);
}

/** The JSON object the original puts in `channel_closed` signals. */
export function closeReasonJson(code: number): {
  code: number;
  name: string;
  is_critical: boolean;
  is_retryable: boolean;
} {
  const info = closeReasonInfo(code);
  return { code: info.code, name: info.name, is_critical: info.isCritical, is_retryable: info.isRetryable };
}
