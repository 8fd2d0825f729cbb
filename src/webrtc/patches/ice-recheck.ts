/**
 * Patch `ice-recheck`: connectivity checks whose pair failed are tried again while ICE is still checking.
 * werift 0.25.2 checks each candidate pair once (one STUN transaction, 7 sends over ≈ 6.4 s); a pair whose
 * check timed out stays failed for good, and with trickle ICE (the candidate list never ends) `connect()`
 * then waits forever: neither connected nor failed. An ICE restart made while the path is down (the normal
 * case: a restart is how a tube answers an outage) therefore never recovers when the path comes back
 * (measured in netns: the restart's checks sat in `checking` 12 s after the path had healed). Browsers keep
 * checking failed pairs; so do we: every second, while the ICE transport is `checking` and nothing is
 * nominated, each failed pair of the check list is checked again exactly as werift does for a triggered
 * check (`pair.handle = connection.checkStart(pair)`). One timer per connection, only while checking.
 */
import type { RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { expectFunction } from './internals.ts';

const NAME = 'ice-recheck';
export const RECHECK_INTERVAL_MS = 1_000;
/** werift's CandidatePairState.FAILED. */
const PAIR_FAILED = 4;

interface PairShape {
  state: number;
  handle: unknown;
}

interface ConnectionShape {
  checkList: PairShape[];
  nominated: unknown;
  state: string;
  checkStart(pair: PairShape): unknown;
}

interface IceTransportShape {
  state: string;
  connection: ConnectionShape;
}

/** Mismatches between a werift ICE transport and what this patch expects. */
export function checkIceTransport(t: unknown, where: string): string[] {
  if (t === null || typeof t !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const c = (t as { connection?: unknown }).connection as Record<string, unknown> | undefined;
  if (!c || typeof c !== 'object') return [`${where}.connection is missing`];
  if (!Array.isArray(c['checkList'])) problems.push(`${where}.connection.checkList is not an array`);
  if (!('nominated' in c)) problems.push(`${where}.connection.nominated is missing`);
  expectFunction(problems, c, `${where}.connection`, 'checkStart', 1);
  if (typeof (t as { state?: unknown }).state !== 'string') problems.push(`${where}.state is not a string`);
  return problems;
}

function transports(pc: RTCPeerConnection): IceTransportShape[] {
  const list = (pc as unknown as { iceTransports?: unknown }).iceTransports;
  return Array.isArray(list) ? (list as IceTransportShape[]) : [];
}

/** Re-checks the failed pairs of every checking transport; returns how many checks were started. */
export function recheckFailedPairs(pc: RTCPeerConnection): number {
  let started = 0;
  for (const t of transports(pc)) {
    const c = t.connection;
    if (t.state !== 'checking' || c.nominated !== undefined) continue;
    for (const pair of c.checkList) {
      if (pair.state !== PAIR_FAILED) continue;
      pair.handle = c.checkStart(pair);
      started++;
    }
  }
  return started;
}

export const iceRecheckPatch: WeriftPatch = {
  name: NAME,
  description:
    'failed ICE candidate pairs are checked again every second while ICE is checking (werift: never)',
  install(pc: RTCPeerConnection, ctx: PatchContext) {
    let timer: NodeJS.Timeout | undefined;
    let verified = false;
    const stop = (): void => {
      if (timer) clearInterval(timer);
      timer = undefined;
    };
    pc.iceConnectionStateChange.subscribe((state) => {
      if (state !== 'checking') {
        stop();
        return;
      }
      if (!verified) {
        const problems = transports(pc).flatMap((t, i) => checkIceTransport(t, `pc.iceTransports[${i}]`));
        if (problems.length > 0) {
          ctx.shapeMismatch(NAME, problems);
          return;
        }
        verified = true;
        ctx.markActive(NAME);
      }
      if (timer) return;
      timer = setInterval(() => {
        if (pc.iceConnectionState !== 'checking') stop();
        else recheckFailedPairs(pc);
      }, RECHECK_INTERVAL_MS);
      timer.unref();
    });
    pc.connectionStateChange.subscribe((s) => {
      if (s === 'closed') stop();
    });
  },
};
