/**
 * Patch `ice-connect-on-nomination`: ICE reports `connected` (and the DTLS handshake may start) the moment a
 * candidate pair is nominated, instead of when werift's check-scheduling loop next wakes up.
 *
 * Why (werift 0.25.2): `Connection.connect()` starts a check, then sleeps 20 ms (`timers.setTimeout(20)`,
 * a module import we cannot reach), and only after that sleep notices that the check list is done, starts
 * consent freshness and sets `connected`; `RTCPeerConnection.connect()` awaits all of that before it starts
 * DTLS. On loopback the nominating check completes ≈ 1 ms after the first request, so each side waits up to
 * 20 ms for nothing (bench/setup.ts measures it, docs/PERFORMANCE.md "Transport, part 2").
 *
 * Ours, per connection: `checkComplete` (werift's own handler of a finished check, an instance lookup) is
 * wrapped; when it has nominated a pair and closed the check list while `connect()` is still sleeping, we do
 * at once what werift does after its sleep (`queryConsent()` unless werift's `checkComplete` just did, then
 * `setState('connected')`: RFC 7675 consent is what the successful check just obtained), and `RTCIceTransport.start()` (wrapped on the instance)
 * resolves then rather than when werift's `connect()` returns. werift's loop still ends on its own ≤ 20 ms
 * later and repeats both calls, which it tolerates (consent restarts, the state is unchanged). A check list
 * that fails, an ICE restart on a connected agent, or a closed agent are left to werift.
 */
import type { RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { expectFunction, expectType, ownFunction } from './internals.ts';

const NAME = 'ice-connect-on-nomination';

/** werift's ICE `Connection` (ice/src/ice.ts), the parts this patch uses. */
export interface IceConnectionShape {
  state: string;
  nominated: unknown;
  checkListDone: boolean;
  consentFresh: boolean;
  checkComplete(pair: unknown): void;
  queryConsent: () => void;
  setState(state: string): void;
}

/** werift's `RTCIceTransport` (webrtc/src/transport/ice.ts). */
export interface IceTransportShape {
  state: string;
  connection: IceConnectionShape;
  start(): Promise<void>;
}

const patched = new WeakSet<object>();
/** Counts, for tests and the benchmark: how many connections went `connected` early. */
export const iceEarlyStats = { early: 0 };

/** Mismatches between a werift RTCIceTransport (before it starts) and what this patch expects. */
export function checkIceTransport(transport: unknown, where: string): string[] {
  if (transport === null || typeof transport !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const t = transport as IceTransportShape;
  expectFunction(problems, t, where, 'start', 0);
  const c = t.connection;
  const cw = `${where}.connection`;
  if (c === null || typeof c !== 'object') return [...problems, `${cw} is missing`];
  expectType(problems, c, cw, 'state', 'string');
  expectType(problems, c, cw, 'checkListDone', 'boolean');
  expectType(problems, c, cw, 'consentFresh', 'boolean');
  if (!('nominated' in c)) problems.push(`${cw}.nominated is missing`);
  expectFunction(problems, c, cw, 'checkComplete', 1);
  expectFunction(problems, c, cw, 'setState', 1);
  if (!ownFunction(c, 'queryConsent')) problems.push(`${cw}.queryConsent is not an own function property`);
  const proto = Object.getPrototypeOf(c) as Record<string, unknown> | null;
  const connect = String(proto?.['connect'] ?? '');
  // After its scheduling loop, connect() starts consent and sets 'connected'; that is what we do earlier.
  if (!/this\.queryConsent\(\);\s*this\.setState\("connected"\);/.test(connect)) {
    problems.push(`${cw}.connect no longer ends with queryConsent() and setState("connected")`);
  }
  if (!/await timers\.setTimeout\(20\)/.test(connect)) {
    problems.push(`${cw}.connect no longer paces its checks with a 20 ms sleep`);
  }
  const complete = String(proto?.['checkComplete'] ?? '');
  if (!complete.includes('this.checkListDone = true')) {
    problems.push(`${cw}.checkComplete no longer closes the check list`);
  }
  return problems;
}

function iceTransportsOf(pc: RTCPeerConnection): IceTransportShape[] {
  const list = (pc as unknown as { iceTransports?: unknown }).iceTransports;
  return Array.isArray(list) ? (list as IceTransportShape[]) : [];
}

/** Installs the early `connected` on one ICE transport (already checked; exported for tests). */
export function connectOnNomination(transport: IceTransportShape): void {
  patched.add(transport);
  const conn = transport.connection;
  let waiting: Array<() => void> = [];
  const release = (): void => {
    const w = waiting;
    waiting = [];
    for (const resolve of w) resolve();
  };
  const stockComplete = conn.checkComplete;
  conn.checkComplete = function checkComplete(this: IceConnectionShape, pair: unknown): void {
    stockComplete.call(this, pair);
    if (waiting.length === 0 || !this.nominated || !this.checkListDone) return;
    // werift's Connection says 'completed' once gathering is done, 'connected' when connect() returns.
    if (this.state === 'new' || this.state === 'checking' || this.state === 'completed') {
      if (!this.consentFresh) this.queryConsent();
      this.setState('connected');
      iceEarlyStats.early++;
    }
    if (this.state === 'connected') release();
  };
  const stockStart = transport.start;
  transport.start = function start(this: IceTransportShape): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      waiting.push(resolve);
      stockStart.call(this).then(
        () => {
          waiting = waiting.filter((w) => w !== resolve);
          resolve();
        },
        (err: unknown) => {
          waiting = waiting.filter((w) => w !== resolve);
          reject(err);
        },
      );
    });
  };
}

function hookAll(pc: RTCPeerConnection, ctx: PatchContext): void {
  for (const [i, t] of iceTransportsOf(pc).entries()) {
    if (patched.has(t)) continue;
    const problems = checkIceTransport(t, `pc.iceTransports[${i}]`);
    if (problems.length > 0) {
      patched.add(t);
      ctx.shapeMismatch(NAME, problems);
      continue;
    }
    connectOnNomination(t);
    ctx.markActive(NAME);
  }
}

export const iceConnectOnNominationPatch: WeriftPatch = {
  name: NAME,
  description: "ICE is 'connected' as soon as a pair is nominated (werift: up to 20 ms later)",
  install(pc, ctx) {
    // ICE transports exist once a description is set; connect() sets 'connecting' before it starts ICE.
    hookAll(pc, ctx);
    pc.signalingStateChange.subscribe(() => hookAll(pc, ctx));
    pc.connectionStateChange.subscribe((s) => {
      if (s === 'connecting' || s === 'new') hookAll(pc, ctx);
    });
  },
};
