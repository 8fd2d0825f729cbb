/**
 * Control messages: frames on conn_no 0 whose payload is `code u16 BE` + body (docs/ORIGINAL.md, “Control messages”).
 * Encoders return the control payload; the caller wraps it in a frame. The parser never throws: malformed
 * input yields a TubesError value so a hostile peer cannot break the frame loop. Platform-neutral (Uint8Array
 * only): the browser build uses it as it is.
 */
import { ErrorCode, TubesError } from '../errors.ts';
import { allocBytes, decodeUtf8, encodeUtf8 } from '../platform/bytes.ts';
import { CloseConnectionReason } from './close-reason.ts';

export const ControlCode = {
  Ping: 1,
  Pong: 2,
  OpenConnection: 101,
  CloseConnection: 102,
  ConnectionOpened: 103,
  SendEOF: 104,
  MetricsRequest: 301,
  MetricsResponse: 302,
  MetricsConfig: 303,
  /** Extension (docs/PROTOCOL.md): stop reading the source of a connection. Sent only to a peer that said it knows it. */
  FlowPause: 1001,
  /** Extension (docs/PROTOCOL.md): resume reading the source of a connection. */
  FlowResume: 1002,
} as const;

export type ControlCode = (typeof ControlCode)[keyof typeof ControlCode];

/** The original caps the CloseConnection message at 1,024 bytes. */
export const MAX_CLOSE_MESSAGE_BYTES = 1024;

export type ControlMessage =
  | { type: 'ping'; connNo: number; body: Uint8Array; short: boolean }
  | { type: 'pong'; connNo: number; body: Uint8Array }
  | { type: 'open'; connNo: number; tail: Uint8Array }
  | { type: 'close'; connNo: number; reason: number; message: string | undefined }
  | { type: 'opened'; connNo: number }
  | { type: 'eof'; connNo: number }
  | { type: 'metrics-request'; requestType: number; connId: number | undefined }
  | { type: 'metrics-response'; body: Uint8Array }
  | { type: 'metrics-config'; body: Uint8Array }
  | { type: 'flow-pause'; connNo: number }
  | { type: 'flow-resume'; connNo: number }
  | { type: 'unknown'; code: number };

function writeU16(out: Uint8Array, value: number, at: number): void {
  out[at] = value >>> 8;
  out[at + 1] = value;
}

function writeU32(out: Uint8Array, value: number, at: number): void {
  out[at] = value >>> 24;
  out[at + 1] = value >>> 16;
  out[at + 2] = value >>> 8;
  out[at + 3] = value;
}

function withCode(code: number, bodyLength: number): Uint8Array {
  const out = allocBytes(2 + bodyLength);
  writeU16(out, code, 0);
  return out;
}

function connOnly(code: number, connNo: number): Uint8Array {
  const out = withCode(code, 4);
  writeU32(out, connNo >>> 0, 2);
  return out;
}

export function encodeOpenConnection(connNo: number, tail?: Uint8Array): Uint8Array {
  const out = withCode(ControlCode.OpenConnection, 4 + (tail?.length ?? 0));
  writeU32(out, connNo >>> 0, 2);
  if (tail) out.set(tail, 6);
  return out;
}

export function encodeConnectionOpened(connNo: number): Uint8Array {
  return connOnly(ControlCode.ConnectionOpened, connNo);
}

export function encodeSendEof(connNo: number): Uint8Array {
  return connOnly(ControlCode.SendEOF, connNo);
}

export function encodeFlowPause(connNo: number): Uint8Array {
  return connOnly(ControlCode.FlowPause, connNo);
}

export function encodeFlowResume(connNo: number): Uint8Array {
  return connOnly(ControlCode.FlowResume, connNo);
}

/**
 * CloseConnection: conn_no + reason byte + optional (u16 length + UTF-8 text). Text longer than 1,024 bytes is cut
 * at a character boundary, as the receiver of the original would reject it otherwise.
 */
export function encodeCloseConnection(connNo: number, reason: number, message?: string): Uint8Array {
  let text: Uint8Array | undefined;
  if (message !== undefined && message.length > 0) {
    text = encodeUtf8(message);
    if (text.length > MAX_CLOSE_MESSAGE_BYTES) {
      let end = MAX_CLOSE_MESSAGE_BYTES;
      while (end > 0 && ((text[end] as number) & 0xc0) === 0x80) end--;
      text = text.subarray(0, end);
    }
  }
  const out = withCode(ControlCode.CloseConnection, 5 + (text ? 2 + text.length : 0));
  writeU32(out, connNo >>> 0, 2);
  out[6] = reason & 0xff;
  if (text) {
    writeU16(out, text.length, 7);
    out.set(text, 9);
  }
  return out;
}

/** Ping with conn_no + opaque body (our keepalive sends conn 0 + an 8-byte timestamp). */
export function encodePing(connNo: number, body?: Uint8Array): Uint8Array {
  const out = withCode(ControlCode.Ping, 4 + (body?.length ?? 0));
  writeU32(out, connNo >>> 0, 2);
  if (body) out.set(body, 6);
  return out;
}

export function encodePong(connNo: number, body?: Uint8Array): Uint8Array {
  const out = withCode(ControlCode.Pong, 4 + (body?.length ?? 0));
  writeU32(out, connNo >>> 0, 2);
  if (body) out.set(body, 6);
  return out;
}

export function encodeMetricsResponse(json: string): Uint8Array {
  const text = encodeUtf8(json);
  const out = withCode(ControlCode.MetricsResponse, text.length);
  out.set(text, 2);
  return out;
}

function malformed(what: string, length: number): TubesError {
  return new TubesError(ErrorCode.CONTROL_MALFORMED, `Malformed ${what} control message (${length} bytes)`);
}

function u32(p: Uint8Array, at: number): number {
  return (
    (((p[at] as number) << 24) |
      ((p[at + 1] as number) << 16) |
      ((p[at + 2] as number) << 8) |
      (p[at + 3] as number)) >>>
    0
  );
}

/** Parses a control payload (the payload of a frame on conn_no 0). */
export function parseControl(payload: Uint8Array): ControlMessage | TubesError {
  if (payload.length < 2) return malformed('(no code)', payload.length);
  const code = ((payload[0] as number) << 8) | (payload[1] as number);
  const n = payload.length - 2;
  switch (code) {
    case ControlCode.Ping:
      if (n < 4) return { type: 'ping', connNo: 0, body: payload.subarray(2 + n), short: true };
      return { type: 'ping', connNo: u32(payload, 2), body: payload.subarray(6), short: false };
    case ControlCode.Pong:
      if (n < 4) return malformed('Pong', payload.length);
      return { type: 'pong', connNo: u32(payload, 2), body: payload.subarray(6) };
    case ControlCode.OpenConnection:
      if (n < 4) return malformed('OpenConnection', payload.length);
      return { type: 'open', connNo: u32(payload, 2), tail: payload.subarray(6) };
    case ControlCode.CloseConnection: {
      if (n < 4) return malformed('CloseConnection', payload.length);
      const connNo = u32(payload, 2);
      if (n < 5) return { type: 'close', connNo, reason: CloseConnectionReason.Normal, message: undefined };
      const reason = payload[6] as number;
      if (n < 7) return { type: 'close', connNo, reason, message: undefined };
      const len = ((payload[7] as number) << 8) | (payload[8] as number);
      if (len > MAX_CLOSE_MESSAGE_BYTES || 9 + len > payload.length) {
        return { type: 'close', connNo, reason, message: undefined };
      }
      const message = decodeUtf8(payload.subarray(9, 9 + len));
      return { type: 'close', connNo, reason, message };
    }
    case ControlCode.ConnectionOpened:
      if (n < 4) return malformed('ConnectionOpened', payload.length);
      return { type: 'opened', connNo: u32(payload, 2) };
    case ControlCode.SendEOF:
      if (n < 4) return malformed('SendEOF', payload.length);
      return { type: 'eof', connNo: u32(payload, 2) };
    case ControlCode.MetricsRequest:
      if (n < 1) return malformed('MetricsRequest', payload.length);
      return {
        type: 'metrics-request',
        requestType: payload[2] as number,
        connId: n >= 5 ? u32(payload, 3) : undefined,
      };
    case ControlCode.MetricsResponse:
      return { type: 'metrics-response', body: payload.subarray(2) };
    case ControlCode.MetricsConfig:
      return { type: 'metrics-config', body: payload.subarray(2) };
    case ControlCode.FlowPause:
      if (n < 4) return malformed('FlowPause', payload.length);
      return { type: 'flow-pause', connNo: u32(payload, 2) };
    case ControlCode.FlowResume:
      if (n < 4) return malformed('FlowResume', payload.length);
      return { type: 'flow-resume', connNo: u32(payload, 2) };
    default:
      return { type: 'unknown', code };
  }
}
