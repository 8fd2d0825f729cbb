/**
 * Patch `sctp-plpmtud` (src/webrtc/patches/sctp-plpmtud.ts) on live werift connections over loopback: tuned ↔
 * tuned probes up to a larger SCTP packet size and moves data byte-exact at that size; tuned ↔ stock werift
 * (which gets HEARTBEAT probes it echoes) still moves data intact; a path that drops datagrams above 1,300
 * bytes (the UDP impairment proxy, --max-size) keeps the floor and the data intact; a path that starts dropping
 * them mid-connection makes the sender fall back to the floor, and data resumes intact when it heals.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RTCDataChannel, RTCPeerConnection } from 'werift';
import { crc32c } from '../../src/webrtc/patches/crc32c.ts';
import { weriftPatchMismatches } from '../../src/webrtc/patches/index.ts';
import {
  checkSctpPlpmtud,
  PLPMTU_MAX,
  plpmtudSearchOf,
  sctpPacketSize,
} from '../../src/webrtc/patches/sctp-plpmtud.ts';
import { resetVersionGuardForTests } from '../../src/webrtc/patches/version.ts';
import type { Peer } from '../../src/webrtc/peer.ts';
import { waitFor } from '../helpers/tubes.ts';
import {
  closeLoopback,
  connectLoopback,
  loopbackPc,
  loopbackPeer,
  offerAnswer,
  transfer,
} from '../helpers/werift-loopback.ts';

/** werift 0.25.2's fixed SCTP packet size (DEFAULT_SCTP_MTU). */
const FLOOR = 1191;

afterEach(async () => {
  await closeLoopback();
  resetVersionGuardForTests();
});

/** `total` bytes a → b, then b → a, in 64 KiB messages: each direction arrives byte-exact. */
async function expectIntactBothWays(ab: RTCDataChannel, ba: RTCDataChannel, total: number): Promise<void> {
  for (const [from, to] of [
    [ab, ba],
    [ba, ab],
  ] as const) {
    const r = await transfer(from, to, total, 64 * 1024);
    expect(r.received).toBe(r.sent);
  }
}

/** Largest DATA chunk (user data bytes) the sender has outstanding, sampled while data flows. */
function largestChunkSampler(pc: RTCPeerConnection): { stop(): number } {
  const s = (pc as unknown as { sctpTransport: { sctp: { sentQueue: { userData: Buffer }[] } } })
    .sctpTransport.sctp;
  let max = 0;
  const t = setInterval(() => {
    for (const c of s.sentQueue) max = Math.max(max, c.userData.length);
  }, 1);
  return {
    stop() {
      clearInterval(t);
      return max;
    },
  };
}

describe('sctp-plpmtud on live werift', () => {
  it('tuned ↔ tuned on loopback: probes up to 16 KiB packets, then 8 MiB each way arrive byte-exact', async () => {
    const a = loopbackPc(true);
    const b = loopbackPc(true);
    const { ab, ba } = await connectLoopback(a, b);
    await waitFor(
      () => sctpPacketSize(a) === PLPMTU_MAX && sctpPacketSize(b) === PLPMTU_MAX,
      5_000,
      'PLPMTU',
    );
    for (const pc of [a, b]) {
      expect(weriftPatchMismatches(pc).size).toBe(0);
      expect(plpmtudSearchOf(pc)?.state).toBe('search-complete');
    }
    const sampler = largestChunkSampler(a);
    const r = await transfer(ab, ba, 8 * 1024 * 1024, 64 * 1024);
    expect(sampler.stop()).toBeGreaterThan(8 * 1024); // the data really went in big packets
    expect(r.received).toBe(r.sent);
    const back = await transfer(ba, ab, 8 * 1024 * 1024, 16 * 1024 + 7);
    expect(back.received).toBe(back.sent);
  });

  for (const [label, pa, pb] of [
    ['tuned → stock', true, false],
    ['stock → tuned', false, true],
  ] as const) {
    it(`${label}: the stock side answers the probes (16 KiB both ways), 4 MiB each way byte-exact`, async () => {
      const a = loopbackPc(pa);
      const b = loopbackPc(pb);
      const { ab, ba } = await connectLoopback(a, b);
      const tuned = pa ? a : b;
      const stock = pa ? b : a;
      await waitFor(() => sctpPacketSize(tuned) === PLPMTU_MAX, 5_000, 'PLPMTU');
      expect(sctpPacketSize(stock)).toBe(FLOOR); // stock werift never probes
      // the internals the patch relies on, as a stock werift association has them (fails when werift changes)
      const stockSctp = (stock as unknown as { sctpTransport: { sctp: unknown } }).sctpTransport.sctp;
      expect(checkSctpPlpmtud(stockSctp, 'sctp')).toEqual([]);
      expect(checkSctpPlpmtud({}, 'sctp').length).toBeGreaterThan(0);
      await expectIntactBothWays(ab, ba, 4 * 1024 * 1024);
    });
  }

  it('why the padding is inside the HEARTBEAT: stock werift rejects a packet with a PAD chunk (RFC 4820)', async () => {
    const a = loopbackPc(true);
    const b = loopbackPc(false);
    await connectLoopback(a, b);
    const stock = (
      b as unknown as {
        sctpTransport: { sctp: { localVerificationTag: number; handleData(d: Buffer): Promise<void> } };
      }
    ).sctpTransport.sctp;
    // HEARTBEAT (8-byte info) + PAD chunk (type 0x84: "skip and continue" per RFC 9260 §3.2, for a peer that
    // follows it)
    const p = Buffer.alloc(12 + 12 + 8);
    p.writeUInt16BE(5000, 0);
    p.writeUInt16BE(5000, 2);
    p.writeUInt32BE(stock.localVerificationTag, 4);
    p[12] = 4;
    p.writeUInt16BE(12, 14);
    p.writeUInt16BE(1, 16);
    p.writeUInt16BE(8, 18);
    p[24] = 0x84;
    p.writeUInt16BE(8, 26);
    p.writeUInt32LE(crc32c(p), 8);
    // werift's data handler does not await this promise: the rejection would be unhandled in the peer's process
    await expect(stock.handleData(p)).rejects.toThrow('unknown');
  });

  it('black hole: big packets dropped mid-connection → back to the floor; data resumes intact when the path heals', async () => {
    const a = loopbackPc(true);
    const b = loopbackPc(true);
    const cutAt = Date.now() + 5_000;
    // datagrams above 1,300 bytes dropped from 5 s to 17 s after the proxy starts
    const { ab, ba } = await connectLoopback(a, b, {
      proxyArgs: ['--max-size=1300', '--max-size-after=5', '--max-size-for=12'],
    });
    await waitFor(() => sctpPacketSize(a) === PLPMTU_MAX, 4_000, 'PLPMTU before the cut');
    const got: number[] = [];
    ba.onMessage.subscribe((m) => got.push((m as Buffer)[0] as number));
    await new Promise((r) => setTimeout(r, Math.max(0, cutAt - Date.now()) + 500));
    ab.send(Buffer.alloc(8192, 1)); // one 8 KiB DATA chunk: dropped, retransmitted, dropped
    // T3 (werift's RTO ≥ 1 s) expires twice for it: the association drops back to werift's size
    await waitFor(() => sctpPacketSize(a) === FLOOR, 10_000, 'fallback to the floor');
    expect(plpmtudSearchOf(a)?.state).toBe('base');
    ab.send(Buffer.alloc(8192, 2));
    ab.send(Buffer.alloc(30_000, 3));
    // What a black hole cannot undo: the chunk already sent at 8 KiB keeps its size (SCTP never re-fragments a
    // sent DATA chunk) and holds the congestion window, so nothing moves until the path carries it again.
    expect(got).toEqual([]);
    await waitFor(() => got.length === 3, 20_000, 'all three messages after the path healed');
    expect(got).toEqual([1, 2, 3]);
    // until the next search (60 s later) data goes at the floor: 1,160 bytes of user data per DATA chunk
    const sampler = largestChunkSampler(a);
    const r = await transfer(ab, ba, 2 * 1024 * 1024, 64 * 1024);
    expect(r.received).toBe(r.sent);
    const largest = sampler.stop();
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(1160);
  }, 60_000);

  it('a path dropping datagrams over 1,300 bytes: the probe is lost, the floor stays, 4 MiB arrive byte-exact', async () => {
    const a = loopbackPc(true);
    const b = loopbackPc(true);
    const { ab, ba } = await connectLoopback(a, b, { proxyArgs: ['--max-size=1300'] });
    // every probe size (first 1,376) is dropped: after maxProbes × probe timer the search gives up
    await waitFor(
      () =>
        plpmtudSearchOf(a)?.state === 'search-complete' && plpmtudSearchOf(b)?.state === 'search-complete',
      15_000,
      'search complete',
    );
    expect(sctpPacketSize(a)).toBe(FLOOR);
    expect(sctpPacketSize(b)).toBe(FLOOR);
    await expectIntactBothWays(ab, ba, 4 * 1024 * 1024);
  }, 60_000);
});

describe('Peer.sctpPacketSize', () => {
  it("reports the probed size with the patches, werift's 1,191 with weriftPatchesSkipped: [sctp-plpmtud]", async () => {
    const mk = (skip: string[] | undefined): Peer => loopbackPeer({ weriftPatchesSkipped: skip });
    for (const [skip, expected] of [
      [undefined, PLPMTU_MAX],
      [['sctp-plpmtud'], FLOOR],
    ] as const) {
      const a = mk(skip ? [...skip] : undefined);
      const b = mk(skip ? [...skip] : undefined);
      try {
        expect(a.sctpPacketSize).toBeUndefined();
        await offerAnswer(a, b);
        await waitFor(
          () => a.connectionState === 'connected' && b.connectionState === 'connected',
          10_000,
          'connected',
        );
        await waitFor(
          () => a.sctpPacketSize === expected && b.sctpPacketSize === expected,
          5_000,
          `size ${expected}`,
        );
        // and it stays there (nothing above the floor without the patch)
        await new Promise((r) => setTimeout(r, 200));
        expect([a.sctpPacketSize, b.sctpPacketSize]).toEqual([expected, expected]);
        expect(a.weriftPatches.includes('sctp-plpmtud')).toBe(skip === undefined);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    }
  });
});
