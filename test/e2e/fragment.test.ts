/**
 * Fragmentation (docs/ORIGINAL.md "Fragmentation"): the 9-byte header byte for byte (the original's examples),
 * the sender's split rule, reassembly in any order with duplicates, bounded memory and expiry, and interop
 * with a raw peer that writes and reads the original's fragment format with its own code (not ours).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/hotpath/index.ts';
import { encodeOpenConnection } from '../../src/protocol/control.ts';
import {
  FRAGMENT_CHUNK_BYTES,
  FRAGMENT_THRESHOLD,
  FragmentReassembler,
  fragmentFrame,
  isFragment,
  MAX_FRAGMENTS,
  nextFragmentSeq,
  parseFragmentHeader,
} from '../../src/protocol/fragment.ts';
import { recordDiagnostics } from '../helpers/diag.ts';
import { rawGateway } from '../helpers/raw-gateway.ts';
import { echoServer, waitFor } from '../helpers/tubes.ts';

const TS = 1700000000000;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The raw peer's own writer of the original's fragment format (DataView, no code from src/). */
function rawFragments(frame: Uint8Array, seq: number, chunk = 16_375): Uint8Array[] {
  const total = Math.ceil(frame.length / chunk);
  const out: Uint8Array[] = [];
  for (let i = 0; i < total; i++) {
    const body = frame.subarray(i * chunk, Math.min(frame.length, (i + 1) * chunk));
    const msg = new Uint8Array(9 + body.length);
    const v = new DataView(msg.buffer);
    v.setUint8(0, 0x01 | (i === 0 ? 0x02 : 0) | (i === total - 1 ? 0x04 : 0));
    v.setUint32(1, seq);
    v.setUint16(5, i);
    v.setUint16(7, total);
    msg.set(body, 9);
    out.push(msg);
  }
  return out;
}

/** The raw peer's own reassembler (by seq_id, any order). */
function rawReassembler(): (msg: Buffer) => Buffer | undefined {
  const sets = new Map<number, (Buffer | undefined)[]>();
  return (msg) => {
    if ((msg[0] as number) & 0x01) {
      const seq = msg.readUInt32BE(1);
      const idx = msg.readUInt16BE(5);
      const total = msg.readUInt16BE(7);
      const set = sets.get(seq) ?? new Array<Buffer | undefined>(total);
      sets.set(seq, set);
      set[idx] ??= msg.subarray(9);
      if (set.filter(Boolean).length < total) return undefined;
      sets.delete(seq);
      return Buffer.concat(set as Buffer[]);
    }
    return msg;
  };
}

describe('fragment header: the original examples', () => {
  it('a 2-fragment frame with seq 0: first 03 00000000 0000 0002, last 05 00000000 0001 0002', () => {
    const frame = encodeFrame(1, randomBytes(20_000), TS);
    const parts = fragmentFrame(frame, 0) as Buffer[];
    expect(parts).toHaveLength(2);
    expect(hex(parts[0]?.subarray(0, 9) as Buffer)).toBe('030000000000000002');
    expect(hex(parts[1]?.subarray(0, 9) as Buffer)).toBe('050000000000010002');
    expect(parts[0]?.length).toBe(FRAGMENT_THRESHOLD);
    expect(parts.map((p) => p.subarray(9).length)).toEqual([16_375, frame.length - 16_375]);
    expect(Buffer.concat(parts.map((p) => p.subarray(9))).equals(frame)).toBe(true);
    // the raw writer agrees byte for byte
    expect(rawFragments(frame, 0).map(hex)).toEqual(parts.map(hex));
  });

  it('a single-fragment header has flags 07; headers parse back', () => {
    const [one] = rawFragments(new Uint8Array(10), 0x01020304);
    expect(hex((one as Uint8Array).subarray(0, 9))).toBe('070102030400000001');
    expect(parseFragmentHeader(one as Uint8Array)).toEqual({
      flags: 7,
      seqId: 0x01020304,
      index: 0,
      total: 1,
    });
    expect(parseFragmentHeader(new Uint8Array(8))).toBeUndefined();
  });

  it('sender rule: > 16,384 bytes fragmented in 16,375-byte chunks, at most 256 fragments', () => {
    expect(fragmentFrame(new Uint8Array(FRAGMENT_THRESHOLD), 0)).toBeUndefined();
    expect(fragmentFrame(new Uint8Array(FRAGMENT_THRESHOLD + 1), 0)).toHaveLength(2);
    expect(fragmentFrame(new Uint8Array(MAX_FRAGMENTS * FRAGMENT_CHUNK_BYTES), 0)).toHaveLength(256);
    expect(fragmentFrame(new Uint8Array(4_192_000), 0)).toHaveLength(256);
    expect(fragmentFrame(new Uint8Array(4_192_001), 0)).toBeUndefined(); // sent whole
  });

  it('sequence ids come from one process-wide counter', () => {
    const a = nextFragmentSeq();
    const parts = fragmentFrame(new Uint8Array(20_000)) as Buffer[];
    expect(parseFragmentHeader(parts[0] as Buffer)?.seqId).toBe(a + 1);
    expect(nextFragmentSeq()).toBe(a + 2);
  });

  it('detection: bit 0x01 of the first byte; unfragmented frames start with 0x00', () => {
    expect(isFragment(encodeFrame(1, Buffer.from('x')))).toBe(false);
    expect(isFragment(new Uint8Array([0x05]))).toBe(true);
    expect(isFragment(new Uint8Array(0))).toBe(false);
  });
});

describe('reassembly', () => {
  const frame = encodeFrame(7, Buffer.from('fragmented; payload ✓ with ; inside'), TS);

  it('a frame split at every offset into 2 fragments, delivered in both orders, reassembles exactly', () => {
    for (let cut = 1; cut < frame.length; cut++) {
      for (const order of [
        [0, 1],
        [1, 0],
      ]) {
        const r = new FragmentReassembler();
        const parts = [frame.subarray(0, cut), frame.subarray(cut)].map((chunk, i) => {
          const m = rawFragments(chunk, 42, chunk.length)[0] as Uint8Array;
          const v = new DataView(m.buffer);
          v.setUint8(0, 0x01 | (i === 0 ? 0x02 : 0x04));
          v.setUint16(5, i);
          v.setUint16(7, 2);
          return m;
        });
        const outs = order.map((i) => r.push(parts[i] as Uint8Array));
        expect(outs[0]).toBeUndefined();
        expect(hex(outs[1] as Buffer)).toBe(hex(frame));
        const frames = new FrameDecoder().decode(outs[1] as Buffer);
        expect(frames[0]?.connNo).toBe(7);
        expect(r.pendingSets).toBe(0);
        expect(r.pendingBytes).toBe(0);
      }
    }
  });

  it('any order, duplicates ignored, interleaved sets', () => {
    const big = encodeFrame(1, randomBytes(100_000), TS);
    const other = encodeFrame(2, randomBytes(40_000), TS);
    const a = rawFragments(big, 1);
    const b = rawFragments(other, 2);
    const r = new FragmentReassembler();
    const done: Buffer[] = [];
    const feed = (m: Uint8Array): void => {
      const out = r.push(m);
      if (out) done.push(out);
    };
    // reversed, interleaved, each fragment of `big` twice
    for (let i = Math.max(a.length, b.length) - 1; i >= 0; i--) {
      if (a[i]) {
        feed(a[i] as Uint8Array);
        feed(a[i] as Uint8Array);
      }
      if (b[i]) feed(b[i] as Uint8Array);
    }
    expect(done.map(hex).sort()).toEqual([hex(big), hex(other)].sort());
    // every duplicate but the one after fragment 0 completed the set was ignored; that late one opened a
    // stale set, which the timeout removes
    expect(r.stats.ignored).toBe(a.length - 1);
    expect(r.pendingSets).toBe(1);
    r.push(rawFragments(new Uint8Array(1), 3)[0] as Uint8Array, Date.now() + 31_000);
    expect(r.pendingSets).toBe(0);
  });

  it('bad fragments are ignored: short, index ≥ total, total 0', () => {
    const r = new FragmentReassembler();
    expect(r.push(new Uint8Array([1, 0, 0]))).toBeUndefined();
    const m = rawFragments(new Uint8Array(10), 1, 5)[0] as Uint8Array;
    new DataView(m.buffer).setUint16(5, 2); // index 2 of 2
    expect(r.push(m)).toBeUndefined();
    new DataView(m.buffer).setUint16(7, 0);
    expect(r.push(m)).toBeUndefined();
    expect(r.stats.ignored).toBe(3);
    expect(r.pendingSets).toBe(0);
  });

  it('incomplete sets expire after the timeout (checked as messages arrive, no timers)', () => {
    const r = new FragmentReassembler({ timeoutMs: 1_000 });
    const [first] = rawFragments(encodeFrame(1, randomBytes(30_000)), 5);
    r.push(first as Uint8Array, 10_000);
    expect(r.pendingSets).toBe(1);
    r.push(rawFragments(new Uint8Array(3), 6)[0] as Uint8Array, 10_500); // complete single fragment
    expect(r.pendingSets).toBe(1);
    r.push(rawFragments(new Uint8Array(3), 7)[0] as Uint8Array, 11_001);
    expect(r.pendingSets).toBe(0);
    expect(r.pendingBytes).toBe(0);
    expect(r.stats.dropped).toBe(1);
  });

  it('memory is bounded: at most maxSets sets and maxBytes bytes, the oldest dropped first', () => {
    const r = new FragmentReassembler({ maxSets: 3, maxBytes: 50_000 });
    for (let seq = 0; seq < 10; seq++) {
      r.push(rawFragments(new Uint8Array(20_000), seq, 10_000)[0] as Uint8Array);
      expect(r.pendingSets).toBeLessThanOrEqual(3);
    }
    expect(r.stats.dropped).toBe(7);
    // the newest sets survive and can still complete
    const last = rawFragments(new Uint8Array(20_000), 9, 10_000);
    expect(r.push(last[1] as Uint8Array)?.length).toBe(20_000);
    const fat = new FragmentReassembler({ maxBytes: 30_000 });
    fat.push(rawFragments(new Uint8Array(40_000), 1, 20_000)[0] as Uint8Array);
    fat.push(rawFragments(new Uint8Array(40_000), 2, 20_000)[0] as Uint8Array);
    expect(fat.pendingBytes).toBeLessThanOrEqual(30_000);
    expect(fat.pendingSets).toBe(1);
  });

  it('a seq_id reused with another total replaces the stale set', () => {
    const r = new FragmentReassembler();
    r.push(rawFragments(new Uint8Array(30), 9, 10)[0] as Uint8Array); // 3 fragments
    const two = rawFragments(new Uint8Array(20).fill(7), 9, 10);
    expect(r.push(two[0] as Uint8Array)).toBeUndefined();
    expect(r.push(two[1] as Uint8Array)?.equals(Buffer.alloc(20, 7))).toBe(true);
    expect(r.stats.dropped).toBe(1);
  });
});

describe('interop with a raw peer speaking the original fragment format', () => {
  it('enableMultiChannel: fragmented frames in (shuffled, duplicated), large frames out as fragments', async () => {
    const echo = await echoServer();
    const unwrap = rawReassembler();
    const g = await rawGateway({
      settings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
      tube: { enableMultiChannel: true },
      unwrap,
    });
    try {
      // OpenConnection itself fragmented as a single fragment (flags 07), then 200 KB in 50 KB frames
      g.send(rawFragments(encodeFrame(0, encodeOpenConnection(1)), 100)[0] as Uint8Array);
      await waitFor(() => g.controls().some((c) => c.type === 'opened' && c.connNo === 1), 10_000, 'opened');
      const payload = randomBytes(200_000);
      for (let at = 0, seq = 200; at < payload.length; at += 50_000, seq++) {
        const parts = rawFragments(encodeFrame(1, payload.subarray(at, at + 50_000)), seq);
        const shuffled = [parts[2], parts[0], parts[3], parts[0], parts[1]] as Uint8Array[];
        for (const p of shuffled) g.send(p);
      }
      await waitFor(() => g.data(1).length >= payload.length, 15_000, 'echo');
      expect(g.data(1).equals(payload)).toBe(true);
      // what came back: frames above 16 KiB only as fragments of ≤ 16,384 bytes with well-formed headers
      expect(g.messages.every((m) => m.length <= FRAGMENT_THRESHOLD)).toBe(true);
      const frags = g.messages.filter((m) => (m[0] as number) & 1);
      expect(frags.length).toBeGreaterThan(0);
      for (const m of frags) {
        const total = m.readUInt16BE(7);
        const idx = m.readUInt16BE(5);
        expect(m[0]).toBe(0x01 | (idx === 0 ? 0x02 : 0) | (idx === total - 1 ? 0x04 : 0));
        expect(total).toBeGreaterThan(1);
      }
    } finally {
      await g.close();
      await echo.close();
    }
  }, 30_000);

  it('off by default: a fragment is not a frame (discarded as corrupt), nothing is fragmented', async () => {
    const echo = await echoServer();
    const rec = recordDiagnostics();
    const g = await rawGateway({
      settings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    try {
      g.send(rawFragments(encodeFrame(0, encodeOpenConnection(1), TS), 300)[0] as Uint8Array);
      g.send(encodeFrame(0, encodeOpenConnection(2)));
      await waitFor(
        () => g.controls().some((c) => c.type === 'opened' && c.connNo === 2),
        10_000,
        'opened 2',
      );
      expect(g.controls().some((c) => c.type === 'opened' && c.connNo === 1)).toBe(false);
      expect(rec.discards.map((d) => d.code)).toContain('TUBES_ERR_FRAME_CORRUPT');
      g.send(encodeFrame(2, randomBytes(40_000)));
      await waitFor(() => g.data(2).length >= 40_000, 10_000, 'echo on 2');
      expect(g.messages.some((m) => (m[0] as number) & 1)).toBe(false);
    } finally {
      rec.stop();
      await g.close();
      await echo.close();
    }
  }, 30_000);
});
