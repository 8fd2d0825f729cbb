/**
 * Patch `dtls-no-srtp`: a peer connection without media tracks does not build SRTP/SRTCP sessions when its
 * DTLS handshake completes.
 *
 * Why (werift 0.25.2): `RTCDtlsTransport.start()` calls `startSrtp()` after every handshake that negotiated
 * an SRTP profile (werift always offers them, and so do browsers), and that derives the SRTP master keys,
 * builds an SRTP and an SRTCP session (each a set of AES and HMAC contexts) and subscribes a media
 * demultiplexer to every datagram the ICE connection receives. A tube carries only data channels: the CPU of
 * the handshake and the memory of an idle tube paid for sessions nothing uses (figures in
 * docs/PERFORMANCE.md "Transport, part 2").
 *
 * Ours, per DTLS transport: `startSrtp` (an instance lookup) is replaced by one that does nothing while the
 * peer connection has no transceiver, and calls werift's otherwise. The handshake is unchanged (use_srtp is
 * still offered and negotiated), so a peer that adds media later renegotiates as before.
 */
import type { RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { dtlsTransportsOf, expectFunction } from './internals.ts';

const NAME = 'dtls-no-srtp';

interface SrtpTransportShape {
  srtpProfiles: unknown[];
  startSrtp(): void;
}

/** Counts skipped SRTP set-ups (tests). */
export const srtpSkipStats = { skipped: 0 };

/** Mismatches between a werift RTCDtlsTransport and what this patch expects. */
export function checkSrtpTransport(transport: unknown, where: string): string[] {
  if (transport === null || typeof transport !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const t = transport as SrtpTransportShape;
  if (!Array.isArray(t.srtpProfiles)) problems.push(`${where}.srtpProfiles is not an array`);
  expectFunction(problems, t, where, 'startSrtp', 0);
  const proto = Object.getPrototypeOf(t) as Record<string, unknown> | null;
  if (!/this\.startSrtp\(\)/.test(String(proto?.['start'] ?? ''))) {
    problems.push(`${where}.start no longer calls this.startSrtp()`);
  }
  return problems;
}

const hooked = new WeakSet<object>();

function hookAll(pc: RTCPeerConnection, ctx: PatchContext): void {
  for (const [i, t] of dtlsTransportsOf(pc).entries()) {
    if (hooked.has(t)) continue;
    hooked.add(t);
    const where = `pc.dtlsTransports[${i}]`;
    const problems = checkSrtpTransport(t, where);
    if (problems.length > 0) {
      ctx.shapeMismatch(NAME, problems);
      continue;
    }
    const transport = t as unknown as SrtpTransportShape;
    const stock = transport.startSrtp;
    transport.startSrtp = function startSrtp(this: SrtpTransportShape): void {
      if (pc.getTransceivers().length === 0) {
        srtpSkipStats.skipped++;
        return;
      }
      stock.call(this);
    };
    ctx.markActive(NAME);
  }
}

export const dtlsNoSrtpPatch: WeriftPatch = {
  name: NAME,
  description:
    'no SRTP/SRTCP sessions for a connection without media (werift builds them after every handshake)',
  install(pc, ctx) {
    hookAll(pc, ctx);
    pc.signalingStateChange.subscribe(() => hookAll(pc, ctx));
    pc.connectionStateChange.subscribe(() => hookAll(pc, ctx));
  },
};
