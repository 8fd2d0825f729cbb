/**
 * Patch `sctp-transmit`: the sending half of werift's SCTP association, our own implementation of
 * `transmitOnce` and of `sendChunk` for DATA chunks, installed on the association instance.
 *
 * werift 0.25.2 per transmit pass scans the whole sent queue (up to ≈ 900 chunks with its 1 MiB window) for
 * chunks marked for retransmission, even when none can be; and it builds each DATA packet with three
 * allocations and copies (chunk bytes, a concatenation to checksum, a concatenation to send) and awaits every
 * packet's whole send chain before building the next. Ours:
 * - scans the sent queue only after something can have marked a chunk for retransmission (a SACK with gap
 *   reports, or the T3 retransmission timer), and until a pass finds none left;
 * - writes the packet (common header, DATA chunk header, user data, padding) into one buffer and checksums it
 *   with our CRC-32C;
 * - starts each packet's send without waiting for the previous one to unwind (werift's own UDP send does not
 *   wait for the datagram either), so a pass is one synchronous loop;
 * - lets every queued message wait for the drained outbound queue on one shared promise (`SharedFlush`).
 * Congestion control, burst limit, receiver window, T3 timer handling and the order of packets are werift's.
 */
import type { RTCPeerConnection } from 'werift';
import { crc32c } from './crc32c.ts';
import type { PatchContext, WeriftPatch } from './index.ts';
import { expectFunction, expectType, ownFunction, sctpOf } from './internals.ts';

const NAME = 'sctp-transmit';
const COMMON_HEADER = 12;
const DATA_HEADER = 16;

interface DataChunkShape {
  type: number;
  flags: number;
  tsn: number;
  streamId: number;
  streamSeqNum: number;
  protocol: number;
  userData: Buffer;
  bookSize: number;
  retransmit: boolean;
  misses: number;
  sentCount: number;
  sentTime: number | undefined;
}

interface SenderShape {
  isStopped: boolean;
  state: string;
  localPort: number;
  remotePort: number | undefined;
  remoteVerificationTag: number;
  forwardTsnChunk: unknown;
  fastRecoveryExit: number | undefined;
  fastRecoveryTransmit: boolean;
  maxPayloadSize: number;
  flightSize: number;
  cwnd: number;
  peerRwnd: number;
  timer3Handle: unknown;
  localTsn: number;
  outboundQueue: DataChunkShape[];
  sentQueue: DataChunkShape[];
  flush: { execute(): void; asPromise(): Promise<unknown> };
  transport: { send(packet: Buffer): Promise<void> };
  transmitOnce(): Promise<void>;
  sendChunk(chunk: unknown): Promise<void>;
  receiveSackChunk(chunk: { gaps: unknown[] }): Promise<void>;
  timer3Expired: () => void;
  timer3Start(): void;
  timer3Restart(): void;
  flightSizeIncrease(chunk: DataChunkShape): void;
}

const patched = new WeakSet<object>();

/**
 * Per patched association: the TSN of its next DATA chunk when the patch went in, and how many DATA chunks
 * were retransmitted since (counted only on retransmission; first transmissions are derived from the TSNs).
 */
interface TransmitCounts {
  baseTsn: number;
  retransmitted: number;
}
const counts = new WeakMap<object, TransmitCounts>();

/**
 * DATA chunks of this connection's association sent for the first time and retransmitted (fast retransmit
 * or T3 timeout) since the patch went in; undefined when it is not in force.
 */
export function sctpDataTransmissions(
  pc: RTCPeerConnection,
): { sent: number; retransmitted: number } | undefined {
  const s = sctpOf(pc) as unknown as SenderShape | undefined;
  const c = s ? counts.get(s) : undefined;
  if (!s || !c) return undefined;
  const assigned = (s.localTsn - c.baseTsn) >>> 0;
  return { sent: Math.max(0, assigned - s.outboundQueue.length), retransmitted: c.retransmitted };
}

/** Mismatches between werift's SCTP association (sending side) and what this patch expects. */
export function checkSctpSender(sctp: unknown, where: string): string[] {
  if (sctp === null || typeof sctp !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const s = sctp as SenderShape;
  expectFunction(problems, s, where, 'transmitOnce', 0);
  expectFunction(problems, s, where, 'sendChunk', 1);
  expectFunction(problems, s, where, 'receiveSackChunk', 1);
  expectFunction(problems, s, where, 'timer3Start', 0);
  expectFunction(problems, s, where, 'timer3Restart', 0);
  expectFunction(problems, s, where, 'flightSizeIncrease', 1);
  if (!ownFunction(s, 'timer3Expired'))
    problems.push(`${where}.timer3Expired is not an own function property`);
  expectFunction(problems, s.flush, `${where}.flush`, 'execute', 0);
  expectFunction(problems, s.flush, `${where}.flush`, 'asPromise', 1);
  if (!ownFunction(s, 'send')) problems.push(`${where}.send is not an own function property`);
  else expectFunction(problems, s, where, 'send', 3);
  expectFunction(problems, s.transport, `${where}.transport`, 'send', 1);
  for (const f of [
    'maxPayloadSize',
    'flightSize',
    'cwnd',
    'peerRwnd',
    'localPort',
    'remoteVerificationTag',
    'localTsn',
  ] as const) {
    expectType(problems, s, where, f, 'number');
  }
  expectType(problems, s, where, 'fastRecoveryTransmit', 'boolean');
  if (!Array.isArray(s.outboundQueue)) problems.push(`${where}.outboundQueue is not an array`);
  if (!Array.isArray(s.sentQueue)) problems.push(`${where}.sentQueue is not an array`);
  return problems;
}

/** The SCTP packet carrying one DATA chunk, as werift's serializePacket + DataChunk.bytes lay it out. */
export function dataPacket(s: SenderShape, chunk: DataChunkShape): Buffer {
  const len = chunk.userData.length;
  const chunkLength = DATA_HEADER + len;
  const padded = (chunkLength + 3) & ~3;
  const p = Buffer.allocUnsafe(COMMON_HEADER + padded);
  p.writeUInt16BE(s.localPort, 0);
  p.writeUInt16BE(s.remotePort as number, 2);
  p.writeUInt32BE(s.remoteVerificationTag, 4);
  p[12] = 0; // DATA
  p[13] = chunk.flags;
  p.writeUInt16BE(chunkLength, 14);
  p.writeUInt32BE(chunk.tsn, 16);
  p.writeUInt16BE(chunk.streamId, 20);
  p.writeUInt16BE(chunk.streamSeqNum, 22);
  p.writeUInt32BE(chunk.protocol, 24);
  chunk.userData.copy(p, COMMON_HEADER + DATA_HEADER);
  p.fill(0, COMMON_HEADER + chunkLength);
  p.writeUInt32LE(0, 8);
  p.writeUInt32LE(crc32c(p), 8);
  return p;
}

/**
 * Stands in for the association's `flush` event. werift's `send` (one call per queued message) waits with
 * `while (outboundQueue.length) await flush.asPromise()`, and every transmit pass fires `flush`: with werift's
 * Event each waiting message subscribes again and gets a new promise on every pass (64 waiters with 1 MiB of
 * 16 KiB messages queued). Here all waiters share one promise per pass.
 */
export class SharedFlush {
  #promise: Promise<unknown[]> | undefined;
  #resolve: ((args: unknown[]) => void) | undefined;

  execute = (...args: unknown[]): void => {
    const resolve = this.#resolve;
    this.#promise = undefined;
    this.#resolve = undefined;
    resolve?.(args);
  };

  asPromise = (): Promise<unknown[]> => {
    if (!this.#promise) {
      this.#promise = new Promise((resolve) => {
        this.#resolve = resolve;
      });
    }
    return this.#promise;
  };
}

function patchSender(s: SenderShape): void {
  patched.add(s);
  const count: TransmitCounts = { baseTsn: s.localTsn, retransmitted: 0 };
  counts.set(s, count);
  s.flush = new SharedFlush();
  const stockSendChunk = s.sendChunk;
  const stockSack = s.receiveSackChunk;
  const stockT3 = s.timer3Expired;
  /** Some chunk in the sent queue may be marked for retransmission. */
  let mayRetransmit = true;
  const ignore = (): void => {};

  s.sendChunk = (chunk: unknown): Promise<void> => {
    const c = chunk as DataChunkShape | undefined;
    // werift's T1 handler sends `timer1Chunk` from a setImmediate, by which time an INIT-ACK / COOKIE-ACK may
    // have cleared it: werift's own sendChunk rejects (and werift catches that); never throw synchronously.
    if (c?.type !== 0 || !Buffer.isBuffer(c.userData)) return stockSendChunk.call(s, chunk);
    if (s.state === 'closed') return Promise.resolve();
    if (s.remotePort === undefined) return Promise.reject(new Error('invalid remote port'));
    return s.transport.send(dataPacket(s, c));
  };
  s.receiveSackChunk = (chunk) => {
    if (Array.isArray(chunk.gaps) && chunk.gaps.length > 0) mayRetransmit = true;
    return stockSack.call(s, chunk);
  };
  s.timer3Expired = () => {
    mayRetransmit = true;
    stockT3();
  };
  s.transmitOnce = async () => {
    if (s.isStopped) return;
    if (s.forwardTsnChunk) {
      await s.sendChunk(s.forwardTsnChunk).catch(ignore);
      s.forwardTsnChunk = undefined;
      if (!s.timer3Handle) s.timer3Start();
    }
    const burst = s.fastRecoveryExit !== undefined ? 2 * s.maxPayloadSize : 4 * s.maxPayloadSize;
    const cwnd = Math.min(s.flightSize + burst, s.cwnd);
    if (mayRetransmit) {
      let first = true;
      let left = false;
      for (const chunk of s.sentQueue) {
        if (chunk.retransmit) {
          if (s.fastRecoveryTransmit) s.fastRecoveryTransmit = false;
          else if (s.flightSize >= cwnd) {
            left = true;
            break;
          }
          s.flightSizeIncrease(chunk);
          chunk.misses = 0;
          chunk.retransmit = false;
          chunk.sentCount++;
          count.retransmitted++;
          s.sendChunk(chunk).catch(ignore);
          if (first) s.timer3Restart();
        }
        first = false;
      }
      if (!left) mayRetransmit = false;
    }
    while (s.outboundQueue.length > 0 && s.flightSize < cwnd && s.peerRwnd > 0) {
      const chunk = s.outboundQueue.shift();
      if (!chunk) break;
      if (chunk.bookSize > s.peerRwnd && s.flightSize > 0) {
        s.outboundQueue.unshift(chunk);
        break;
      }
      s.sentQueue.push(chunk);
      s.flightSizeIncrease(chunk);
      chunk.sentCount++;
      chunk.sentTime = Date.now() / 1e3;
      s.sendChunk(chunk).catch(ignore);
      if (!s.timer3Handle) s.timer3Start();
    }
    if (s.outboundQueue.length === 0) s.outboundQueue = [];
    s.flush.execute();
  };
}

function apply(pc: RTCPeerConnection, ctx: PatchContext): void {
  const sctp = sctpOf(pc) as unknown as SenderShape | undefined;
  if (!sctp || patched.has(sctp)) return;
  const problems = checkSctpSender(sctp, 'pc.sctpTransport.sctp');
  if (problems.length > 0) {
    ctx.shapeMismatch(NAME, problems);
    return;
  }
  patchSender(sctp);
  ctx.markActive(NAME);
}

export const sctpTransmitPatch: WeriftPatch = {
  name: NAME,
  description:
    'own SCTP transmit pass (no sent-queue scan without pending retransmissions) and DATA packet builder',
  install(pc, ctx) {
    ctx.whenConnected(() => apply(pc, ctx));
  },
};
