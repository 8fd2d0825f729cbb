/**
 * Patch `sctp-plpmtud`: packetization-layer path MTU discovery (RFC 8899) for werift's SCTP association over
 * DTLS. werift sends every SCTP packet at ≤ 1,191 bytes (its fixed `mtu`), so a 64 KiB message costs 57
 * packets, each with its own DTLS record, cipher set-up and `dgram.send`. Here the association uses larger
 * packets, but only sizes a probe proved the path carries, never above, and never below werift's own size.
 *
 * Probes. A probe is one SCTP packet of exactly the probed size holding a HEARTBEAT chunk whose Heartbeat
 * Information (opaque to the receiver, which echoes it unchanged in its HEARTBEAT-ACK, RFC 9260 §8.3) carries
 * a marker, a probe number and zero padding. The probe is confirmed by the HEARTBEAT-ACK echoing that number;
 * the ACK is as large as the probe, so the size is proved in both directions. RFC 8899 §6.2 pads with a PAD
 * chunk (RFC 4820) instead, but a stock werift 0.25.2 receiver throws on any chunk type it does not know,
 * inside an un-awaited handler (an unhandled rejection in the peer's process), so the padding stays inside the
 * HEARTBEAT. A peer that cannot take a size (its DTLS layer, buffers or the path drop it) never answers: the
 * probe is lost and the association keeps the size it has; the floor is always werift's own. A packet that is
 * exactly one probe or one echo of ours is read in place (CRC-32C checked without a copy) and a probe is answered
 * with one HEARTBEAT-ACK buffer of its own, not through werift's parser and serialiser (see `patchAssociation`).
 *
 * Search. Probes start once the association is established, one at a time, up a short ladder: the Ethernet
 * size (1,500-byte link minus IPv6, UDP, TURN and DTLS overheads), then 4 KiB, 8 KiB and 16 KiB, each only
 * where the local interface of the selected candidate pair carries it without IP fragmentation (Linux:
 * /sys/class/net/IFACE/mtu; unknown interface → 1,500) and never above 16,384 bytes, the largest DTLS 1.2
 * record plaintext (RFC 6347 §4.1; a larger record is a fatal record_overflow for BoringSSL). A probe is sent
 * up to `maxProbes` times, `probeTimeoutMs` apart; a size that is never confirmed ends the search. The search
 * runs again after `raiseIntervalMs` (RFC 8899 PMTU_RAISE_TIMER) and after a path change.
 *
 * Black holes. If the T3 retransmission timer expires while the oldest unacknowledged DATA chunk, already
 * retransmitted once, travels in a packet larger than the floor, the association drops back to the floor,
 * the DATA chunks not yet sent are cut again to the floor's size (renumbered: none has been sent), and the
 * search runs again after `blackHoleRetryMs`. Chunks already sent keep their size (SCTP never re-fragments a
 * sent DATA chunk) and hold the congestion window: on a path that stopped carrying a size it had proved, the
 * association moves nothing until the path carries that size again. Hence the caps above: the size only rises
 * on proof, and on an Ethernet interface the one step above the floor also fits a 1,500-byte path via TURN.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { RTCPeerConnection } from 'werift';
import { crc32c } from './crc32c.ts';
import type { PatchContext, WeriftPatch } from './index.ts';
import { expectFunction, expectType, ownFunction, sctpOf } from './internals.ts';

const NAME = 'sctp-plpmtud';
const COMMON_HEADER = 12;
const DATA_HEADER = 16;
/** Marker at the start of our Heartbeat Information ("PMTU"); werift's own heartbeats carry 4 bytes. */
const PROBE_MARKER = 0x504d5455;
/** Largest DTLS 1.2 record plaintext (2^14): the largest SCTP packet over DTLS. */
export const PLPMTU_MAX = 16_384;
/**
 * Bytes around the SCTP packet on the wire, worst case: IPv6 (40) + UDP (8) + TURN Send indication (36) +
 * DTLS 1.2 AES-GCM record (13 header + 8 explicit nonce + 16 tag).
 */
export const WIRE_OVERHEAD = 40 + 8 + 36 + 37;
/** Interface MTU assumed when the selected interface is unknown (Ethernet). */
export const DEFAULT_LINK_MTU = 1500;

export interface PlpmtudTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: PlpmtudTimers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clear(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

export interface PlpmtudOptions {
  /** The floor: werift's own packet size. Never probed, never gone below. */
  base: number;
  /** Probe sizes for one search, ascending (see `probeLadder`). Called at the start of every search. */
  sizes(): number[];
  /** Sends one probe packet of `size` bytes carrying `id`. */
  sendProbe(size: number, id: number): void;
  /** Makes `size` the association's packet size. */
  apply(size: number): void;
  timers?: PlpmtudTimers;
  probeTimeoutMs?: number;
  maxProbes?: number;
  raiseIntervalMs?: number;
  blackHoleRetryMs?: number;
}

export type PlpmtudState = 'idle' | 'searching' | 'search-complete' | 'base' | 'stopped';

/**
 * The RFC 8899 probing state machine, without I/O: the association part supplies `sendProbe`/`apply` and
 * reports HEARTBEAT-ACKs (`probeAcked`) and black-hole evidence (`blackHole`).
 */
export class PlpmtudSearch {
  readonly base: number;
  #plpmtu: number;
  #state: PlpmtudState = 'idle';
  #ladder: number[] = [];
  #probing: { size: number; id: number; sent: number } | undefined;
  #nextId = 1;
  #timer: unknown;
  readonly #o: Required<Omit<PlpmtudOptions, 'base' | 'sizes' | 'sendProbe' | 'apply'>> & PlpmtudOptions;

  constructor(options: PlpmtudOptions) {
    this.#o = {
      timers: realTimers,
      probeTimeoutMs: 1_500,
      maxProbes: 3,
      raiseIntervalMs: 600_000,
      blackHoleRetryMs: 60_000,
      ...options,
    };
    this.base = options.base;
    this.#plpmtu = options.base;
  }

  /** The largest packet size proved (the floor until a probe succeeds). */
  get plpmtu(): number {
    return this.#plpmtu;
  }

  get state(): PlpmtudState {
    return this.#state;
  }

  /** Size of the probe in flight, if any. */
  get probing(): number | undefined {
    return this.#probing?.size;
  }

  /** Starts a search upward from the current size (the association is established). */
  start(): void {
    if (this.#state === 'stopped') return;
    this.#clearTimer();
    this.#probing = undefined;
    this.#ladder = this.#o.sizes().filter((s) => s > this.#plpmtu);
    this.#state = 'searching';
    this.#next();
  }

  /** A HEARTBEAT-ACK for probe `id` arrived. Returns true when it was ours. */
  probeAcked(id: number): boolean {
    const p = this.#probing;
    if (!p || p.id !== id || this.#state !== 'searching') return false;
    this.#clearTimer();
    this.#probing = undefined;
    this.#plpmtu = p.size;
    this.#o.apply(p.size);
    this.#next();
    return true;
  }

  /**
   * Packets above the floor are being lost (the oldest DATA chunk lost twice at a size above the floor):
   * back to the floor and search again later. Returns true when the size was lowered.
   */
  blackHole(): boolean {
    if (this.#state === 'stopped' || this.#plpmtu <= this.base) return false;
    this.#clearTimer();
    this.#probing = undefined;
    this.#plpmtu = this.base;
    this.#o.apply(this.base);
    this.#state = 'base';
    this.#timer = this.#o.timers.set(() => this.start(), this.#o.blackHoleRetryMs);
    return true;
  }

  /** The path changed (new candidate pair): back to the floor and search from there now. */
  pathChanged(): void {
    if (this.#state === 'stopped') return;
    if (this.#plpmtu > this.base) {
      this.#plpmtu = this.base;
      this.#o.apply(this.base);
    }
    this.start();
  }

  stop(): void {
    this.#clearTimer();
    this.#probing = undefined;
    this.#state = 'stopped';
  }

  #next(): void {
    const size = this.#ladder.shift();
    if (size === undefined) {
      this.#state = 'search-complete';
      this.#timer = this.#o.timers.set(() => this.start(), this.#o.raiseIntervalMs);
      return;
    }
    this.#probing = { size, id: this.#nextId++ >>> 0, sent: 0 };
    this.#sendProbe();
  }

  #sendProbe(): void {
    const p = this.#probing;
    if (!p) return;
    if (p.sent >= this.#o.maxProbes) {
      // never confirmed: this size (and so every larger one) is not carried; keep what we have
      this.#probing = undefined;
      this.#ladder = [];
      this.#next();
      return;
    }
    p.sent++;
    this.#timer = this.#o.timers.set(() => this.#sendProbe(), this.#o.probeTimeoutMs);
    this.#o.sendProbe(p.size, p.id);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#o.timers.clear(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Probe sizes above `base` for a local interface MTU of `linkMtu` (undefined: unknown, taken as Ethernet):
 * the Ethernet size, then 4, 8 and 16 KiB, all capped at what the link carries unfragmented and at
 * `PLPMTU_MAX`, multiples of 4.
 */
export function probeLadder(base: number, linkMtu: number | undefined): number[] {
  const cap = Math.min(PLPMTU_MAX, (linkMtu ?? DEFAULT_LINK_MTU) - WIRE_OVERHEAD) & ~3;
  const ethernet = (DEFAULT_LINK_MTU - WIRE_OVERHEAD) & ~3;
  const sizes = [ethernet, 4_096, 8_192, PLPMTU_MAX].filter((s) => s > base && s <= cap);
  const last = sizes[sizes.length - 1];
  if (cap > base && (last === undefined || cap > last)) sizes.push(cap);
  return sizes;
}

/** MTU of the local interface holding `address` (Linux sysfs), or undefined. */
export function interfaceMtu(address: string | undefined): number | undefined {
  if (!address) return undefined;
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (!addrs?.some((a) => a.address === address)) continue;
    if (!/^[\w.@:-]+$/.test(name)) return undefined;
    try {
      const mtu = Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
      return Number.isSafeInteger(mtu) && mtu > 0 ? mtu : undefined;
    } catch {
      return undefined; // not Linux, or no sysfs
    }
  }
  return undefined;
}

/** The largest DATA payload in a packet of `mtu` bytes (werift's maxPayloadSizeForMtu). */
export function payloadForPacket(mtu: number): number {
  return (mtu - COMMON_HEADER - DATA_HEADER) & ~3;
}

/** One probe packet: common header and a HEARTBEAT chunk padded inside its Heartbeat Info to `size` bytes. */
export function probePacket(
  localPort: number,
  remotePort: number,
  verificationTag: number,
  size: number,
  id: number,
): Buffer {
  const p = Buffer.alloc(size);
  p.writeUInt16BE(localPort, 0);
  p.writeUInt16BE(remotePort, 2);
  p.writeUInt32BE(verificationTag, 4);
  p[12] = 4; // HEARTBEAT
  p.writeUInt16BE(size - COMMON_HEADER, 14);
  p.writeUInt16BE(1, 16); // Heartbeat Info
  p.writeUInt16BE(size - COMMON_HEADER - 4, 18);
  p.writeUInt32BE(PROBE_MARKER, 20);
  p.writeUInt32BE(id, 24);
  p.writeUInt32LE(crc32c(p), 8);
  return p;
}

/**
 * A packet that is exactly one of our probes (HEARTBEAT, type 4) or its echo (HEARTBEAT-ACK, type 5): one chunk
 * filling the packet, one Heartbeat Info parameter filling the chunk, our marker, and a valid CRC-32C (checked in
 * place: the checksum field zeroed and restored). Anything else, undefined.
 */
export function probeOf(data: Buffer): { type: 4 | 5; id: number } | undefined {
  if (data.length < COMMON_HEADER + 16 || data.length > PLPMTU_MAX) return undefined;
  const type = data[12];
  if (type !== 4 && type !== 5) return undefined;
  if (data.readUInt16BE(14) !== data.length - COMMON_HEADER || data.readUInt16BE(16) !== 1) return undefined;
  if (data.readUInt16BE(18) !== data.length - COMMON_HEADER - 4) return undefined;
  if (data.readUInt32BE(20) !== PROBE_MARKER) return undefined;
  const checksum = data.readUInt32LE(8);
  data.writeUInt32LE(0, 8);
  const valid = crc32c(data) === checksum;
  data.writeUInt32LE(checksum, 8);
  return valid ? { type, id: data.readUInt32BE(24) } : undefined;
}

/**
 * The HEARTBEAT-ACK answering `probe` (a packet `probeOf` accepted as a HEARTBEAT), as werift would serialise
 * it (the Heartbeat Info echoed unchanged), in one buffer of its own: not a slice of Node's Buffer pool.
 */
export function probeAckPacket(
  probe: Buffer,
  localPort: number,
  remotePort: number,
  verificationTag: number,
): Buffer {
  const ack = Buffer.allocUnsafeSlow(probe.length);
  probe.copy(ack);
  ack.writeUInt16BE(localPort, 0);
  ack.writeUInt16BE(remotePort, 2);
  ack.writeUInt32BE(verificationTag, 4);
  ack.writeUInt32LE(0, 8);
  ack[12] = 5; // HEARTBEAT-ACK
  ack[13] = 0;
  ack.writeUInt32LE(crc32c(ack), 8);
  return ack;
}

/** The probe number in an echoed Heartbeat Info, or undefined when it is not one of our probes. */
export function probeIdOf(info: unknown): number | undefined {
  if (!Buffer.isBuffer(info) || info.length < 8 || info.readUInt32BE(0) !== PROBE_MARKER) return undefined;
  return info.readUInt32BE(4);
}

interface ChunkShape {
  type: number;
  flags: number;
  tsn: number;
  userData: Buffer;
  bookSize: number;
  sentCount: number;
  params?: [number, Buffer][];
}

interface AssociationShape {
  state: string;
  isStopped: boolean;
  localVerificationTag: number;
  sackHasNewDataInPacket: boolean;
  sackNeeded: boolean;
  sackPacketCount: number;
  sackImmediate: boolean;
  mtu: number;
  maxPayloadSize: number;
  localPort: number;
  remotePort: number | undefined;
  remoteVerificationTag: number;
  localTsn: number;
  outboundQueue: ChunkShape[];
  sentQueue: ChunkShape[];
  transport: { send(packet: Buffer): Promise<void> };
  stateChanged: Record<string, { subscribe(fn: () => void): unknown }>;
  receiveChunk(chunk: unknown): Promise<void>;
  handleData(data: Buffer): Promise<void>;
  scheduleSack(): Promise<void>;
  timer3Expired: () => void;
}

/** Mismatches between werift's SCTP association and what this patch expects. */
export function checkSctpPlpmtud(sctp: unknown, where: string): string[] {
  if (sctp === null || typeof sctp !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const s = sctp as AssociationShape;
  expectFunction(problems, s, where, 'receiveChunk', 1);
  expectFunction(problems, s, where, 'handleData', 1);
  expectFunction(problems, s, where, 'scheduleSack', 0);
  expectFunction(problems, s.transport, `${where}.transport`, 'send', 1);
  if (!ownFunction(s, 'timer3Expired'))
    problems.push(`${where}.timer3Expired is not an own function property`);
  for (const f of [
    'mtu',
    'maxPayloadSize',
    'localPort',
    'remoteVerificationTag',
    'localVerificationTag',
    'localTsn',
    'sackPacketCount',
  ] as const) {
    expectType(problems, s, where, f, 'number');
  }
  for (const f of ['isStopped', 'sackHasNewDataInPacket', 'sackNeeded'] as const) {
    expectType(problems, s, where, f, 'boolean');
  }
  expectType(problems, s, where, 'state', 'string');
  if (!Array.isArray(s.outboundQueue)) problems.push(`${where}.outboundQueue is not an array`);
  if (!Array.isArray(s.sentQueue)) problems.push(`${where}.sentQueue is not an array`);
  for (const st of ['connected', 'closed']) {
    expectFunction(problems, s.stateChanged?.[st], `${where}.stateChanged.${st}`, 'subscribe', 3);
  }
  if (s.mtu !== undefined && typeof s.mtu === 'number' && payloadForPacket(s.mtu) !== s.maxPayloadSize)
    problems.push(`${where}.maxPayloadSize is not derived from mtu as expected`);
  return problems;
}

/**
 * Cuts the DATA chunks not yet sent to at most `max` bytes of user data each and renumbers them from the
 * first one's TSN (they are the newest TSNs and none has been on the wire), keeping fragment flags.
 */
export function refragmentUnsent(s: Pick<AssociationShape, 'outboundQueue' | 'localTsn'>, max: number): void {
  const queue = s.outboundQueue;
  const first = queue[0];
  if (!first || !queue.some((c) => c.userData.length > max)) return;
  let tsn = first.tsn;
  const out: ChunkShape[] = [];
  for (const c of queue) {
    const n = Math.max(1, Math.ceil(c.userData.length / max));
    for (let i = 0; i < n; i++) {
      const piece =
        n === 1 ? c : (Object.assign(Object.create(Object.getPrototypeOf(c) as object), c) as ChunkShape);
      let flags = c.flags & ~3;
      if (i === 0) flags |= c.flags & 2; // FIRST
      if (i === n - 1) flags |= c.flags & 1; // LAST
      piece.flags = flags;
      piece.tsn = tsn;
      if (n > 1) {
        piece.userData = c.userData.subarray(i * max, (i + 1) * max);
        piece.bookSize = piece.userData.length;
      }
      tsn = (tsn + 1) >>> 0;
      out.push(piece);
    }
  }
  s.outboundQueue = out;
  s.localTsn = tsn;
}

const searches = new WeakMap<RTCPeerConnection, PlpmtudSearch>();
const patched = new WeakSet<object>();

/** The SCTP packet size in force on `pc` (werift's own when the patch is not in force), or undefined. */
export function sctpPacketSize(pc: RTCPeerConnection): number | undefined {
  const mtu = (sctpOf(pc) as unknown as { mtu?: unknown } | undefined)?.mtu;
  return typeof mtu === 'number' ? mtu : undefined;
}

/** The path changed (ICE restart, new pair): back to the floor and probe again. False when not in force. */
export function sctpPlpmtudPathChanged(pc: RTCPeerConnection): boolean {
  const search = searches.get(pc);
  search?.pathChanged();
  return search !== undefined;
}

/** The search on `pc` (tests and diagnostics). */
export function plpmtudSearchOf(pc: RTCPeerConnection): PlpmtudSearch | undefined {
  return searches.get(pc);
}

function selectedLocalAddress(pc: RTCPeerConnection): string | undefined {
  const t = (pc as unknown as { iceTransports?: { connection?: { nominated?: unknown } }[] }).iceTransports;
  const pair = t?.[0]?.connection?.nominated as
    | { localCandidate?: { host?: unknown; type?: unknown } }
    | undefined;
  const c = pair?.localCandidate;
  // a relayed candidate's address is the TURN server's, not a local interface
  return typeof c?.host === 'string' && c.type !== 'relay' ? c.host : undefined;
}

function patchAssociation(pc: RTCPeerConnection, s: AssociationShape, ctx: PatchContext): void {
  patched.add(s);
  const setSize = (size: number): void => {
    const before = s.mtu;
    s.mtu = size;
    s.maxPayloadSize = payloadForPacket(size);
    if (size < before) refragmentUnsent(s, s.maxPayloadSize);
  };
  const search = new PlpmtudSearch({
    base: s.mtu,
    sizes: () => probeLadder(s.mtu, interfaceMtu(selectedLocalAddress(pc))),
    sendProbe: (size, id) => {
      if (s.state !== 'connected' || s.remotePort === undefined) return;
      s.transport
        .send(probePacket(s.localPort, s.remotePort, s.remoteVerificationTag, size, id))
        .catch(() => {}); // a probe that cannot be sent is a lost probe
    },
    apply: (size) => {
      setSize(size);
      ctx.logger.debug({ sctpPacketSize: size }, 'SCTP packet size');
    },
  });
  searches.set(pc, search);
  // Probes and their echoes, read in place and answered with one buffer of our own. Through werift they would
  // cost six pooled copies of up to 16 KiB each (parsePacket's checksum concatenation; encodeParams, Chunk.bytes,
  // serializePacket's two concatenations for the echo): the probe ladder ran ≈ 4 of Node's 64 KiB Buffer-pool
  // slabs through each end at set-up, so the long-lived small slices werift allocates per connection then (DTLS
  // keys, certificate, handshake messages) each landed in a slab of their own and pinned all 64 KiB of it.
  const innerHandleData = s.handleData;
  s.handleData = async (data: Buffer): Promise<void> => {
    const probe = Buffer.isBuffer(data) && !s.isStopped ? probeOf(data) : undefined;
    if (!probe || data.readUInt32BE(4) !== s.localVerificationTag) return innerHandleData.call(s, data);
    if (probe.type === 5) search.probeAcked(probe.id);
    else if (s.state !== 'closed' && s.remotePort !== undefined) {
      s.transport
        .send(probeAckPacket(data, s.localPort, s.remotePort, s.remoteVerificationTag))
        .catch(() => {}); // werift logs and drops a failed HEARTBEAT-ACK too
    }
    // what werift's handleData does after the chunks of a packet without DATA
    s.sackHasNewDataInPacket = false;
    if (s.sackNeeded) {
      if (s.sackPacketCount >= 2) s.sackImmediate = true;
      await s.scheduleSack();
    }
  };
  const stockReceiveChunk = s.receiveChunk;
  s.receiveChunk = (chunk: unknown): Promise<void> => {
    const c = chunk as ChunkShape;
    if (c?.type === 5 && Array.isArray(c.params)) {
      const id = probeIdOf(c.params[0]?.[1]);
      if (id !== undefined) {
        search.probeAcked(id);
        return Promise.resolve();
      }
    }
    return stockReceiveChunk.call(s, chunk);
  };
  const stockT3 = s.timer3Expired;
  s.timer3Expired = () => {
    const oldest = s.sentQueue[0];
    if (
      oldest &&
      oldest.sentCount >= 2 &&
      COMMON_HEADER + DATA_HEADER + oldest.userData.length > search.base &&
      s.mtu > search.base
    ) {
      search.blackHole();
    }
    stockT3();
  };
  s.stateChanged['closed']?.subscribe(() => search.stop());
  if (s.state === 'connected') search.start();
  else s.stateChanged['connected']?.subscribe(() => search.start());
}

function apply(pc: RTCPeerConnection, ctx: PatchContext): void {
  const sctp = sctpOf(pc) as unknown as AssociationShape | undefined;
  if (!sctp || patched.has(sctp)) return;
  const problems = checkSctpPlpmtud(sctp, 'pc.sctpTransport.sctp');
  if (problems.length > 0) {
    ctx.shapeMismatch(NAME, problems);
    return;
  }
  patchAssociation(pc, sctp, ctx);
  ctx.markActive(NAME);
}

export const sctpPlpmtudPatch: WeriftPatch = {
  name: NAME,
  description:
    'RFC 8899 path MTU discovery: larger SCTP packets where a HEARTBEAT probe proved the path carries them',
  install(pc, ctx) {
    ctx.whenConnected(() => apply(pc, ctx));
  },
};
