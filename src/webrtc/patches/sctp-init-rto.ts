/**
 * Patch `sctp-init-rto`: the SCTP association starts with a 1 s retransmission timeout instead of werift's
 * 3 s (RFC 4960's RTO.Initial), and T1 (INIT / COOKIE-ECHO) backs off 1 → 2 → 3 s and stays there, as
 * werift's T1 does not back off at all. WebRTC stacks use 1 s or less for T1-init (libwebrtc's dcsctp:
 * 1 s, RTO.initial 500 ms). Measured through scripts/peers/udp-impair-proxy.mjs at 3 % loss: a lost INIT,
 * INIT-ACK, COOKIE-ECHO or COOKIE-ACK (≈ 12 % of establishments) cost 3 s each, and a tube came up after
 * 6.2 s; with this patch such a loss costs 1 s. Once werift has measured a round trip (`srtt`), its own RTO
 * computation takes over unchanged; data retransmission keeps RTO.min = 1 s.
 * Ours: the instance's `rto` is lowered before `start()`, and `timer1Expired` (an instance property werift
 * passes to setTimeout each time) is wrapped to double `rto` (≤ 3 s) before werift resends the chunk.
 */
import type { RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { expectFunction, expectType, ownFunction, sctpOf } from './internals.ts';

const NAME = 'sctp-init-rto';
/** werift's SCTP_RTO_INITIAL (seconds). */
const WERIFT_RTO_INITIAL = 3;
export const INIT_RTO_SECONDS = 1;

interface SctpInitShape {
  started: boolean;
  rto: number;
  srtt: number | undefined;
  timer1Expired: () => void;
  timer1Start(chunk: unknown): void;
}

const patched = new WeakSet<object>();

/** Mismatches between a not yet started werift SCTP association and what this patch expects. */
export function checkSctpInit(sctp: unknown, where: string): string[] {
  if (sctp === null || typeof sctp !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const s = sctp as SctpInitShape;
  expectType(problems, s, where, 'started', 'boolean');
  expectType(problems, s, where, 'rto', 'number');
  if (!('srtt' in s)) problems.push(`${where}.srtt is missing`);
  if (!ownFunction(s, 'timer1Expired'))
    problems.push(`${where}.timer1Expired is not an own function property`);
  else expectFunction(problems, s, where, 'timer1Expired', 0);
  expectFunction(problems, s, where, 'timer1Start', 1);
  // werift must look the handler up on the instance each time it arms T1.
  const proto = Object.getPrototypeOf(s) as { timer1Start?: unknown } | null;
  if (typeof proto?.timer1Start === 'function' && !String(proto.timer1Start).includes('this.timer1Expired')) {
    problems.push(`${where}.timer1Start no longer arms this.timer1Expired`);
  }
  return problems;
}

function apply(pc: RTCPeerConnection, ctx: PatchContext): void {
  const sctp = sctpOf(pc) as unknown as SctpInitShape | undefined;
  if (!sctp || patched.has(sctp)) return;
  if (sctp.started || sctp.rto !== WERIFT_RTO_INITIAL || sctp.srtt !== undefined) return; // too late: leave it
  const problems = checkSctpInit(sctp, 'pc.sctpTransport.sctp');
  if (problems.length > 0) {
    ctx.shapeMismatch(NAME, problems);
    return;
  }
  patched.add(sctp);
  sctp.rto = INIT_RTO_SECONDS;
  const stockExpired = sctp.timer1Expired;
  sctp.timer1Expired = () => {
    if (sctp.srtt === undefined && sctp.rto < WERIFT_RTO_INITIAL) {
      sctp.rto = Math.min(WERIFT_RTO_INITIAL, sctp.rto * 2);
    }
    stockExpired();
  };
  ctx.markActive(NAME);
}

export const sctpInitRtoPatch: WeriftPatch = {
  name: NAME,
  description:
    'SCTP starts with a 1 s RTO and T1 (INIT / COOKIE-ECHO) backs off 1 → 2 → 3 s (werift: fixed 3 s)',
  install(pc, ctx) {
    // The association exists once a description created the SCTP transport; it starts after DTLS connects.
    pc.iceConnectionStateChange.subscribe(() => apply(pc, ctx));
    pc.connectionStateChange.subscribe((s) => {
      if (s === 'connecting') apply(pc, ctx);
    });
  },
};
