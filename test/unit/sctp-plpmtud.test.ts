/**
 * The RFC 8899 probing state machine of patch `sctp-plpmtud` (src/webrtc/patches/sctp-plpmtud.ts) with
 * injected timers, and its pure parts: the probe ladder, the probe packet, and the re-fragmenting of DATA
 * chunks not yet sent after a black hole. No peer connection here (test/interop/sctp-plpmtud.test.ts runs it
 * on live werift).
 */
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/webrtc/patches/crc32c.ts';
import {
  PLPMTU_MAX,
  PlpmtudSearch,
  type PlpmtudTimers,
  payloadForPacket,
  probeAckPacket,
  probeIdOf,
  probeLadder,
  probeOf,
  probePacket,
  refragmentUnsent,
} from '../../src/webrtc/patches/sctp-plpmtud.ts';

const BASE = 1191;
const LADDER = [1376, 4096, 8192, 16384];

/** Timers that fire only when the test advances the clock. */
class FakeTimers implements PlpmtudTimers {
  now = 0;
  #next = 1;
  readonly pending = new Map<number, { at: number; fn: () => void }>();
  set(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.pending.entries()]
        .filter(([, t]) => t.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  }
}

function machine(sizes = LADDER) {
  const timers = new FakeTimers();
  const probes: { size: number; id: number; at: number }[] = [];
  const applied: number[] = [];
  const search = new PlpmtudSearch({
    base: BASE,
    sizes: () => sizes,
    sendProbe: (size, id) => probes.push({ size, id, at: timers.now }),
    apply: (size) => applied.push(size),
    timers,
    probeTimeoutMs: 1_500,
    maxProbes: 3,
    raiseIntervalMs: 600_000,
    blackHoleRetryMs: 60_000,
  });
  const ackLast = (): boolean => search.probeAcked((probes[probes.length - 1] as { id: number }).id);
  return { timers, probes, applied, search, ackLast };
}

describe('PlpmtudSearch', () => {
  it('starts at the floor, probes nothing before start()', () => {
    const m = machine();
    expect(m.search.plpmtu).toBe(BASE);
    expect(m.search.state).toBe('idle');
    m.timers.advance(10_000);
    expect(m.probes).toEqual([]);
  });

  it('a confirmed probe raises the size, one step at a time, up to the top of the ladder', () => {
    const m = machine();
    m.search.start();
    for (const size of LADDER) {
      expect(m.search.probing).toBe(size);
      expect(m.search.plpmtu).toBe(m.applied[m.applied.length - 1] ?? BASE); // never above what was proved
      expect(m.ackLast()).toBe(true);
      expect(m.search.plpmtu).toBe(size);
    }
    expect(m.applied).toEqual(LADDER);
    expect(m.search.state).toBe('search-complete');
    expect(m.probes.map((p) => p.size)).toEqual(LADDER);
  });

  it('an ACK that is not for the probe in flight changes nothing', () => {
    const m = machine();
    m.search.start();
    expect(m.search.probeAcked(12345)).toBe(false);
    expect(m.search.plpmtu).toBe(BASE);
    expect(m.applied).toEqual([]);
  });

  it('a probe lost maxProbes times: the size stays, the search ends (no larger size is tried)', () => {
    const m = machine();
    m.search.start();
    expect(m.ackLast()).toBe(true); // 1376 proved
    m.timers.advance(1_499);
    expect(m.probes.map((p) => p.size)).toEqual([1376, 4096]);
    m.timers.advance(1);
    m.timers.advance(1_500);
    expect(m.probes.map((p) => [p.size, p.at])).toEqual([
      [1376, 0],
      [4096, 0],
      [4096, 1_500],
      [4096, 3_000],
    ]);
    m.timers.advance(1_500);
    expect(m.search.state).toBe('search-complete');
    expect(m.search.plpmtu).toBe(1376);
    expect(m.applied).toEqual([1376]);
    // a late ACK of the abandoned probe does not raise the size
    expect(m.search.probeAcked((m.probes[3] as { id: number }).id)).toBe(false);
    expect(m.search.plpmtu).toBe(1376);
  });

  it('the first probe lost: stays at the floor, never applies anything', () => {
    const m = machine();
    m.search.start();
    m.timers.advance(10_000);
    expect(m.probes.map((p) => p.size)).toEqual([1376, 1376, 1376]);
    expect(m.search.plpmtu).toBe(BASE);
    expect(m.applied).toEqual([]);
    expect(m.search.state).toBe('search-complete');
  });

  it('a probe lost once and confirmed on the retry raises the size', () => {
    const m = machine([1376]);
    m.search.start();
    m.timers.advance(1_500);
    expect(m.probes).toHaveLength(2);
    expect(m.ackLast()).toBe(true);
    expect(m.search.plpmtu).toBe(1376);
  });

  it('re-probes upward after the raise interval (RFC 8899 PMTU_RAISE_TIMER)', () => {
    const m = machine();
    m.search.start();
    m.ackLast(); // 1376
    m.timers.advance(4_500); // 4096 lost three times
    expect(m.search.state).toBe('search-complete');
    const before = m.probes.length;
    m.timers.advance(599_999);
    expect(m.probes).toHaveLength(before);
    m.timers.advance(1);
    expect(m.probes.slice(before).map((p) => p.size)).toEqual([4096]); // from the current size up
    m.ackLast();
    expect(m.search.plpmtu).toBe(4096);
  });

  it('black hole: back to the floor at once, probes again after the retry delay', () => {
    const m = machine();
    m.search.start();
    for (let i = 0; i < LADDER.length; i++) m.ackLast();
    expect(m.search.plpmtu).toBe(PLPMTU_MAX);
    expect(m.search.blackHole()).toBe(true);
    expect(m.search.plpmtu).toBe(BASE);
    expect(m.applied[m.applied.length - 1]).toBe(BASE);
    expect(m.search.state).toBe('base');
    const before = m.probes.length;
    m.timers.advance(59_999);
    expect(m.probes).toHaveLength(before); // the raise timer of the finished search was cancelled
    m.timers.advance(1);
    expect(m.search.probing).toBe(1376);
    expect(m.search.blackHole()).toBe(false); // already at the floor
  });

  it('a black hole during a search cancels the probe in flight; its late ACK is ignored', () => {
    const m = machine();
    m.search.start();
    m.ackLast(); // 1376
    const inFlight = m.probes[m.probes.length - 1] as { id: number };
    expect(m.search.blackHole()).toBe(true);
    expect(m.search.probeAcked(inFlight.id)).toBe(false);
    expect(m.search.plpmtu).toBe(BASE);
  });

  it('a path change drops to the floor and searches again at once', () => {
    const m = machine();
    m.search.start();
    m.ackLast();
    m.ackLast();
    expect(m.search.plpmtu).toBe(4096);
    m.search.pathChanged();
    expect(m.search.plpmtu).toBe(BASE);
    expect(m.search.probing).toBe(1376);
  });

  it('stop() cancels every timer', () => {
    const m = machine();
    m.search.start();
    m.search.stop();
    expect(m.timers.pending.size).toBe(0);
    m.search.start();
    expect(m.search.state).toBe('stopped');
  });
});

describe('probe ladder', () => {
  it('loopback (MTU 65,536): Ethernet size, then 4, 8 and 16 KiB (the DTLS record limit)', () => {
    expect(probeLadder(BASE, 65_536)).toEqual(LADDER);
  });
  it('Ethernet or unknown interface: one step, which fits 1,500 bytes with IPv6, UDP, TURN and DTLS', () => {
    expect(probeLadder(BASE, 1500)).toEqual([1376]);
    expect(probeLadder(BASE, undefined)).toEqual([1376]);
    expect(1376 + 40 + 8 + 36 + 37).toBeLessThanOrEqual(1500);
  });
  it('jumbo frames (9,000): capped below the interface MTU', () => {
    expect(probeLadder(BASE, 9000)).toEqual([1376, 4096, 8192, 8876]);
  });
  it('a link too small for anything above the floor: no probe', () => {
    expect(probeLadder(BASE, 1280)).toEqual([]);
  });
});

describe('probe packet', () => {
  it('is a HEARTBEAT of exactly the probed size, with a valid CRC-32C and our probe number', () => {
    const p = probePacket(5000, 5001, 0xdeadbeef, 1376, 42);
    expect(p.length).toBe(1376);
    expect(p.readUInt16BE(0)).toBe(5000);
    expect(p.readUInt32BE(4)).toBe(0xdeadbeef);
    expect(p[12]).toBe(4);
    expect(p.readUInt16BE(14)).toBe(1376 - 12);
    expect(p.readUInt16BE(16)).toBe(1);
    expect(p.readUInt16BE(18)).toBe(1376 - 16);
    const sum = p.readUInt32LE(8);
    p.writeUInt32LE(0, 8);
    expect(crc32c(p)).toBe(sum);
    expect(probeIdOf(p.subarray(20))).toBe(42);
    // werift's own heartbeat info (a 4-byte time) is not ours
    expect(probeIdOf(Buffer.from([0, 0, 0, 1]))).toBeUndefined();
  });
  it('probeOf reads our probes and echoes in place, and nothing else', () => {
    for (const size of [1376, 16384]) {
      const p = probePacket(5000, 5001, 0xdeadbeef, size, 7);
      const copy = Buffer.from(p);
      expect(probeOf(p)).toEqual({ type: 4, id: 7 });
      expect(p.equals(copy)).toBe(true); // checksum field restored
    }
    const p = probePacket(5000, 5001, 0xdeadbeef, 1376, 7);
    p[40] = 1; // payload changed: the CRC no longer matches
    expect(probeOf(p)).toBeUndefined();
    const other = probePacket(5000, 5001, 0xdeadbeef, 1376, 7);
    other.writeUInt32BE(0x12345678, 20); // not our marker
    other.writeUInt32LE(0, 8);
    other.writeUInt32LE(crc32c(other), 8);
    expect(probeOf(other)).toBeUndefined();
    // werift's own heartbeat (a 4-byte time in the Heartbeat Info) and a chunk not filling the packet
    const own = Buffer.alloc(24);
    own[12] = 4;
    own.writeUInt16BE(12, 14);
    own.writeUInt16BE(1, 16);
    own.writeUInt16BE(8, 18);
    own.writeUInt32LE(crc32c(own), 8);
    expect(probeOf(own)).toBeUndefined();
    const short = probePacket(5000, 5001, 0xdeadbeef, 1376, 7);
    short.writeUInt16BE(1376 - 12 - 4, 14);
    short.writeUInt32LE(0, 8);
    short.writeUInt32LE(crc32c(short), 8);
    expect(probeOf(short)).toBeUndefined();
  });
  it('probeAckPacket: the HEARTBEAT-ACK echoing the Heartbeat Info unchanged, in a buffer of its own', () => {
    const probe = probePacket(5000, 5001, 0xdeadbeef, 16384, 9);
    const ack = probeAckPacket(probe, 5001, 5000, 0x01020304);
    expect(ack.length).toBe(16384);
    expect(ack.readUInt16BE(0)).toBe(5001);
    expect(ack.readUInt16BE(2)).toBe(5000);
    expect(ack.readUInt32BE(4)).toBe(0x01020304);
    expect(ack[12]).toBe(5);
    expect(ack[13]).toBe(0);
    expect(ack.subarray(14).equals(probe.subarray(14))).toBe(true);
    expect(probeOf(ack)).toEqual({ type: 5, id: 9 });
    expect(ack.buffer.byteLength).toBe(16384); // not a slice of Node's Buffer pool
    expect(probeOf(probe)).toEqual({ type: 4, id: 9 }); // the probe itself is untouched
  });
  it('payloadForPacket matches werift 0.25.2 (1,191 → 1,160)', () => {
    expect(payloadForPacket(1191)).toBe(1160);
    expect(payloadForPacket(16384)).toBe(16356);
  });
});

describe('refragmentUnsent', () => {
  /** A DATA chunk as refragmentUnsent sees it, plus werift's stream sequence number. */
  type C = Parameters<typeof refragmentUnsent>[0]['outboundQueue'][number] & { streamSeqNum: number };
  const chunk = (tsn: number, flags: number, bytes: number, seq: number): C => ({
    type: 0,
    flags,
    tsn,
    userData: Buffer.alloc(bytes, seq),
    bookSize: bytes,
    sentCount: 0,
    streamSeqNum: seq,
  });

  it('cuts big unsent chunks to the floor size, renumbers TSNs, keeps FIRST/LAST/UNORDERED and the bytes', () => {
    // message 7: two fragments (B, E); message 8: one unordered chunk (U|B|E), wrapping the TSN space
    const q = [chunk(0xfffffffe, 2, 3000, 7), chunk(0xffffffff, 1, 100, 7), chunk(0, 4 | 3, 2500, 8)];
    const s = { outboundQueue: q, localTsn: 1 };
    const all = Buffer.concat(q.map((c) => c.userData));
    refragmentUnsent(s, 1160);
    const out = s.outboundQueue as C[];
    expect(out.map((c) => c.userData.length)).toEqual([1160, 1160, 680, 100, 1160, 1160, 180]);
    expect(out.map((c) => c.flags)).toEqual([2, 0, 0, 1, 4 | 2, 4, 4 | 1]);
    expect(out.map((c) => c.tsn)).toEqual([0xfffffffe, 0xffffffff, 0, 1, 2, 3, 4]);
    expect(out.map((c) => c.streamSeqNum)).toEqual([7, 7, 7, 7, 8, 8, 8]);
    expect(out.every((c) => c.bookSize === c.userData.length)).toBe(true);
    expect(s.localTsn).toBe(5);
    expect(Buffer.concat(out.map((c) => c.userData))).toEqual(all);
  });

  it('leaves a queue of small chunks alone', () => {
    const q = [chunk(10, 3, 1000, 1)];
    const s = { outboundQueue: q, localTsn: 11 };
    refragmentUnsent(s, 1160);
    expect(s.outboundQueue).toBe(q);
    expect(s.localTsn).toBe(11);
  });
});
