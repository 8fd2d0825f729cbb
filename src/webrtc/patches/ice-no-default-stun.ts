/**
 * Patch `ice-no-default-stun`: a connection configured without a STUN server gathers no server-reflexive
 * candidate, instead of asking Google's public STUN server.
 *
 * Why (werift 0.25.2): the ICE `Connection` falls back to `stun.l.google.com:19302`
 * (`applyStunTurnServersFromOptions`: `validateAddress(options.stunServer) ?? DEFAULT_STUN_SERVER`) whenever
 * the configuration has none, and `setLocalDescription` awaits that query with the rest of the gathering.
 * So every tube resolved a public host name and sent a binding request to a third party it was never
 * configured to use (`Peer` passes only the caller's `iceServers`), and each side's offer/answer waited for
 * it: a DNS lookup here (≈ 36 ms on this machine when it fails), the STUN round trip to Google where the
 * Internet is reachable, and up to werift's 5 s gather timeout where DNS works but UDP to it is blocked.
 *
 * Ours, per ICE connection before it gathers: `applyStunTurnServersFromOptions` (werift's, an instance
 * lookup, re-run on `setIceServers` and restarts) is wrapped to leave `stunServer` undefined when the options
 * name none, and applied once. A configured STUN server is used exactly as before.
 */
import type { RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { expectFunction } from './internals.ts';

const NAME = 'ice-no-default-stun';

interface StunConnectionShape {
  options: { stunServer?: unknown };
  stunServer: unknown;
  applyStunTurnServersFromOptions(): void;
}

interface GatherTransportShape {
  gatheringState?: string;
  iceGather?: { gatheringState?: string };
  connection: StunConnectionShape;
}

/** Mismatches between a werift ICE connection and what this patch expects. */
export function checkStunConnection(connection: unknown, where: string): string[] {
  if (connection === null || typeof connection !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const c = connection as StunConnectionShape;
  if (c.options === null || typeof c.options !== 'object') problems.push(`${where}.options is missing`);
  if (!('stunServer' in c)) problems.push(`${where}.stunServer is missing`);
  expectFunction(problems, c, where, 'applyStunTurnServersFromOptions', 0);
  const src = String((c as unknown as Record<string, unknown>)['applyStunTurnServersFromOptions'] ?? '');
  if (!src.includes('DEFAULT_STUN_SERVER')) {
    problems.push(`${where}.applyStunTurnServersFromOptions no longer falls back to a default STUN server`);
  }
  return problems;
}

const patched = new WeakSet<object>();

/** Stops the default STUN server on one connection (already checked; exported for tests). */
export function noDefaultStun(connection: StunConnectionShape): void {
  patched.add(connection);
  const stock = connection.applyStunTurnServersFromOptions;
  connection.applyStunTurnServersFromOptions = function apply(this: StunConnectionShape): void {
    stock.call(this);
    if (this.options.stunServer === undefined || this.options.stunServer === null)
      this.stunServer = undefined;
  };
  connection.applyStunTurnServersFromOptions();
}

function hookAll(pc: RTCPeerConnection, ctx: PatchContext): void {
  const list = (pc as unknown as { iceTransports?: unknown }).iceTransports;
  if (!Array.isArray(list)) return;
  for (const [i, t] of (list as GatherTransportShape[]).entries()) {
    const connection = t?.connection;
    if (!connection || patched.has(connection)) continue;
    const where = `pc.iceTransports[${i}].connection`;
    const problems = checkStunConnection(connection, where);
    if (problems.length > 0) {
      patched.add(connection);
      ctx.shapeMismatch(NAME, problems);
      continue;
    }
    noDefaultStun(connection);
    ctx.markActive(NAME);
  }
}

export const iceNoDefaultStunPatch: WeriftPatch = {
  name: NAME,
  description: "no STUN query to werift's default stun.l.google.com when no STUN server is configured",
  install(pc, ctx) {
    // Transports appear with createDataChannel / descriptions; setLocalDescription changes the signalling
    // state before it gathers.
    hookAll(pc, ctx);
    pc.signalingStateChange.subscribe(() => hookAll(pc, ctx));
    pc.onNegotiationneeded.subscribe(() => hookAll(pc, ctx));
  },
};
