/**
 * Patch `ice-request-ids-bounded`: the transaction IDs of the STUN requests a candidate pair received are kept
 * for the last `RECENT_REQUEST_IDS` requests only.
 *
 * Why (werift 0.25.2): every incoming binding request adds its transaction ID (a 24-character hex string) to
 * the pair's `requestTransactionIds` Set, which is never pruned; it only serves to count retransmissions
 * (`retransmissionsReceived`, a statistic). The peer's consent checks (RFC 7675, every 4–6 s) keep arriving
 * for the life of the connection, so an idle tube's memory grows by ≈ 49 KiB an hour (720 IDs, measured),
 * ≈ 1.1 MiB a day (docs/PERFORMANCE.md "Transport, part 2").
 *
 * Ours: each candidate pair's Set is replaced by one that forgets the oldest ID beyond the last
 * `RECENT_REQUEST_IDS`; a STUN retransmission arrives within seconds of its original (RFC 8489 §6.2.1: at most
 * 39.5 s with the default RTO, a handful of requests on a pair), so the statistic is unchanged. Pairs are
 * looked up each time the connection reaches `connected` (a restart brings new ones).
 */
import type { RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { expectFunction } from './internals.ts';

const NAME = 'ice-request-ids-bounded';

/** Transaction IDs remembered per candidate pair. */
export const RECENT_REQUEST_IDS = 64;

/** A Set that keeps its last `max` additions (insertion order: the oldest goes first). */
export class RecentIds<T> extends Set<T> {
  readonly #max: number;

  constructor(max: number, initial: Iterable<T> = []) {
    super();
    this.#max = max;
    for (const v of initial) this.add(v);
  }

  override add(value: T): this {
    if (super.has(value)) return this;
    super.add(value);
    if (this.size > this.#max) {
      const oldest = this.values().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return this;
  }
}

interface PairShape {
  requestTransactionIds: Set<string>;
  noteIncomingRequest(transactionId: string): boolean;
}

/** Mismatches between a werift CandidatePair and what this patch expects. */
export function checkCandidatePair(pair: unknown, where: string): string[] {
  if (pair === null || typeof pair !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const p = pair as PairShape;
  if (!(p.requestTransactionIds instanceof Set)) problems.push(`${where}.requestTransactionIds is not a Set`);
  expectFunction(problems, p, where, 'noteIncomingRequest', 1);
  const src = String((Object.getPrototypeOf(p) as Record<string, unknown>)['noteIncomingRequest'] ?? '');
  if (
    !src.includes('this.requestTransactionIds.has(transactionId)') ||
    !src.includes('.add(transactionId)')
  ) {
    problems.push(`${where}.noteIncomingRequest no longer records IDs in requestTransactionIds`);
  }
  return problems;
}

/** Bounds `pair`'s remembered request IDs (once). */
export function boundPair(pair: PairShape): void {
  if (pair.requestTransactionIds instanceof RecentIds) return;
  pair.requestTransactionIds = new RecentIds(RECENT_REQUEST_IDS, pair.requestTransactionIds);
}

function apply(pc: RTCPeerConnection, ctx: PatchContext): void {
  const ice =
    (pc as unknown as { iceTransports?: { connection?: { checkList?: unknown[] } }[] }).iceTransports ?? [];
  for (const [i, t] of ice.entries()) {
    for (const [j, pair] of (t.connection?.checkList ?? []).entries()) {
      if (pair instanceof Object && (pair as PairShape).requestTransactionIds instanceof RecentIds) continue;
      const problems = checkCandidatePair(pair, `pc.iceTransports[${i}].connection.checkList[${j}]`);
      if (problems.length > 0) {
        ctx.shapeMismatch(NAME, problems);
        return;
      }
      boundPair(pair as PairShape);
    }
  }
  ctx.markActive(NAME);
}

export const iceRequestIdsBoundedPatch: WeriftPatch = {
  name: NAME,
  description:
    "a candidate pair remembers its last 64 incoming request IDs, not every one (werift's grow forever)",
  install(pc: RTCPeerConnection, ctx: PatchContext) {
    ctx.whenConnected(() => apply(pc, ctx));
  },
};
