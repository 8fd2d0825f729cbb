/** Control messages byte for byte (docs/ORIGINAL.md, “Frames” and “Control messages”) and the capability/keepalive bodies. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TubesError } from '../../src/errors.ts';
import { encodeFrame, FrameDecoder } from '../../src/hotpath/index.ts';
import {
  Capability,
  capabilityAnswerBody,
  capabilityProbeBody,
  isCapabilityProbe,
  keepaliveBody,
  OUR_CAPABILITIES,
  pongBodyFor,
  readCapabilityPong,
  readKeepalive,
} from '../../src/protocol/capabilities.ts';
import {
  CloseConnectionReason,
  closeReasonInfo,
  closeReasonJson,
  isKnownCloseReason,
} from '../../src/protocol/close-reason.ts';
import {
  encodeCloseConnection,
  encodeConnectionOpened,
  encodeFlowPause,
  encodeFlowResume,
  encodeOpenConnection,
  encodePing,
  encodePong,
  encodeSendEof,
  parseControl,
} from '../../src/protocol/control.ts';

const TS = 1700000000000;
const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
const frame = (payload: Uint8Array): string => encodeFrame(0, payload, TS).toString('hex');

describe("control frames: the original's worked examples", () => {
  const cases: [string, Uint8Array, string][] = [
    ['Ping (basic)', encodePing(0), '00000000 | 0000018bcfe56800 | 00000006 | 0001 00000000 | 3b'],
    ['Pong reply', encodePong(0), '00000000 | 0000018bcfe56800 | 00000006 | 0002 00000000 | 3b'],
    [
      'OpenConnection conn 1',
      encodeOpenConnection(1),
      '00000000 | 0000018bcfe56800 | 00000006 | 0065 00000001 | 3b',
    ],
    [
      'ConnectionOpened conn 1',
      encodeConnectionOpened(1),
      '00000000 | 0000018bcfe56800 | 00000006 | 0067 00000001 | 3b',
    ],
    ['SendEOF conn 1', encodeSendEof(1), '00000000 | 0000018bcfe56800 | 00000006 | 0068 00000001 | 3b'],
    [
      'CloseConnection conn 1 Normal',
      encodeCloseConnection(1, CloseConnectionReason.Normal),
      '00000000 | 0000018bcfe56800 | 00000007 | 0066 00000001 00 | 3b',
    ],
    [
      'CloseConnection conn 1 ConnectionLost with message',
      encodeCloseConnection(1, 9, 'Backend connection closed unexpectedly'),
      '00000000 | 0000018bcfe56800 | 0000002f | 0066 00000001 09 0026 4261636b656e6420636f6e6e656374696f6e20636c6f73656420756e65787065637465646c79 | 3b',
    ],
    [
      'CloseConnection conn 0 AIClosed',
      encodeCloseConnection(0, 15),
      '00000000 | 0000018bcfe56800 | 00000007 | 0066 00000000 0f | 3b',
    ],
    [
      'SOCKS5 OpenConnection conn 2 example.com:443',
      encodeOpenConnection(2, hex('0000000b 6578616d706c652e636f6d 01bb')),
      '00000000 | 0000018bcfe56800 | 00000017 | 0065 00000002 0000000b 6578616d706c652e636f6d 01bb | 3b',
    ],
  ];
  it.each(cases)('%s encodes byte for byte', (_name, payload, expected) => {
    expect(frame(payload)).toBe(hex(expected).toString('hex'));
  });
  it.each(cases)('%s decodes back', (_name, payload, expected) => {
    const frames = new FrameDecoder().decode(hex(expected));
    expect(frames).toHaveLength(1);
    expect(Buffer.from(frames[0]?.payload ?? []).equals(payload)).toBe(true);
    expect(parseControl(frames[0]?.payload as Uint8Array)).not.toBeInstanceOf(TubesError);
  });

  it('Data "hello" on conn 1 (22 bytes)', () => {
    expect(encodeFrame(1, Buffer.from('hello'), TS).toString('hex')).toBe(
      hex('00000001 | 0000018bcfe56800 | 00000005 | 68656c6c6f | 3b').toString('hex'),
    );
  });
});

describe('parseControl', () => {
  it('reads every message type', () => {
    expect(parseControl(encodePing(0))).toMatchObject({ type: 'ping', connNo: 0, short: false });
    expect((parseControl(encodePing(0)) as { body: Uint8Array }).body.length).toBe(0);
    expect(parseControl(hex('0001'))).toMatchObject({ type: 'ping', short: true });
    expect(parseControl(encodePong(7, Buffer.from('x')))).toMatchObject({ type: 'pong', connNo: 7 });
    expect(parseControl(encodeOpenConnection(3, Buffer.from([1, 2])))).toMatchObject({
      type: 'open',
      connNo: 3,
    });
    expect(parseControl(encodeConnectionOpened(4))).toEqual({ type: 'opened', connNo: 4 });
    expect(parseControl(encodeSendEof(5))).toEqual({ type: 'eof', connNo: 5 });
    expect(parseControl(encodeFlowPause(6))).toEqual({ type: 'flow-pause', connNo: 6 });
    expect(parseControl(encodeFlowResume(6))).toEqual({ type: 'flow-resume', connNo: 6 });
    expect(parseControl(hex('012d 00'))).toEqual({
      type: 'metrics-request',
      requestType: 0,
      connId: undefined,
    });
    expect(parseControl(hex('012d 01 00000009'))).toEqual({
      type: 'metrics-request',
      requestType: 1,
      connId: 9,
    });
    expect(parseControl(hex('7777'))).toEqual({ type: 'unknown', code: 0x7777 });
  });

  it('CloseConnection: missing reason is Normal, missing or bad message is ignored', () => {
    expect(parseControl(hex('0066 00000001'))).toEqual({
      type: 'close',
      connNo: 1,
      reason: 0,
      message: undefined,
    });
    expect(parseControl(hex('0066 00000001 0e'))).toEqual({
      type: 'close',
      connNo: 1,
      reason: 14,
      message: undefined,
    });
    expect(parseControl(hex('0066 00000001 0e 0005 6869'))).toEqual({
      type: 'close',
      connNo: 1,
      reason: 14,
      message: undefined,
    });
    expect(parseControl(encodeCloseConnection(1, 10, 'Grüße 日本語'))).toEqual({
      type: 'close',
      connNo: 1,
      reason: 10,
      message: 'Grüße 日本語',
    });
  });

  it('CloseConnection messages are capped at 1,024 bytes on a character boundary', () => {
    const p = encodeCloseConnection(1, 1, 'é'.repeat(600));
    const msg = parseControl(p);
    expect(msg).toMatchObject({ type: 'close' });
    const text = (msg as { message: string }).message;
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1024);
    expect(text).toBe('é'.repeat(512));
  });

  it('short bodies are typed errors, never throws', () => {
    for (const bad of ['', '00', '0002 0000', '0065 000000', '0066', '0067 00', '0068', '012d', '03e9 00']) {
      const r = parseControl(hex(bad));
      expect(r, bad).toBeInstanceOf(TubesError);
      expect((r as TubesError).code).toBe('TUBES_ERR_CONTROL_MALFORMED');
    }
  });

  it('random bytes: only messages or TubesError values', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const r = parseControl(bytes);
        expect(r instanceof TubesError || typeof (r as { type: unknown }).type === 'string').toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('capabilities and keepalive bodies', () => {
  it('an echoed probe reads as no extensions; our answer carries the bits', () => {
    const probe = capabilityProbeBody();
    expect(isCapabilityProbe(probe)).toBe(true);
    expect(readCapabilityPong(probe)).toBe(0);
    expect(readCapabilityPong(capabilityAnswerBody())).toBe(OUR_CAPABILITIES);
    expect(OUR_CAPABILITIES & Capability.FlowControl).toBe(Capability.FlowControl);
    expect(readCapabilityPong(keepaliveBody(1))).toBeUndefined();
  });
  it('a Ping is answered by the one rule both ends use: the probe on conn 0 with extensions, else an echo', () => {
    const probe = capabilityProbeBody();
    expect(readCapabilityPong(pongBodyFor(0, probe, true))).toBe(OUR_CAPABILITIES);
    expect(readCapabilityPong(pongBodyFor(0, probe, true, Capability.FlowControl))).toBe(
      Capability.FlowControl,
    );
    // Extensions off (or the probe on a connection): echoed, which reads as "no extensions" on the prober.
    expect(pongBodyFor(0, probe, false)).toBe(probe);
    expect(pongBodyFor(3, probe, true)).toBe(probe);
    const keepalive = keepaliveBody(TS);
    expect(pongBodyFor(0, keepalive, true)).toBe(keepalive);
  });
  it('keepalive timestamps round-trip above 2^32', () => {
    expect(readKeepalive(keepaliveBody(TS))).toBe(TS);
    expect(readKeepalive(Buffer.alloc(7))).toBeUndefined();
  });
});

describe('close reasons', () => {
  it('match the original table', () => {
    expect(closeReasonJson(15)).toEqual({
      code: 15,
      name: 'AIClosed',
      is_critical: false,
      is_retryable: false,
    });
    expect(closeReasonInfo(14)).toMatchObject({
      name: 'GuacdError',
      isCritical: true,
      message: 'guacd protocol error',
    });
    expect(closeReasonInfo(3).name).toBe('Unknown');
    expect(closeReasonInfo(200).code).toBe(6);
    expect(closeReasonInfo(9)).toMatchObject({ isRetryable: true, message: 'connection lost' });
  });

  it('CloseConnectionReason (public API) keeps its names, codes, order and literal types', () => {
    const published = {
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
    type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
    const sameType: Same<typeof CloseConnectionReason, typeof published> = true;
    expect(sameType).toBe(true);
    expect(Object.entries(CloseConnectionReason)).toEqual(Object.entries(published));
    for (const [name, code] of Object.entries(published)) {
      expect(closeReasonInfo(code).name).toBe(name);
      expect(isKnownCloseReason(code)).toBe(true);
    }
    expect(isKnownCloseReason(3)).toBe(false);
    expect(isKnownCloseReason(24)).toBe(false);
  });
});
