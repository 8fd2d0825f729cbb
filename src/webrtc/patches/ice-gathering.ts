/**
 * Candidate gathering on werift's ICE `Connection`, made to do what the host configured and nothing else:
 *
 * - **No implicit STUN server.** werift 0.25 falls back to stun.l.google.com:19302 whenever no STUN server is
 *   configured (`Connection.stunServer ?? DEFAULT_STUN_SERVER`), so every tube resolved that name and sent it
 *   Binding requests. `stunServer` (a public field) is set to the configured server, or to nothing, before
 *   every gathering pass. This part needs no internals and is applied whatever the werift version.
 * - **TURN allocations of our own** (version-guarded: werift's `getCandidatePromises` is private). werift
 *   allocates on the first TURN server only, makes gathering (and, for the answerer, the start of the
 *   connectivity checks) wait for it, silently retries a failed UDP allocation over TCP, and reports nothing:
 *   with wrong credentials it ignores the server's 401 (no MESSAGE-INTEGRITY) and times out after 6.4 s, twice.
 *   Here every configured TURN server gets an allocation through werift's own exported `TurnProtocol` and
 *   transports; an error answer from the server ends the attempt at once with its code, no answer ends it
 *   after `allocateTimeoutMs`; each outcome is reported; the relay candidate joins the running checks when it
 *   arrives. Server-reflexive queries to the configured STUN server run beside werift's host gathering the
 *   same way (werift's own held the answerer's checks up to 5 s per silent server). With `waitForTurn` false
 *   (trickle ICE) gathering waits for neither: those candidates trickle in when they exist.
 * - **Across ICE restarts** an allocation is kept while the server still answers a Refresh for it, else
 *   replaced with the plan's current credentials (`turn` may be swapped between passes: fresh time-limited
 *   credentials, docs/API.md "Credentials that expire").
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import {
  Candidate,
  candidateFoundation,
  candidatePriority,
  classes,
  Message,
  methods,
  type RTCPeerConnection,
  StunOverTurnProtocol,
  serverReflexiveCandidate,
  TcpTransport,
  TlsTransport,
  TurnProtocol,
  UdpTransport,
} from 'werift';
import { ErrorCode } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { StunServerSpec, TurnServerSpec } from '../ice-servers.ts';
import { installedWeriftVersion, PINNED_WERIFT_VERSION } from './version.ts';

export type TurnErrorCode =
  | typeof ErrorCode.TURN_AUTH
  | typeof ErrorCode.TURN_UNREACHABLE
  | typeof ErrorCode.TURN_REJECTED;

export type TurnOutcome =
  | { ok: true; server: TurnServerSpec; relay: string; ms: number }
  | {
      ok: false;
      server: TurnServerSpec;
      code: TurnErrorCode;
      reason: string;
      /** The STUN ERROR-CODE the server answered with, when it answered. */
      stunCode?: number;
      ms: number;
    };

export interface GatheringPlan {
  stun: StunServerSpec | undefined;
  turn: readonly TurnServerSpec[];
  relayOnly: boolean;
  /** Gathering completes only once every TURN attempt has ended (non-trickle); false = TURN trickles later. */
  waitForTurn: boolean;
  /** An allocation not done by then is abandoned and reported unreachable. */
  allocateTimeoutMs: number;
  /** TLS options for `turns:` servers (e.g. `ca`, `servername`). */
  tls?: TlsOptions | undefined;
  logger: Logger;
  onTurnOutcome(outcome: TurnOutcome): void;
}

/** The parts of werift's ICE `Connection` used here (werift 0.25.2, packages/ice/src/ice.ts). */
interface ConnectionShape {
  stunServer: [string, number] | undefined;
  generation: number;
  localUsername: string;
  state: string;
  options: { portRange?: [number, number]; interfaceAddresses?: unknown };
  protocols: unknown[];
  getCandidatePromises(addresses: string[], timeout?: number): Promise<unknown>[];
  ensureProtocol(protocol: unknown): void;
  appendLocalCandidate(candidate: unknown): void;
  pairLocalProtocol(protocol: unknown): void;
}

interface TurnProtocolShape {
  integrityKey: unknown;
  server: [string, number];
  transport?: { closed?: boolean; client?: { destroyed?: boolean } };
  username: string;
  realm: string | undefined;
  nonce: Buffer | undefined;
  send(data: Buffer, addr: [string, number]): Promise<void>;
  serverDestination(): Promise<[string, number]>;
  relayedAddress: [string, number];
  mappedAddress: [string, number];
  handleSTUNMessage(data: Buffer, addr: unknown): void;
  connectionMade(): Promise<void>;
  close(): Promise<void>;
}

/** A relay allocation of ours, kept across ICE restarts while the server still has it. */
interface Allocation {
  /** Our side of it is gone: closed, or (TCP/TLS) the connection to the server ended. */
  closed(): boolean;
  /** A Refresh answered by the server within `timeoutMs` (it has the allocation and hears us). */
  alive(timeoutMs: number): Promise<boolean>;
  /** Closed and forgotten (its relay candidate is no longer offered). */
  retire(): void;
}

interface Prepared {
  plan: GatheringPlan;
  /** Live allocations by server (not by username), so a restart's gathering pass does not allocate twice. */
  allocations: Map<string, Allocation>;
  pending: Set<Promise<unknown>>;
}

const prepared = new WeakMap<object, Prepared>();

const PRIVATE_METHODS = [
  'getCandidatePromises',
  'ensureProtocol',
  'appendLocalCandidate',
  'pairLocalProtocol',
];

/** Why the TURN part cannot be installed here (werift version or shape), or undefined when it can. */
export function turnGatheringUnavailable(): string | undefined {
  const version = installedWeriftVersion();
  if (version !== PINNED_WERIFT_VERSION) {
    return `werift ${version ?? '(not found)'} is not the pinned ${PINNED_WERIFT_VERSION}`;
  }
  const missing: string[] = [];
  for (const [name, value] of Object.entries({
    TurnProtocol,
    StunOverTurnProtocol,
    serverReflexiveCandidate,
    UdpTransport,
    TcpTransport,
    TlsTransport,
    Candidate,
    Message,
  })) {
    if (typeof value !== 'function') missing.push(name);
  }
  const turnProto = (TurnProtocol as unknown as { prototype: Record<string, unknown> }).prototype;
  if (typeof methods?.REFRESH !== 'number' || typeof classes?.REQUEST !== 'number')
    missing.push('STUN methods/classes');
  for (const m of ['handleSTUNMessage', 'connectionMade', 'close', 'send', 'serverDestination']) {
    if (typeof turnProto[m] !== 'function') missing.push(`TurnProtocol.${m}`);
  }
  return missing.length > 0 ? `werift exports/internals missing: ${missing.join(', ')}` : undefined;
}

function connectionsOf(pc: RTCPeerConnection): ConnectionShape[] {
  const out: ConnectionShape[] = [];
  for (const t of pc.iceTransports) {
    const c = (t as unknown as { connection?: unknown }).connection;
    if (c && typeof c === 'object') out.push(c as ConnectionShape);
  }
  return out;
}

function stunAddress(spec: StunServerSpec | undefined): [string, number] | undefined {
  return spec ? [spec.host, spec.port] : undefined;
}

/**
 * Applies `plan` to every ICE connection of `pc` not prepared yet. Call right before each
 * setLocalDescription (transports appear with the first offer/answer). `turnAllocation` = false applies only
 * the STUN part (werift then does TURN itself, as configured on the RTCPeerConnection).
 * Returns the shape problems found, if the TURN part could not be installed.
 */
export function prepareGathering(
  pc: RTCPeerConnection,
  plan: GatheringPlan,
  turnAllocation: boolean,
): string[] {
  const problems: string[] = [];
  for (const conn of connectionsOf(pc)) {
    // The STUN fix first, whatever else happens: it is a public field.
    conn.stunServer = stunAddress(plan.stun);
    if (!turnAllocation || prepared.has(conn)) continue;
    for (const m of PRIVATE_METHODS) {
      if (typeof (conn as unknown as Record<string, unknown>)[m] !== 'function')
        problems.push(`Connection.${m}`);
    }
    if (!Array.isArray(conn.protocols)) problems.push('Connection.protocols');
    if (problems.length > 0) continue;
    const state: Prepared = { plan, allocations: new Map(), pending: new Set() };
    prepared.set(conn, state);
    const original = conn.getCandidatePromises;
    conn.getCandidatePromises = function gatherConfiguredOnly(addresses: string[], timeout?: number) {
      // werift's pass gathers host candidates only (its server-reflexive queries would hold its gathering,
      // and the answerer's checks, for up to 5 s per silent STUN server); ours run beside it.
      this.stunServer = undefined;
      const base = plan.relayOnly ? [] : original.call(this, addresses, timeout);
      // setIceServers (setConfiguration) re-applies werift's default: the field shows what is configured.
      this.stunServer = stunAddress(plan.stun);
      const stun = plan.stun;
      const srflx = stun ? base.map((host) => reflexive(this, state, host, stun, (timeout ?? 5) * 1000)) : [];
      const turn = plan.turn.map((server) => allocate(this, state, server));
      return plan.waitForTurn ? [...base, ...srflx, ...turn] : base;
    };
  }
  return problems;
}

/** Resolves once every TURN allocation and STUN query started on `pc` so far has ended. */
export async function lateCandidatesSettled(pc: RTCPeerConnection): Promise<void> {
  for (;;) {
    const pending = connectionsOf(pc).flatMap((c) => [...(prepared.get(c)?.pending ?? [])]);
    if (pending.length === 0) return;
    await Promise.allSettled(pending);
  }
}

function track<T>(state: Prepared, p: Promise<T>): Promise<T> {
  state.pending.add(p);
  void p.finally(() => state.pending.delete(p));
  return p;
}

/** The server-reflexive candidate of one host candidate (IPv4, as werift), within `timeoutMs`. */
function reflexive(
  conn: ConnectionShape,
  state: Prepared,
  host: Promise<unknown>,
  stun: StunServerSpec,
  timeoutMs: number,
): Promise<unknown> {
  const generation = conn.generation;
  return track(
    state,
    (async () => {
      const candidate = (await host) as { type?: string; host?: string } | undefined;
      if (candidate?.type !== 'host' || !isIPv4(candidate.host ?? '')) return undefined;
      const protocol = conn.protocols.find(
        (p) => (p as { localCandidate?: unknown }).localCandidate === candidate,
      );
      if (!protocol) return undefined;
      let timer: NodeJS.Timeout | undefined;
      const found = await Promise.race([
        serverReflexiveCandidate(protocol as never, [stun.host, stun.port]).catch(() => undefined),
        new Promise<undefined>((r) => {
          timer = setTimeout(() => r(undefined), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (!found || conn.generation !== generation || conn.state === 'closed') return undefined;
      conn.appendLocalCandidate(found);
      return found;
    })().catch(() => undefined),
  );
}

function serverKey(s: TurnServerSpec): string {
  return `${s.transport}|${s.host}|${s.port}`;
}

/**
 * One TURN server's part of a gathering pass. A live allocation from an earlier pass (werift offers its relay
 * candidate again after an ICE restart) is kept if the server still answers a Refresh for it: coturn keeps an
 * allocation going past the expiry of time-limited (REST) credentials (test/e2e/turn-refresh.test.ts), so
 * fresh credentials are not needed for it. One the server lost (restarted, 437 mismatch after a network
 * change, no answer) is retired and replaced by a new allocation with the server's current credentials.
 */
function allocate(conn: ConnectionShape, state: Prepared, server: TurnServerSpec): Promise<unknown> {
  const key = serverKey(server);
  const existing = state.allocations.get(key);
  if (!existing) return track(state, runAllocation(conn, state, server, key));
  return track(
    state,
    (async () => {
      if (!existing.closed() && (await existing.alive(state.plan.allocateTimeoutMs))) return undefined;
      if (state.allocations.get(key) !== existing) return undefined;
      existing.retire();
      state.plan.logger.info({ turn: server.url }, 'TURN allocation lost: allocating again');
      return runAllocation(conn, state, server, key);
    })(),
  );
}

async function runAllocation(
  conn: ConnectionShape,
  state: Prepared,
  server: TurnServerSpec,
  key: string,
): Promise<unknown> {
  const { plan } = state;
  const started = performance.now();
  const generation = conn.generation;
  const ms = (): number => Math.round(performance.now() - started);
  let turn: TurnProtocolShape | undefined;
  /** Refresh probes of this allocation waiting for their answer, by transaction id (hex). */
  const refreshProbes = new Map<string, (ok: boolean) => void>();
  let timer: NodeJS.Timeout | undefined;
  let failFast: ((f: Failure) => void) | undefined;
  /** Set once the outcome is decided without this attempt: whatever it still builds is closed at once. */
  let abandoned = false;
  const fast = new Promise<never>((_, reject) => {
    failFast = reject;
    timer = setTimeout(
      () =>
        reject(
          new Failure(
            ErrorCode.TURN_UNREACHABLE,
            `no allocation within ${plan.allocateTimeoutMs} ms (no answer)`,
          ),
        ),
      plan.allocateTimeoutMs,
    );
  });
  const attempt = (async () => {
    const address: [string, number] = [server.host, server.port];
    const transport =
      server.transport === 'udp'
        ? await UdpTransport.init(isIPv6(server.host) ? 'udp6' : 'udp4', {
            portRange: conn.options.portRange,
            interfaceAddresses: conn.options.interfaceAddresses,
          } as never)
        : server.transport === 'tcp'
          ? await TcpTransport.init(address, { connectTimeoutMs: plan.allocateTimeoutMs })
          : await TlsTransport.init(
              address,
              { ...(isIP(server.host) ? {} : { servername: server.host }), ...plan.tls } as never,
              {
                connectTimeoutMs: plan.allocateTimeoutMs,
              },
            );
    if (abandoned) {
      await (transport as { close(): Promise<void> }).close().catch(() => {});
      throw new Error('abandoned');
    }
    const t = new TurnProtocol(
      address,
      server.username,
      server.credential,
      600,
      transport as never,
    ) as unknown as TurnProtocolShape;
    turn = t;
    const handle = t.handleSTUNMessage.bind(t);
    const probes = refreshProbes;
    // werift ignores an error answer to an authenticated request (it carries no MESSAGE-INTEGRITY) and waits
    // for its transaction to time out; seen here, it ends the attempt at once with the server's reason.
    t.handleSTUNMessage = (data: Buffer, addr: unknown) => {
      if (probes.size > 0 && isRefreshAnswer(data)) {
        const answered = probes.get(data.toString('hex', 8, 20));
        if (answered) {
          answered(data.readUInt16BE(0) === REFRESH_SUCCESS);
          return;
        }
      }
      const err = allocateError(data);
      if (err && !(err.code === 401 && t.integrityKey === undefined) && err.code !== 438) {
        failFast?.(
          new Failure(
            err.code === 401 || err.code === 441 ? ErrorCode.TURN_AUTH : ErrorCode.TURN_REJECTED,
            err.code === 401 || err.code === 441
              ? `credentials rejected (${err.code} ${err.reason || 'Unauthorized'})`
              : `allocation refused (${err.code} ${err.reason})`,
            err.code,
          ),
        );
      }
      handle(data, addr);
    };
    await t.connectionMade();
    if (abandoned) {
      await t.close().catch(() => {});
      throw new Error('abandoned');
    }
    return t;
  })();
  attempt.catch(() => {
    // the outcome is taken from the race below; a late rejection after a fast failure is expected
  });
  try {
    const t = await Promise.race([attempt, fast]);
    clearTimeout(timer);
    if (conn.generation !== generation || conn.state === 'closed') {
      await t.close().catch(() => {});
      return undefined;
    }
    const protocol = new StunOverTurnProtocol(t as never) as unknown as {
      localCandidate: unknown;
      turn: TurnProtocolShape;
      close(): Promise<void>;
    };
    conn.ensureProtocol(protocol);
    conn.protocols.push(protocol);
    const [relayHost, relayPort] = t.relayedAddress;
    const [mappedHost, mappedPort] = t.mappedAddress;
    const candidate = new Candidate(
      candidateFoundation('relay', 'udp', relayHost),
      1,
      'udp',
      candidatePriority('relay'),
      relayHost,
      relayPort,
      'relay',
      mappedHost,
      mappedPort,
      undefined,
      conn.generation,
      conn.localUsername,
    );
    protocol.localCandidate = candidate;
    state.allocations.set(key, liveAllocation(conn, state, key, protocol, refreshProbes));
    conn.appendLocalCandidate(candidate);
    // Pairs with the remote candidates known now; later ones pair through werift's own addRemoteCandidate.
    conn.pairLocalProtocol(protocol);
    report(plan, { ok: true, server, relay: `${relayHost}:${relayPort}`, ms: ms() });
    return candidate;
  } catch (err) {
    clearTimeout(timer);
    abandoned = true;
    void turn?.close().catch(() => {});
    const f = err instanceof Failure ? err : classify(err);
    report(plan, {
      ok: false,
      server,
      code: f.code,
      reason: f.message,
      ...(f.stunCode !== undefined ? { stunCode: f.stunCode } : {}),
      ms: ms(),
    });
    return undefined;
  }
}

const REFRESH_SUCCESS = 0x0104;
const REFRESH_ERROR = 0x0114;

function isRefreshAnswer(data: Buffer): boolean {
  if (data.length < 20 || data.readUInt32BE(4) !== 0x2112a442) return false;
  const type = data.readUInt16BE(0);
  return type === REFRESH_SUCCESS || type === REFRESH_ERROR;
}

function liveAllocation(
  conn: ConnectionShape,
  state: Prepared,
  key: string,
  protocol: { turn: TurnProtocolShape; close(): Promise<void> },
  probes: Map<string, (ok: boolean) => void>,
): Allocation {
  const turn = protocol.turn;
  const allocation: Allocation = {
    closed: () => turn.transport?.closed === true || turn.transport?.client?.destroyed === true,
    /**
     * One Refresh with the allocation's own credentials (coturn accepts them past their expiry), sent every
     * 500 ms until the server answers. Any error answer counts as gone: 437 from a server that lost it,
     * 438 from a restarted server (werift's own retry of a stale nonce never gets through; a live
     * allocation replaced because of a 438 only costs a new allocation).
     */
    async alive(timeoutMs) {
      if (turn.integrityKey === undefined || turn.realm === undefined || turn.nonce === undefined)
        return false;
      const request = new Message(methods.REFRESH, classes.REQUEST);
      request
        .setAttribute('LIFETIME', 600)
        .setAttribute('USERNAME', turn.username)
        .setAttribute('REALM', turn.realm)
        .setAttribute('NONCE', turn.nonce)
        .addMessageIntegrity(turn.integrityKey as Buffer)
        .addFingerprint();
      const id = request.transactionIdHex;
      let resend: NodeJS.Timeout | undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        const destination = await turn.serverDestination();
        return await new Promise<boolean>((resolve) => {
          probes.set(id, resolve);
          const send = (): void => void turn.send(request.bytes, destination).catch(() => resolve(false));
          send();
          resend = setInterval(send, 500);
          timer = setTimeout(() => resolve(false), timeoutMs);
        });
      } catch {
        return false;
      } finally {
        probes.delete(id);
        clearInterval(resend);
        clearTimeout(timer);
      }
    },
    retire() {
      if (state.allocations.get(key) === allocation) state.allocations.delete(key);
      const i = conn.protocols.indexOf(protocol);
      if (i >= 0) conn.protocols.splice(i, 1);
      void protocol.close().catch(() => {});
    },
  };
  return allocation;
}

function report(plan: GatheringPlan, outcome: TurnOutcome): void {
  try {
    plan.onTurnOutcome(outcome);
  } catch (err) {
    plan.logger.warn({ err: (err as Error).message }, 'TURN outcome handler threw; ignored');
  }
}

class Failure extends Error {
  readonly code: TurnErrorCode;
  readonly stunCode: number | undefined;
  constructor(code: TurnErrorCode, message: string, stunCode?: number) {
    super(message);
    this.code = code;
    this.stunCode = stunCode;
  }
}

/** A socket or werift transaction error, in words a host can act on. */
function classify(err: unknown): Failure {
  const e = err as {
    code?: unknown;
    message?: unknown;
    response?: { getAttributeValue?(n: string): unknown };
  };
  const attr = e?.response?.getAttributeValue?.('ERROR-CODE');
  if (Array.isArray(attr) && typeof attr[0] === 'number') {
    const code = attr[0] as number;
    const auth = code === 401 || code === 441;
    return new Failure(
      auth ? ErrorCode.TURN_AUTH : ErrorCode.TURN_REJECTED,
      `${auth ? 'credentials rejected' : 'allocation refused'} (${code} ${String(attr[1] ?? '')})`,
      code,
    );
  }
  const sys = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err);
  if (sys === 'ENOTFOUND' || sys === 'EAI_AGAIN')
    return new Failure(ErrorCode.TURN_UNREACHABLE, `DNS: ${message}`);
  if (sys?.startsWith('ERR_TLS') || /certificate|SSL|TLS/i.test(message)) {
    return new Failure(ErrorCode.TURN_UNREACHABLE, `TLS: ${message}`);
  }
  if (err?.constructor?.name === 'TransactionTimeout') {
    return new Failure(ErrorCode.TURN_UNREACHABLE, 'no answer (STUN transaction timed out)');
  }
  return new Failure(ErrorCode.TURN_UNREACHABLE, sys ? `${sys}: ${message}` : message);
}

/** ERROR-CODE of an Allocate error response (STUN type 0x0113), else undefined. */
export function allocateError(data: Buffer): { code: number; reason: string } | undefined {
  if (data.length < 20 || data.readUInt16BE(0) !== 0x0113 || data.readUInt32BE(4) !== 0x2112a442)
    return undefined;
  const end = Math.min(data.length, 20 + data.readUInt16BE(2));
  let off = 20;
  while (off + 4 <= end) {
    const type = data.readUInt16BE(off);
    const len = data.readUInt16BE(off + 2);
    if (off + 4 + len > end) return undefined;
    if (type === 0x0009 && len >= 4) {
      const code = ((data[off + 6] as number) & 0x07) * 100 + (data[off + 7] as number);
      return { code, reason: data.toString('utf8', off + 8, off + 4 + len).trim() };
    }
    off += 4 + len + ((4 - (len % 4)) % 4);
  }
  return undefined;
}
