/**
 * Patch `sctp-path-reset`: after an outage, SCTP congestion control starts again as on a new path instead of
 * crawling. During a blackout werift's T3 retransmission timer fires every RTO (≈ 1 s; werift neither backs
 * off nor aborts the association, so the association survives any outage) and each expiry halves
 * `ssthresh`, down to its floor of 4 × MTU (4,640 bytes). When the path comes back (usually over a new
 * candidate pair after an ICE restart) the association is left in congestion avoidance from one MTU, growing
 * by one MTU per round trip: measured in netns after an 8 s cut, throughput stayed at ≈ 1 MiB/s for the
 * following 30 s (cwnd 1,160 → 204,160 bytes), against 3 MiB/s (paced) before the cut. The losses were the
 * blackout's, not congestion's; RFC 9260 §7.2.1 initialises cwnd and ssthresh for a new destination. So
 * when the tube sees the path back (`sctpPathRecovered(pc)`, called from src/webrtc/peer.ts), `ssthresh`
 * goes back to what the association starts with (the peer's advertised receive window, werift's own initial
 * value) and slow start resumes from the current cwnd (at least werift's initial 3 × MTU).
 */
import type { RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { sctpOf } from './internals.ts';

const NAME = 'sctp-path-reset';

interface CongestionShape {
  cwnd: number;
  ssthresh: number | undefined;
  peerRwnd: number;
  maxPayloadSize: number;
}

/** Connections on which the patch is in force. */
const active = new WeakSet<RTCPeerConnection>();

/** Mismatches between an established werift SCTP association and what this patch expects. */
export function checkSctpCongestion(sctp: unknown, where: string): string[] {
  if (sctp === null || typeof sctp !== 'object') return [`${where} is missing`];
  const s = sctp as Record<string, unknown>;
  const problems: string[] = [];
  for (const name of ['cwnd', 'peerRwnd', 'maxPayloadSize']) {
    if (typeof s[name] !== 'number') problems.push(`${where}.${name} is ${typeof s[name]}, expected number`);
  }
  if (!('ssthresh' in s)) problems.push(`${where}.ssthresh is missing`);
  return problems;
}

/**
 * The path is back after an outage: congestion control restarts in slow start toward the association's
 * initial ssthresh. Returns false when the patch is not in force on `pc` (nothing changed).
 */
export function sctpPathRecovered(pc: RTCPeerConnection): boolean {
  if (!active.has(pc)) return false;
  const s = sctpOf(pc) as unknown as CongestionShape | undefined;
  if (!s || s.ssthresh === undefined) return false;
  s.ssthresh = Math.max(s.ssthresh, s.peerRwnd);
  s.cwnd = Math.max(s.cwnd, 3 * s.maxPayloadSize);
  return true;
}

export const sctpPathResetPatch: WeriftPatch = {
  name: NAME,
  description:
    'after an outage SCTP resumes slow start toward its initial ssthresh (werift: stuck at 4 × MTU)',
  install(pc: RTCPeerConnection, ctx: PatchContext) {
    ctx.whenConnected(() => {
      if (active.has(pc)) return;
      const problems = checkSctpCongestion(sctpOf(pc), 'pc.sctpTransport.sctp');
      if (problems.length > 0) {
        ctx.shapeMismatch(NAME, problems);
        return;
      }
      active.add(pc);
      ctx.markActive(NAME);
    });
  },
};
