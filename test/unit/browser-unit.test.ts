/**
 * Pieces of webrtc-tubes/browser that need no browser: the platform seam's browser implementation
 * (src/platform/bytes.browser.ts) against the Node one on arbitrary bytes, and the close reason → Guacamole
 * status mapping of the tunnel. The tube itself runs in Chromium (test/browser-e2e.test.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuacStatus, guacStatusForClose } from '../../src/browser/guacamole-tunnel.ts';
import * as web from '../../src/platform/bytes.browser.ts';
import * as node from '../../src/platform/bytes.ts';
import { CloseConnectionReason as R } from '../../src/protocol/close-reason.ts';

describe('platform seam: the browser implementation agrees with the Node one', () => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.string({ unit: 'grapheme', maxLength: 80 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
    fc.string({ unit: 'binary', maxLength: 80 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
  );

  it('isAscii, isUtf8, decodeUtf8 on arbitrary bytes (also from a SharedArrayBuffer, as Wasm memory is)', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const shared = new Uint8Array(new SharedArrayBuffer(b.length + 3), 3, b.length);
        shared.set(b);
        for (const v of [b, shared]) {
          expect(web.isAscii(v)).toBe(node.isAscii(v));
          expect(web.isUtf8(v)).toBe(node.isUtf8(v));
          expect(web.decodeUtf8(v)).toBe(node.decodeUtf8(v));
        }
      }),
      { numRuns: 400 },
    );
  });

  it('encodeUtf8 and bytesFromBase64', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.uint8Array({ maxLength: 200 }), (s, b) => {
        expect([...web.encodeUtf8(s)]).toEqual([...node.encodeUtf8(s)]);
        const b64 = Buffer.from(b).toString('base64');
        expect([...web.bytesFromBase64(b64)]).toEqual([...node.bytesFromBase64(b64)]);
      }),
    );
    expect(web.allocBytes(5)).toBeInstanceOf(Uint8Array);
  });
});

describe('TubeTunnel: Guacamole status codes from close reasons', () => {
  it.each([
    [R.Normal, undefined, GuacStatus.SUCCESS],
    [R.Client, undefined, GuacStatus.SUCCESS],
    [R.GuacdError, 'Guacd error: Aborted. See logs., 519', 519],
    [R.GuacdError, 'Guacd error: Server error., 512', 0x0200],
    [R.GuacdError, 'Guacd protocol parsing error: bad length', GuacStatus.UPSTREAM_ERROR],
    [R.GuacdError, undefined, GuacStatus.UPSTREAM_ERROR],
    [R.Timeout, undefined, GuacStatus.UPSTREAM_TIMEOUT],
    [R.ConnectionLost, 'data channel closed', GuacStatus.UPSTREAM_ERROR],
    [R.ConnectionFailed, 'connect ECONNREFUSED', GuacStatus.UPSTREAM_NOT_FOUND],
    [R.AddressResolutionFailed, undefined, GuacStatus.UPSTREAM_NOT_FOUND],
    [R.GuacdRefuse, undefined, GuacStatus.UPSTREAM_UNAVAILABLE],
    [R.AdminClosed, undefined, GuacStatus.SESSION_CLOSED],
    [R.SecurityThreat, undefined, GuacStatus.CLIENT_FORBIDDEN],
    [R.ProtocolError, undefined, GuacStatus.SERVER_ERROR],
    [R.ConfigurationError, undefined, GuacStatus.SERVER_ERROR],
  ])('reason %i (%s) → 0x%s', (reason, message, code) => {
    expect(guacStatusForClose({ reason, message })).toBe(code);
  });
});
