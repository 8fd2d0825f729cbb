/**
 * Patch `dtls-start-now`: the DTLS client sends its ClientHello as soon as its transport starts, and the DTLS
 * server keeps the records that reach it before its handshake state machine exists instead of dropping them.
 *
 * Why (werift 0.25.2): `RTCDtlsTransport.start()` on the client side sleeps a fixed 100 ms
 * (`await setTimeout(100)`, not configurable) before `dtls.connect()`. The sleep is werift's guard for a race:
 * the client (ICE-controlled) usually learns of the nomination before the server (controlling) has created
 * its `DtlsServer`, and a ClientHello arriving before that is dropped by werift (nothing listens yet), so the
 * handshake would wait for werift's first flight retransmission (500 ms). Both halves together remove the
 * wait without reopening the race: nothing the client sends early is lost any more.
 *
 * Ours, per DTLS transport, through an instance wrapper of `start()` (werift creates `this.dtls` synchronously
 * inside it):
 * - client: `connect()` (werift's own, flight 1) is called in a microtask after `start()` returned; werift's
 *   own call after its sleep gets the same promise (an instance `connect` that returns it), so flight 1 runs
 *   once;
 * - server (and client): from the moment the ICE transport exists, DTLS datagrams that arrive while the
 *   transport has no DtlsSocket yet are held (at most 16) and handed to the new socket's datagram handler,
 *   in order, in a microtask after `start()` created it (before any later datagram: those arrive in later
 *   tasks). After that the holder lets everything pass.
 */
import type { RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { dtlsTransportsOf, expectFunction, type WeriftEvent } from './internals.ts';

const NAME = 'dtls-start-now';
const SESSION_CLIENT = 1;
const MAX_HELD = 16;

interface EarlySocketShape {
  cipher: { sessionType: number };
  connect(): Promise<void>;
  transport: { socket: { onData: (buf: Buffer) => void } };
}

interface EarlyTransportShape {
  state: string;
  dtls: EarlySocketShape | undefined;
  iceTransport: { connection: { onData: WeriftEvent } };
  start(): Promise<void>;
}

/** Per transport, for tests: datagrams held before the socket existed, and whether the client started at once. */
export interface DtlsStartState {
  held: number;
  replayed: number;
  startedAtOnce: boolean;
}

const states = new WeakMap<object, DtlsStartState>();

export function dtlsStartState(transport: unknown): DtlsStartState | undefined {
  return transport !== null && typeof transport === 'object' ? states.get(transport) : undefined;
}

/** Mismatches between a werift RTCDtlsTransport that has not started and what this patch expects. */
export function checkDtlsStartTransport(transport: unknown, where: string): string[] {
  if (transport === null || typeof transport !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const t = transport as EarlyTransportShape;
  expectFunction(problems, t, where, 'start', 0);
  const onData = t.iceTransport?.connection?.onData;
  if (typeof onData?.subscribe !== 'function')
    problems.push(`${where}.iceTransport.connection.onData is not an event`);
  const start = String((Object.getPrototypeOf(t) as Record<string, unknown> | null)?.['start'] ?? '');
  // The client sleeps, then calls this.dtls.connect(); the server waits for the client.
  if (!/await setTimeout\d*\(100\);\s*this\.dtls\.connect\(\)/.test(start)) {
    problems.push(`${where}.start no longer sleeps 100 ms before this.dtls.connect()`);
  }
  if (!start.includes('new DtlsClient(') || !start.includes('new DtlsServer(')) {
    problems.push(`${where}.start no longer creates its DtlsClient / DtlsServer itself`);
  }
  return problems;
}

/** Mismatches of the socket werift just created in `start()`. */
export function checkDtlsStartSocket(socket: unknown, where: string): string[] {
  if (socket === null || typeof socket !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const s = socket as EarlySocketShape;
  if (typeof s.transport?.socket?.onData !== 'function')
    problems.push(`${where}.transport.socket.onData is not a function`);
  if (typeof s.cipher?.sessionType !== 'number') problems.push(`${where}.cipher.sessionType is not a number`);
  if (s.cipher?.sessionType === SESSION_CLIENT) expectFunction(problems, s, where, 'connect', 0);
  return problems;
}

/** True for a DTLS record (RFC 7983: first byte 20–63), as werift's own demultiplexer decides. */
function isDtls(buf: Buffer): boolean {
  const b = buf[0] ?? 0;
  return b > 19 && b < 64;
}

/** Installs the holder and the immediate client start on one transport (already checked). */
export function startDtlsNow(transport: EarlyTransportShape, where: string, ctx: PatchContext): void {
  const state: DtlsStartState = { held: 0, replayed: 0, startedAtOnce: false };
  states.set(transport, state);
  let held: Buffer[] | undefined = [];
  const sub = transport.iceTransport.connection.onData.subscribe((...args: unknown[]) => {
    const buf = args[0];
    if (!held || transport.dtls !== undefined || !Buffer.isBuffer(buf) || !isDtls(buf)) return;
    if (held.length < MAX_HELD) {
      held.push(buf);
      state.held++;
    }
  });
  const stockStart = transport.start;
  transport.start = function start(this: EarlyTransportShape): Promise<void> {
    const started = stockStart.call(this);
    const socket = this.dtls;
    const problems = checkDtlsStartSocket(socket, `${where}.dtls`);
    if (!socket || problems.length > 0) {
      held = undefined;
      sub.unSubscribe();
      ctx.shapeMismatch(NAME, problems);
      return started;
    }
    const early = held ?? [];
    held = undefined;
    sub.unSubscribe();
    const client = socket.cipher.sessionType === SESSION_CLIENT;
    let flight1: Promise<void> | undefined;
    if (client) {
      const stockConnect = socket.connect;
      // werift's own call after its sleep gets the flight already under way: flight 1 runs once.
      socket.connect = () => {
        flight1 ??= stockConnect.call(socket);
        return flight1;
      };
    }
    // In a microtask: after every other patch has wrapped the new socket (they do so when start() returns),
    // before any later datagram (those arrive in later tasks).
    queueMicrotask(() => {
      for (const buf of early) {
        state.replayed++;
        socket.transport.socket.onData(buf);
      }
      if (client && !flight1) {
        state.startedAtOnce = true;
        // werift attaches its handler when its own call comes; until then keep Node from flagging it.
        socket.connect().catch(() => {});
      }
    });
    ctx.markActive(NAME);
    return started;
  };
}

const hooked = new WeakSet<object>();

function hookAll(pc: RTCPeerConnection, ctx: PatchContext): void {
  for (const [i, t] of dtlsTransportsOf(pc).entries()) {
    if (hooked.has(t)) continue;
    hooked.add(t);
    const transport = t as unknown as EarlyTransportShape;
    if (transport.dtls !== undefined || transport.state !== 'new') continue; // too late: leave it
    const where = `pc.dtlsTransports[${i}]`;
    const problems = checkDtlsStartTransport(transport, where);
    if (problems.length > 0) {
      ctx.shapeMismatch(NAME, problems);
      continue;
    }
    startDtlsNow(transport, where, ctx);
  }
}

export const dtlsStartNowPatch: WeriftPatch = {
  name: NAME,
  description:
    'the DTLS client sends its ClientHello at once (werift: after 100 ms); records that arrive before the DtlsSocket exists are held for it',
  install(pc, ctx) {
    hookAll(pc, ctx);
    pc.signalingStateChange.subscribe(() => hookAll(pc, ctx));
    pc.connectionStateChange.subscribe((s) => {
      if (s === 'connecting' || s === 'new') hookAll(pc, ctx);
    });
  },
};
