/**
 * Patch `dtls-handshake-order`: the peer's DTLS handshake messages reach werift's handshake state machine in
 * `message_seq` order and exactly once (RFC 6347 §4.2.2 `next_receive_seq`), and a retransmitted message from
 * the peer makes us retransmit our last flight (§4.2.4) instead of being handled as new.
 *
 * Why (werift 0.25.2, measured through scripts/peers/udp-impair-proxy.mjs, DEBUG=werift-dtls*): werift acts
 * on each handshake message as it arrives and polls (`waitForReady`, ≤ 4.5 s) for the ones it needs, so
 * - a lost CertificateRequest: the client sees ServerHelloDone, only waits for Certificate and
 *   ServerKeyExchange, and sends flight 5 without a certificate and with a transcript (extended master secret)
 *   that lacks the CertificateRequest; the server derives other keys, and every retransmission resends the same
 *   flight 5 ("flight5 twice"): the handshake never completes;
 * - a lost ServerKeyExchange: the ServerHelloDone handler keeps polling; the retransmitted flight 4 completes
 *   the handshake, then the stale handler wakes up and runs flight 5 a second time with a fresh key pair,
 *   re-keying the connected client: DTLS is "connected" but nothing decrypts (the data channel never opens);
 * - the server derives the extended master secret when ClientKeyExchange is handled, over every flight-5
 *   message that arrived so far: a CertificateVerify that overtook it (reordering) or was received before a
 *   retransmitted ClientKeyExchange is hashed in, and the keys are wrong for good;
 * - a duplicate HelloVerifyRequest throws in flight 3 (DTLS "failed"), a late one after flight 5 rewinds the
 *   client to flight 3; a late duplicate ClientHello on a connected server triggers a renegotiation that
 *   throws away the session keys.
 * Delivering every message once and in order removes all of these without touching werift's flights: each
 * handler finds what it waits for already there.
 *
 * Ours, installed as the instance's `onHandleHandshakes` (the only callee of `udpOnMessage` for handshake
 * records) the moment werift creates its DtlsServer/DtlsClient in `RTCDtlsTransport.start`:
 * - `message_seq == next`: handed to werift's own `handleHandshakes`, followed by any held successors;
 * - `message_seq > next`: held (at most 32 ahead);
 * - `message_seq < next` (a retransmission): not handed on; a server that has only answered with a
 *   HelloVerifyRequest lets werift answer a repeated ClientHello (it keeps no copy of that flight); otherwise
 *   our last flight (`dtls.lastMessage`, werift's own bytes) is sent again, at most once per 100 ms, unless we
 *   are a client that has already finished.
 * Encrypted (epoch 1) Finished records that arrive before the keys exist are still dropped by werift's record
 * layer; the peer's retransmission timer brings them again.
 */
import type { RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { dtlsTransportsOf, expectFunction, expectType, ownFunction } from './internals.ts';

const NAME = 'dtls-handshake-order';
/** werift's SessionType (dtls/src/cipher/suites/abstract.ts). */
const SESSION_CLIENT = 1;
const SESSION_SERVER = 2;
const CLIENT_HELLO = 1;
const MAX_AHEAD = 32;
const RESEND_GAP_MS = 100;

/** `FragmentedHandshake` (dtls/src/record/message/fragment.ts), reassembled. */
export interface HandshakeMessage {
  msg_type: number;
  message_seq: number;
}

/** The parts of werift's `DtlsSocket` (DtlsClient / DtlsServer) this patch uses. */
export interface HandshakeSocketShape {
  connected: boolean;
  dtls: { flight: number; lastMessage: unknown };
  cipher: { sessionType: number };
  transport: { send(buf: Buffer, addr?: unknown): Promise<void> };
  onHandleHandshakes: (assembled: HandshakeMessage[]) => Promise<void>;
  handleHandshakes: (assembled: HandshakeMessage[]) => Promise<void>;
  udpOnMessage: (data: Buffer) => void;
}

interface DtlsTransportStartShape {
  dtls: unknown;
  start(): Promise<void>;
}

/** Per patched socket: what the sequencer has seen (exported for tests). */
export interface HandshakeOrderState {
  next: number;
  held: Map<number, HandshakeMessage>;
  delivered: number;
  duplicates: number;
  heldCount: number;
  resent: number;
}

const sockets = new WeakMap<object, HandshakeOrderState>();
const hookedTransports = new WeakSet<object>();

/** The sequencer's counters for a werift DtlsSocket, if the patch is on it. */
export function handshakeOrderState(socket: unknown): HandshakeOrderState | undefined {
  return socket !== null && typeof socket === 'object' ? sockets.get(socket) : undefined;
}

/** Mismatches between a freshly created werift DtlsSocket and what this patch expects. */
export function checkHandshakeSocket(socket: unknown, where: string): string[] {
  if (socket === null || typeof socket !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const s = socket as HandshakeSocketShape;
  for (const name of ['onHandleHandshakes', 'handleHandshakes', 'udpOnMessage'] as const) {
    if (!ownFunction(s, name)) problems.push(`${where}.${name} is not an own function property`);
    else expectFunction(problems, s, where, name, 1);
  }
  if (
    ownFunction(s, 'onHandleHandshakes') &&
    s.onHandleHandshakes !== s.handleHandshakes &&
    !sockets.has(s)
  ) {
    problems.push(`${where}.onHandleHandshakes is not its handleHandshakes`);
  }
  // The record layer must hand reassembled handshake messages to `onHandleHandshakes` and nothing else.
  if (ownFunction(s, 'udpOnMessage') && !String(s.udpOnMessage).includes('this.onHandleHandshakes(')) {
    problems.push(`${where}.udpOnMessage no longer calls onHandleHandshakes`);
  }
  expectType(problems, s, where, 'connected', 'boolean');
  expectType(problems, s.dtls, `${where}.dtls`, 'flight', 'number');
  if (!Array.isArray(s.dtls?.lastMessage)) problems.push(`${where}.dtls.lastMessage is not an array`);
  const type = s.cipher?.sessionType;
  if (type !== SESSION_CLIENT && type !== SESSION_SERVER) {
    problems.push(`${where}.cipher.sessionType is ${String(type)}, expected 1 or 2`);
  }
  expectFunction(problems, s.transport, `${where}.transport`, 'send', 2);
  return problems;
}

function isMessage(h: unknown): h is HandshakeMessage {
  return (
    h !== null &&
    typeof h === 'object' &&
    Number.isInteger((h as HandshakeMessage).message_seq) &&
    Number.isInteger((h as HandshakeMessage).msg_type)
  );
}

/** Installs the sequencer on one DtlsSocket (already checked; exported for tests). */
export function orderHandshakes(socket: HandshakeSocketShape): HandshakeOrderState {
  const stock = socket.onHandleHandshakes;
  const isServer = socket.cipher.sessionType === SESSION_SERVER;
  const state: HandshakeOrderState = {
    next: 0,
    held: new Map(),
    delivered: 0,
    duplicates: 0,
    heldCount: 0,
    resent: 0,
  };
  sockets.set(socket, state);
  let lastResend = 0;

  const resendLastFlight = (): void => {
    if (!isServer && socket.connected) return;
    const flight = socket.dtls.lastMessage;
    if (!Array.isArray(flight) || flight.length === 0 || !flight.every((b) => Buffer.isBuffer(b))) return;
    const now = performance.now();
    if (now - lastResend < RESEND_GAP_MS) return;
    lastResend = now;
    state.resent++;
    for (const buf of flight as Buffer[]) socket.transport.send(buf).catch(() => {});
  };

  socket.onHandleHandshakes = (assembled: HandshakeMessage[]): Promise<void> => {
    const handed: Promise<void>[] = [];
    const deliver = (h: HandshakeMessage): void => {
      state.delivered++;
      handed.push(stock([h]));
    };
    const messages = Array.isArray(assembled) ? [...assembled] : [];
    messages.sort((a, b) => a.message_seq - b.message_seq);
    for (const h of messages) {
      if (!isMessage(h)) continue;
      const seq = h.message_seq;
      if (seq < state.next) {
        state.duplicates++;
        if (isServer && !socket.connected && h.msg_type === CLIENT_HELLO && socket.dtls.flight <= 2)
          deliver(h);
        else resendLastFlight();
        continue;
      }
      if (seq > state.next) {
        if (seq - state.next <= MAX_AHEAD && !state.held.has(seq)) {
          state.held.set(seq, h);
          state.heldCount++;
        }
        continue;
      }
      deliver(h);
      state.next++;
      for (let held = state.held.get(state.next); held; held = state.held.get(state.next)) {
        state.held.delete(state.next);
        deliver(held);
        state.next++;
      }
    }
    // werift's udpOnMessage reports a rejection of this promise through the socket's onError, as before.
    return handed.length === 0 ? Promise.resolve() : Promise.all(handed).then(() => undefined);
  };
  return state;
}

/** Wraps the transport's `start` (on the instance) so the sequencer is on the socket before any record. */
function hookTransport(transport: DtlsTransportStartShape, where: string, ctx: PatchContext): void {
  if (hookedTransports.has(transport)) return;
  if (typeof transport.start !== 'function' || transport.start.length !== 0) {
    ctx.shapeMismatch(NAME, [`${where}.start is not a function without parameters`]);
    return;
  }
  hookedTransports.add(transport);
  const stockStart = transport.start;
  transport.start = function start(this: DtlsTransportStartShape): Promise<void> {
    const started = stockStart.call(this);
    // werift creates this.dtls synchronously inside start(); the first record arrives in a later task.
    const socket = this.dtls;
    if (socket && !sockets.has(socket)) {
      const problems = checkHandshakeSocket(socket, `${where}.dtls`);
      if (problems.length > 0) ctx.shapeMismatch(NAME, problems);
      else {
        orderHandshakes(socket as HandshakeSocketShape);
        ctx.markActive(NAME);
      }
    }
    return started;
  };
}

function hookAll(pc: RTCPeerConnection, ctx: PatchContext): void {
  for (const [i, t] of dtlsTransportsOf(pc).entries()) {
    const transport = t as unknown as DtlsTransportStartShape;
    if (transport.dtls === undefined) hookTransport(transport, `pc.dtlsTransports[${i}]`, ctx);
  }
}

export const dtlsHandshakeOrderPatch: WeriftPatch = {
  name: NAME,
  description:
    'DTLS handshake messages handed to werift in message_seq order, exactly once; duplicates resend our last flight',
  install(pc, ctx) {
    hookAll(pc, ctx);
    // Transports are created by the descriptions; werift's connect() sets 'connecting' before ICE, DTLS later.
    pc.connectionStateChange.subscribe((s) => {
      if (s === 'connecting' || s === 'new') hookAll(pc, ctx);
    });
    pc.iceConnectionStateChange.subscribe(() => hookAll(pc, ctx));
  },
};
