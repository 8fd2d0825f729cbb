/**
 * Patch `dtls-flight-retransmit`: a DTLS client's ClientHello (flight 1, and flight 3 with the cookie) that gets
 * no answer is sent again after max(50 ms, 2 × the ICE round trip), then after twice and four times that,
 * before werift's own first retransmission (500 ms, then 1 s, 1.5 s, …) would.
 *
 * Why (werift 0.25.2): `Flight.transmit` waits 500 ms before its first retransmission, so one lost datagram of
 * the handshake (the ClientHello, or any flight) costs at least half a second of set-up, several times what
 * the whole set-up takes on a LAN once the fixed waits are gone (`dtls-start-now`). libwebrtc likewise derives
 * its first DTLS retransmission from the ICE round trip with a 50 ms floor.
 *
 * Ours, per DtlsSocket (reached through an instance wrapper of `RTCDtlsTransport.start()`): the socket's
 * `transport.send` (werift's TransportContext, an instance property every flight sends through) is wrapped
 * to remember the records of the flight being sent (handshake and ChangeCipherSpec records before the
 * socket is connected; werift numbers flights in `dtls.flight`). After the client's flight 1 or 3 a timer
 * runs; if it fires while the socket is not connected and still on that flight, the same bytes are sent again
 * (werift's bytes, nothing re-encoded). Any server answers a repeated ClientHello by repeating its answer
 * (a HelloVerifyRequest with the same cookie, or its flight 4: werift's "flight4 twice", ours through
 * `dtls-handshake-order`, RFC 6347 §4.2.4 elsewhere).
 * Only those two flights: a stock werift peer takes a repeated flight 4 or flight 5 as new messages and
 * re-keys (measured: a server resending flight 4 after 50 ms while a loaded stock client was still computing
 * flight 5 broke the handshake), so later flights keep werift's 500 ms timer.
 */
import type { RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { dtlsTransportsOf, expectFunction, expectType } from './internals.ts';

const NAME = 'dtls-flight-retransmit';
const SESSION_CLIENT = 1;
const CONTENT_CCS = 20;
const CONTENT_HANDSHAKE = 22;
/** Lower bound of the first retransmission (ms), as libwebrtc's. */
export const FIRST_RETRANSMIT_MS = 50;
/** Our resends per flight (after 1×, 3× and 7× the first delay); werift's own timer continues after that. */
const MAX_RESENDS = 3;

interface FlightSocketShape {
  connected: boolean;
  dtls: { flight: number };
  cipher: { sessionType: number };
  transport: { send: (buf: Buffer, addr?: unknown) => Promise<void> };
}

interface FlightTransportShape {
  state: string;
  dtls: FlightSocketShape | undefined;
  iceTransport: { connection: { nominated?: { rtt?: number } | undefined } };
  start(): Promise<void>;
}

/** Per socket, for tests: flights recorded and resends made. */
export interface FlightRetransmitState {
  flights: number;
  resent: number;
  firstDelayMs: number;
}

const states = new WeakMap<object, FlightRetransmitState>();

export function flightRetransmitState(socket: unknown): FlightRetransmitState | undefined {
  return socket !== null && typeof socket === 'object' ? states.get(socket) : undefined;
}

/** Mismatches between a werift DtlsSocket just created in `start()` and what this patch expects. */
export function checkFlightSocket(socket: unknown, where: string): string[] {
  if (socket === null || typeof socket !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const s = socket as FlightSocketShape;
  expectType(problems, s, where, 'connected', 'boolean');
  expectType(problems, s.dtls, `${where}.dtls`, 'flight', 'number');
  expectType(problems, s.cipher, `${where}.cipher`, 'sessionType', 'number');
  const t = s.transport as unknown as Record<string, unknown> | undefined;
  if (!t || !Object.hasOwn(t, 'send')) problems.push(`${where}.transport.send is not an own property`);
  else expectFunction(problems, t, `${where}.transport`, 'send', 2);
  return problems;
}

/**
 * Mismatches of werift's `Flight.transmit` source (not reachable from a live object before a flight runs;
 * the test reads it from the installed werift bundle).
 */
export function checkFlightSource(flightTransmit: unknown): string[] {
  const src = String(flightTransmit ?? '');
  const problems: string[] = [];
  if (!src.includes('this.send(buffers)')) problems.push('Flight.transmit no longer sends through this.send');
  if (!/1e3 \* \(\(retransmitCount \+ 1\) \/ 2\)/.test(src))
    problems.push('Flight.transmit no longer waits 500 ms × n between retransmissions');
  return problems;
}

/** Wraps one socket's sends (already checked; exported for tests). */
export function retransmitFlights(socket: FlightSocketShape, firstDelayMs: number): FlightRetransmitState {
  const state: FlightRetransmitState = { flights: 0, resent: 0, firstDelayMs };
  states.set(socket, state);
  const isClient = socket.cipher.sessionType === SESSION_CLIENT;
  const expectsAnswer = (flight: number): boolean => isClient && (flight === 1 || flight === 3);
  const stockSend = socket.transport.send;
  let flight = -1;
  let records: Buffer[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;

  const arm = (armed: number, resends: number, delay: number): void => {
    timer = setTimeout(() => {
      timer = undefined;
      if (socket.connected || socket.dtls.flight !== armed || flight !== armed) return;
      state.resent++;
      for (const buf of records) stockSend(buf).catch(() => {});
      if (resends + 1 < MAX_RESENDS) arm(armed, resends + 1, delay * 2);
    }, delay);
    timer.unref?.();
  };

  socket.transport.send = (buf: Buffer, addr?: unknown): Promise<void> => {
    const type = Buffer.isBuffer(buf) ? buf[0] : undefined;
    if (!socket.connected && (type === CONTENT_HANDSHAKE || type === CONTENT_CCS)) {
      const now = socket.dtls.flight;
      if (now !== flight) {
        flight = now;
        records = [];
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (expectsAnswer(now)) {
          state.flights++;
          arm(now, 0, firstDelayMs);
        }
      }
      records.push(buf);
    } else if (socket.connected && timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    return stockSend(buf, addr);
  };
  return state;
}

const hooked = new WeakSet<object>();

function hookAll(pc: RTCPeerConnection, ctx: PatchContext): void {
  for (const [i, t] of dtlsTransportsOf(pc).entries()) {
    if (hooked.has(t)) continue;
    hooked.add(t);
    const transport = t as unknown as FlightTransportShape;
    if (transport.dtls !== undefined || transport.state !== 'new') continue;
    if (typeof transport.start !== 'function' || transport.start.length !== 0) {
      ctx.shapeMismatch(NAME, [`pc.dtlsTransports[${i}].start is not a function without parameters`]);
      continue;
    }
    const stockStart = transport.start;
    transport.start = function start(this: FlightTransportShape): Promise<void> {
      const started = stockStart.call(this);
      const socket = this.dtls;
      const problems = checkFlightSocket(socket, `pc.dtlsTransports[${i}].dtls`);
      if (!socket || problems.length > 0) {
        ctx.shapeMismatch(NAME, problems);
        return started;
      }
      const rttMs = (this.iceTransport?.connection?.nominated?.rtt ?? 0) * 1000;
      retransmitFlights(socket, Math.max(FIRST_RETRANSMIT_MS, Math.round(2 * rttMs)));
      ctx.markActive(NAME);
      return started;
    };
  }
}

export const dtlsFlightRetransmitPatch: WeriftPatch = {
  name: NAME,
  description:
    'an unanswered ClientHello is resent after max(50 ms, 2 × ICE RTT), 2× and 4× that (werift: first after 500 ms)',
  install(pc, ctx) {
    hookAll(pc, ctx);
    pc.signalingStateChange.subscribe(() => hookAll(pc, ctx));
    pc.connectionStateChange.subscribe((s) => {
      if (s === 'connecting' || s === 'new') hookAll(pc, ctx);
    });
  },
};
