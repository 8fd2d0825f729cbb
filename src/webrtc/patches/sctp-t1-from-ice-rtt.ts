/**
 * Patch `sctp-t1-from-ice-rtt`: the SCTP association's first retransmission timeout (T1 for INIT and
 * COOKIE-ECHO, and T3 for the first DATA chunk, the DCEP DATA_CHANNEL_OPEN, until a round trip is measured) is
 * derived from the round trip ICE just measured on the nominated pair: max(200 ms, 3 × ICE RTT), capped at the
 * 1 s that `sctp-init-rto` starts with.
 *
 * Why (werift 0.25.2 with `sctp-init-rto`): a lost INIT, INIT-ACK, COOKIE-ECHO, COOKIE-ACK or DCEP OPEN costs
 * the initial RTO, 1 s (werift alone: 3 s), while the whole set-up on a LAN takes tens of milliseconds; the
 * connectivity check that nominated the pair has just measured the path, so a timeout a few round trips long
 * is safe (a spurious INIT or COOKIE-ECHO is answered again, RFC 4960 §5.2). Once SCTP measures its own
 * round trip (`srtt`) werift's RTO computation takes over unchanged (RTO.min 1 s).
 *
 * Ours, per association, when ICE reports `connected` and before SCTP starts: `rto` is lowered from
 * `sctp-init-rto`'s 1 s; `sctp-init-rto`'s T1 wrapper doubles it on each expiry (200 → 400 → 800 ms → …,
 * ≤ 3 s), as before.
 */
import type { RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { expectType, sctpOf } from './internals.ts';
import { INIT_RTO_SECONDS } from './sctp-init-rto.ts';

const NAME = 'sctp-t1-from-ice-rtt';
export const MIN_T1_SECONDS = 0.2;

interface T1Shape {
  started: boolean;
  rto: number;
  srtt: number | undefined;
}

/** The RTO (s) for an ICE round trip (s); undefined rtt = unknown: keep the 1 s. */
export function t1ForIceRtt(rttSeconds: number | undefined): number {
  if (rttSeconds === undefined || !Number.isFinite(rttSeconds) || rttSeconds < 0) return INIT_RTO_SECONDS;
  return Math.min(INIT_RTO_SECONDS, Math.max(MIN_T1_SECONDS, 3 * rttSeconds));
}

/** Mismatches of the ICE connection's nominated pair (its measured `rtt`, seconds). */
export function checkNominatedRtt(connection: unknown, where: string): string[] {
  const problems: string[] = [];
  const nominated = (connection as { nominated?: unknown } | undefined)?.nominated;
  if (nominated === null || typeof nominated !== 'object') return [`${where}.nominated is missing`];
  expectType(problems, nominated, `${where}.nominated`, 'rtt', 'number');
  return problems;
}

const done = new WeakSet<object>();

function apply(pc: RTCPeerConnection, ctx: PatchContext): void {
  const sctp = sctpOf(pc) as unknown as T1Shape | undefined;
  if (!sctp || done.has(sctp)) return;
  // Only on top of sctp-init-rto's not yet started association (its 1 s), never after SCTP measured itself.
  if (sctp.started || sctp.srtt !== undefined || sctp.rto !== INIT_RTO_SECONDS) return;
  const connection = (pc as unknown as { iceTransports?: { connection?: unknown }[] }).iceTransports?.[0]
    ?.connection;
  const problems = checkNominatedRtt(connection, 'pc.iceTransports[0].connection');
  if (problems.length > 0) {
    ctx.shapeMismatch(NAME, problems);
    return;
  }
  done.add(sctp);
  sctp.rto = t1ForIceRtt((connection as { nominated: { rtt: number } }).nominated.rtt);
  ctx.markActive(NAME);
}

export const sctpT1FromIceRttPatch: WeriftPatch = {
  name: NAME,
  description:
    'SCTP T1 (INIT, COOKIE-ECHO) and the first T3 start at max(200 ms, 3 × ICE RTT) instead of 1 s',
  install(pc, ctx) {
    pc.iceConnectionStateChange.subscribe((s) => {
      if (s === 'connected') apply(pc, ctx);
    });
  },
};
