import { describe, expect, it } from 'vitest';
import { isTubesError } from '../../src/errors.ts';
import {
  DEFAULT_MAX_FRAME_PAYLOAD,
  encodeFrame,
  encodeFrameInto,
  FRAME_HEADER_SIZE,
  FRAME_OVERHEAD,
  FRAME_TERMINATOR,
  type Frame,
  FrameDecoder,
} from '../../src/hotpath/index.ts';
import { ENGINES, GOLDEN_FRAMES, GOLDEN_SIZES, GOLDEN_TS, hex, rng } from '../helpers/hotpath.ts';

const toHex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function collect(decoder: FrameDecoder, chunks: Uint8Array[]) {
  const frames: { connNo: number; payload: string }[] = [];
  const errors: string[] = [];
  for (const c of chunks) {
    const err = decoder.push(c, (connNo, payload) => frames.push({ connNo, payload: toHex(payload) }));
    if (err) errors.push(err.code);
  }
  return { frames, errors };
}

/** Same as collect(), through pushSpans: views made from the spans after every push (checks their lifetime). */
function collectSpans(decoder: FrameDecoder, chunks: Uint8Array[]) {
  const views: { connNo: number; view: Uint8Array }[] = [];
  const errors: string[] = [];
  for (const c of chunks) {
    const err = decoder.pushSpans(c, (connNo, bytes, start, end) => {
      expect(bytes === c || (start === 0 && end === bytes.length)).toBe(true);
      views.push({ connNo, view: bytes.subarray(start, end) });
    });
    if (err) errors.push(err.code);
  }
  return { frames: views.map((v) => ({ connNo: v.connNo, payload: toHex(v.view) })), errors };
}

const goldenStream = Buffer.concat(GOLDEN_FRAMES.map((g) => hex(g.frame)));

describe('frame constants', () => {
  it('match the wire format', () => {
    expect([FRAME_HEADER_SIZE, FRAME_OVERHEAD, FRAME_TERMINATOR, DEFAULT_MAX_FRAME_PAYLOAD]).toEqual([
      16,
      17,
      0x3b,
      16 * 1024 * 1024,
    ]);
  });
});

describe('frame encoding: golden vectors (worked examples of the original)', () => {
  it.each(GOLDEN_FRAMES.map((g, i) => [g.name, g, GOLDEN_SIZES[i]!] as const))('%s', (_n, g, size) => {
    const out = encodeFrame(g.connNo, hex(g.payload), GOLDEN_TS);
    expect(out.toString('hex')).toBe(g.frame);
    expect(out.length).toBe(size);
    const target = new Uint8Array(size + 5).fill(0xee);
    expect(encodeFrameInto(target, 3, g.connNo, hex(g.payload), GOLDEN_TS)).toBe(size);
    expect(toHex(target.subarray(3, 3 + size))).toBe(g.frame);
    expect([target[2], target[3 + size]]).toEqual([0xee, 0xee]);
  });

  it('defaults the timestamp to Date.now()', () => {
    const before = Date.now();
    const f = encodeFrame(7, new Uint8Array(0));
    const ts = Number(f.readBigUInt64BE(4));
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(Date.now());
  });

  it('encodes the full u32 / u53 ranges', () => {
    const f = encodeFrame(0xffffffff, Buffer.from('x'), Number.MAX_SAFE_INTEGER);
    expect(f.readUInt32BE(0)).toBe(0xffffffff);
    expect(f.readBigUInt64BE(4)).toBe(BigInt(Number.MAX_SAFE_INTEGER));
  });

  it('rejects bad arguments with TUBES_ERR_BAD_ARGUMENT', () => {
    const bad = [
      () => encodeFrame(-1, new Uint8Array(0)),
      () => encodeFrame(2 ** 32, new Uint8Array(0)),
      () => encodeFrame(1.5, new Uint8Array(0)),
      () => encodeFrame(1, new Uint8Array(0), -1),
      () => encodeFrame(1, new Uint8Array(0), Number.NaN),
      () => encodeFrameInto(new Uint8Array(20), 0, 1, new Uint8Array(4)),
      () => encodeFrameInto(new Uint8Array(30), -1, 1, new Uint8Array(4)),
    ];
    for (const f of bad) {
      try {
        f();
        expect.unreachable();
      } catch (e) {
        expect(isTubesError(e, 'TUBES_ERR_BAD_ARGUMENT')).toBe(true);
      }
    }
  });
});

describe.each(ENGINES)('FrameDecoder (%s)', (engine) => {
  const make = (maxPayload?: number) =>
    new FrameDecoder(maxPayload === undefined ? { engine } : { engine, maxPayload });

  it('decodes every golden vector byte for byte', () => {
    for (const g of GOLDEN_FRAMES) {
      const frames = make().decode(hex(g.frame));
      expect(frames.map((f) => [f.connNo, toHex(f.payload)])).toEqual([[g.connNo, g.payload]]);
    }
  });

  it('decodes the golden stream split at every offset (and at every pair of offsets)', () => {
    const want = GOLDEN_FRAMES.map((g) => ({ connNo: g.connNo, payload: g.payload }));
    for (let i = 0; i <= goldenStream.length; i++) {
      const d = make();
      const got = collect(d, [goldenStream.subarray(0, i), goldenStream.subarray(i)]);
      expect(got).toEqual({ frames: want, errors: [] });
      expect(d.bufferedBytes).toBe(0);
    }
    const small = goldenStream.subarray(0, 23 * 4 + 22);
    const want3 = want.slice(0, 5);
    for (let i = 0; i <= small.length; i++) {
      for (let j = i; j <= small.length; j++) {
        const got = collect(make(), [small.subarray(0, i), small.subarray(i, j), small.subarray(j)]);
        expect(got.frames).toEqual(want3);
      }
    }
  });

  it('decodes byte by byte', () => {
    const d = make();
    const chunks = [...goldenStream].map((b) => Uint8Array.of(b));
    expect(collect(d, chunks).frames).toHaveLength(GOLDEN_FRAMES.length);
  });

  it('returns views into the chunk for whole frames (no copy)', () => {
    const chunk = Buffer.concat([
      encodeFrame(1, Buffer.from('abc'), 0),
      encodeFrame(2, Buffer.from('de'), 0),
    ]);
    const frames = make().decode(chunk);
    expect(frames[0]!.payload.buffer).toBe(chunk.buffer);
    expect(frames[0]!.payload.byteOffset).toBe(chunk.byteOffset + 16);
    expect(frames[1]!.payload.byteOffset).toBe(chunk.byteOffset + 17 + 3 + 16);
  });

  it('keeps reassembled payloads valid after later pushes', () => {
    const d = make();
    const a = encodeFrame(1, Buffer.alloc(100, 1), 0);
    const b = encodeFrame(2, Buffer.alloc(100, 2), 0);
    const kept: Frame[] = [];
    d.push(a.subarray(0, 50), (connNo, payload) => kept.push({ connNo, payload }));
    d.push(Buffer.concat([a.subarray(50), b.subarray(0, 60)]), (connNo, payload) =>
      kept.push({ connNo, payload }),
    );
    d.push(b.subarray(60), (connNo, payload) => kept.push({ connNo, payload }));
    expect(kept.map((f) => [f.connNo, Buffer.from(f.payload).equals(Buffer.alloc(100, f.connNo))])).toEqual([
      [1, true],
      [2, true],
    ]);
  });

  it('handles payloads containing ";" and zero-length payloads', () => {
    const payloads = [';', ';;;', 'a;b;', '', ';'.repeat(40), ''].map((s) => Buffer.from(s));
    const stream = Buffer.concat(payloads.map((p, i) => encodeFrame(i, p, GOLDEN_TS)));
    for (let i = 0; i <= stream.length; i++) {
      const got = collect(make(), [stream.subarray(0, i), stream.subarray(i)]);
      expect(got.frames.map((f) => Buffer.from(f.payload, 'hex').toString())).toEqual(payloads.map(String));
    }
  });

  it('discards the whole buffered stream on a corrupt terminator, reports it, resumes with the next chunk', () => {
    const good = encodeFrame(1, Buffer.from('ok'), 0);
    const bad = Buffer.from(encodeFrame(2, Buffer.from('bad'), 0));
    bad[bad.length - 1] = 0x3a;
    for (let i = 0; i <= good.length + bad.length; i++) {
      const d = make();
      const stream = Buffer.concat([good, bad, good]);
      const got = collect(d, [stream.subarray(0, i), stream.subarray(i)]);
      expect(got.errors).toEqual(['TUBES_ERR_FRAME_CORRUPT']);
      // the trailing good frame is discarded with the rest of its chunk unless it arrives in a later chunk
      const resumed = i === good.length + bad.length;
      expect(got.frames.map((f) => f.connNo)).toEqual(resumed ? [1, 1] : [1]);
      expect(d.bufferedBytes).toBe(0);
      expect(collect(d, [good]).frames.map((f) => f.connNo)).toEqual([1]);
    }
    const err = make().push(bad, () => {});
    expect(err?.message).toMatch(/expected terminator 0x3b .* got 0x3a/);
  });

  it('rejects an oversized length without allocating it', () => {
    const d = make(1024);
    const header = Buffer.from(encodeFrame(5, Buffer.alloc(0), 0));
    header.writeUInt32BE(0xffffffff, 12);
    const before = process.memoryUsage().arrayBuffers;
    const err = d.push(header.subarray(0, 16), () => {});
    expect(err?.code).toBe('TUBES_ERR_FRAME_TOO_LARGE');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
    expect(d.bufferedBytes).toBe(0);
    // split header, and a limit exactly at the boundary
    const d2 = make(3);
    expect(d2.push(header.subarray(0, 13), () => {})).toBeUndefined();
    expect(d2.push(header.subarray(13, 16), () => {})?.code).toBe('TUBES_ERR_FRAME_TOO_LARGE');
    expect(make(3).decode(encodeFrame(1, Buffer.from('abc'), 0))).toHaveLength(1);
    expect(() => make(2).decode(encodeFrame(1, Buffer.from('abc'), 0))).toThrow(/too large/);
    expect(make().push(header, () => {})?.code).toBe('TUBES_ERR_FRAME_TOO_LARGE'); // default limit 16 MiB
  });

  it('keeps a consistent state when a handler throws', () => {
    const stream = Buffer.concat([1, 2, 3].map((n) => encodeFrame(n, Buffer.from([n]), 0)));
    const d = make();
    const seen: number[] = [];
    let throws = true;
    const h = (connNo: number) => {
      seen.push(connNo);
      if (connNo === 1 && throws) {
        throws = false;
        throw new Error('boom');
      }
    };
    expect(() => d.push(stream, h)).toThrow('boom');
    expect(d.push(new Uint8Array(0), h)).toBeUndefined();
    expect(seen).toEqual([1, 2, 3]);
    expect(d.bufferedBytes).toBe(0);
  });

  it('keeps every byte when a handler throws again while the deferred remainder is processed', () => {
    const frames = [1, 2, 3, 4, 5].map((n) => encodeFrame(n, Buffer.from([n, n]), 0));
    const a = Buffer.concat(frames.slice(0, 3));
    const b = Buffer.concat(frames.slice(3));
    const d = make();
    const seen: number[] = [];
    const throwOn = new Set([1, 2]);
    const h = (connNo: number) => {
      seen.push(connNo);
      if (throwOn.delete(connNo)) throw new Error(`boom ${connNo}`);
    };
    expect(() => d.push(a, h)).toThrow('boom 1'); // frames 2 and 3 are deferred
    expect(() => d.push(b, h)).toThrow('boom 2'); // thrown while the deferred frames run: b is kept too
    expect(d.bufferedBytes).toBe(frames[2]!.length + b.length);
    expect(d.push(new Uint8Array(0), h)).toBeUndefined();
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(d.bufferedBytes).toBe(0);
  });

  it('matches a naive decoder on random streams split randomly', () => {
    const r = rng(42);
    for (let round = 0; round < 200; round++) {
      const frames = Array.from({ length: 1 + Math.floor(r() * 8) }, () => {
        const n = r() < 0.1 ? Math.floor(r() * 70000) : Math.floor(r() * 200);
        const p = Buffer.alloc(n);
        for (let i = 0; i < n; i += 7) p[i] = Math.floor(r() * 256);
        return { connNo: Math.floor(r() * 2 ** 32), payload: p.toString('hex') };
      });
      const stream = Buffer.concat(
        frames.map((f) => encodeFrame(f.connNo, Buffer.from(f.payload, 'hex'), 1)),
      );
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < stream.length; ) {
        const n = Math.floor(r() * (r() < 0.5 ? 40 : 20000));
        chunks.push(stream.subarray(at, at + n));
        at += n;
      }
      expect(collect(make(), chunks)).toEqual({ frames, errors: [] });
    }
  });

  it('pushSpans: golden stream split at every offset and every pair of offsets, same as push', () => {
    const want = GOLDEN_FRAMES.map((g) => ({ connNo: g.connNo, payload: g.payload }));
    for (let i = 0; i <= goldenStream.length; i++) {
      const d = make();
      expect(collectSpans(d, [goldenStream.subarray(0, i), goldenStream.subarray(i)])).toEqual({
        frames: want,
        errors: [],
      });
      expect(d.bufferedBytes).toBe(0);
      for (let j = i; j <= goldenStream.length; j += 7) {
        const parts = [goldenStream.subarray(0, i), goldenStream.subarray(i, j), goldenStream.subarray(j)];
        expect(collectSpans(make(), parts)).toEqual(collect(make(), parts));
      }
    }
    const bytes = [...goldenStream].map((b) => Uint8Array.of(b));
    expect(collectSpans(make(), bytes)).toEqual({ frames: want, errors: [] });
  });

  it('pushSpans: spans of whole frames point into the chunk; errors, limits and state as push', () => {
    const chunk = Buffer.concat([
      encodeFrame(1, Buffer.from('abc'), 0),
      encodeFrame(2, Buffer.from('de'), 0),
    ]);
    const spans: unknown[] = [];
    expect(make().pushSpans(chunk, (c, b, s, e) => spans.push([c, b === chunk, s, e]))).toBeUndefined();
    expect(spans).toEqual([
      [1, true, 16, 19],
      [2, true, 36, 38],
    ]);
    // many frames in one chunk (past the DataView switch), payloads with ';', corrupt and oversized
    const many = Buffer.concat(
      Array.from({ length: 100 }, (_, i) => encodeFrame(i, Buffer.alloc(i % 5, 0x3b), 0)),
    );
    expect(collectSpans(make(), [many])).toEqual(collect(make(), [many]));
    const bad = Buffer.from(many);
    bad[bad.length - 1] = 0x3a;
    const badMid = Buffer.from(many);
    badMid.writeUInt32BE(0xffffffff, 17 * 60 + 60 * 2 + 12);
    for (const b of [bad, badMid]) {
      for (const max of [3, 1 << 24]) {
        const a = make(max);
        const v = make(max);
        expect(collectSpans(a, [b, many])).toEqual(collect(v, [b, many]));
        expect(a.bufferedBytes).toBe(v.bufferedBytes);
      }
    }
  });

  it('pushSpans: a throwing handler defers the rest of the chunk, mixed with push', () => {
    const frames = [1, 2, 3, 4, 5].map((n) => encodeFrame(n, Buffer.from([n, n]), 0));
    const a = Buffer.concat(frames.slice(0, 3));
    const b = Buffer.concat(frames.slice(3));
    const d = make();
    const seen: number[] = [];
    const throwOn = new Set([1, 2]);
    const h = (connNo: number) => {
      seen.push(connNo);
      if (throwOn.delete(connNo)) throw new Error(`boom ${connNo}`);
    };
    expect(() => d.pushSpans(a, h)).toThrow('boom 1');
    expect(() => d.pushSpans(b, h)).toThrow('boom 2');
    expect(d.bufferedBytes).toBe(frames[2]!.length + b.length);
    expect(d.push(new Uint8Array(0), (c) => seen.push(c))).toBeUndefined();
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    // a throw past the DataView switch (frame 20 of 40) resumes right after that frame
    const long = Buffer.concat(Array.from({ length: 40 }, (_, i) => encodeFrame(i, Buffer.from([i]), 0)));
    const got: number[] = [];
    expect(() =>
      d.pushSpans(long, (c) => {
        got.push(c);
        if (c === 20 && got.length === 21) throw new Error('boom 20');
      }),
    ).toThrow('boom 20');
    expect(d.bufferedBytes).toBe(long.length - 21 * 18);
    expect(d.pushSpans(new Uint8Array(0), (c) => got.push(c))).toBeUndefined();
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('pushSpans matches push on random streams split randomly', () => {
    const r = rng(7);
    for (let round = 0; round < 200; round++) {
      const stream = Buffer.concat(
        Array.from({ length: 1 + Math.floor(r() * 60) }, () => {
          const n = r() < 0.05 ? Math.floor(r() * 70000) : Math.floor(r() * 40);
          return encodeFrame(Math.floor(r() * 2 ** 32), Buffer.alloc(n, Math.floor(r() * 256)), 1);
        }),
      );
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < stream.length; ) {
        const n = Math.floor(r() * (r() < 0.5 ? 40 : 20000));
        chunks.push(stream.subarray(at, at + n));
        at += n;
      }
      expect(collectSpans(make(), chunks)).toEqual(collect(make(), chunks));
    }
  });
});
