/**
 * CloseConnection reasons: one byte on the wire (docs/ORIGINAL.md, “Close reasons”). Code 3 is unassigned,
 * unknown codes read as Unknown (6), a missing byte reads as Normal (0).
 *
 * Every reason is listed once, in `REASONS`; `CloseConnectionReason` and the info lookup are derived
 * from it. Code anywhere else names a reason as `CloseConnectionReason.<Name>`, never by its number.
 */
export interface CloseReasonInfo {
  readonly code: number;
  readonly name: string;
  readonly message: string;
  readonly isCritical: boolean;
  readonly isRetryable: boolean;
}

/** name → [code, message, isCritical, isRetryable], in code order. */
const REASONS = {
  Normal: [0, 'connection closed normally', false, false],
  Error: [1, 'connection error', true, false],
  Timeout: [2, 'connection timeout', false, true],
  ServerRefuse: [4, 'server refused connection', false, true],
  Client: [5, 'client closed connection', false, false],
  Unknown: [6, 'unknown error', false, false],
  InvalidInstruction: [7, 'invalid instruction', false, false],
  GuacdRefuse: [8, 'guacd refused connection', false, false],
  ConnectionLost: [9, 'connection lost', false, true],
  ConnectionFailed: [10, 'connection failed', false, true],
  TunnelClosed: [11, 'tunnel closed', false, false],
  AdminClosed: [12, 'administrator closed connection', false, false],
  ErrorRecording: [13, 'error recording session', true, false],
  GuacdError: [14, 'guacd protocol error', true, false],
  AIClosed: [15, 'AI closed connection', false, false],
  AddressResolutionFailed: [16, 'address resolution failed', false, true],
  DecryptionFailed: [17, 'decryption failed', true, false],
  ConfigurationError: [18, 'configuration error', true, false],
  ProtocolError: [19, 'protocol error', true, false],
  UpstreamClosed: [20, 'upstream connection closed', false, false],
  ProxyError: [21, 'database proxy error', true, false],
  HandlerError: [22, 'protocol handler error', false, false],
  SecurityThreat: [23, 'security threat detected', false, false],
} as const satisfies Record<string, readonly [number, string, boolean, boolean]>;

type ReasonName = keyof typeof REASONS;

/** Reason codes by name, e.g. `CloseConnectionReason.AIClosed === 15`. */
export const CloseConnectionReason = Object.fromEntries(
  Object.entries(REASONS).map(([name, [code]]) => [name, code]),
) as { readonly [Name in ReasonName]: (typeof REASONS)[Name][0] };

export type CloseConnectionReason = (typeof CloseConnectionReason)[keyof typeof CloseConnectionReason];

const byCode = new Map<number, CloseReasonInfo>(
  Object.entries(REASONS).map(([name, [code, message, isCritical, isRetryable]]) => [
    code,
    Object.freeze({ code, name, message, isCritical, isRetryable }),
  ]),
);

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
