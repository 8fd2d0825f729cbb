/** Shared vectors and helpers of the hot-path tests (not a test file itself). */
import { readFileSync } from 'node:fs';

export const GOLDEN_TS = 1_700_000_000_000;

/** Every worked example of the original's frame format (docs/ORIGINAL.md, “Frames”): conn, payload hex, full frame hex. */
export const GOLDEN_FRAMES: { name: string; connNo: number; payload: string; frame: string }[] = [
  ['Ping', 0, '0001 00000000'],
  ['Pong', 0, '0002 00000000'],
  ['OpenConnection conn 1', 0, '0065 00000001'],
  ['ConnectionOpened conn 1', 0, '0067 00000001'],
  ['Data "hello" conn 1', 1, '68656c6c6f'],
  ['SendEOF conn 1', 0, '0068 00000001'],
  ['CloseConnection conn 1 Normal', 0, '0066 00000001 00'],
  [
    'CloseConnection conn 1 ConnectionLost + message',
    0,
    '0066 00000001 09 0026 4261636b656e6420636f6e6e656374696f6e20636c6f73656420756e65787065637465646c79',
  ],
  ['CloseConnection conn 0 AIClosed', 0, '0066 00000000 0f'],
  ['SOCKS5 OpenConnection conn 2', 0, '0065 00000002 0000000b 6578616d706c652e636f6d 01bb'],
].map(([name, connNo, payload]) => {
  const p = String(payload).replaceAll(' ', '');
  const len = (p.length / 2).toString(16).padStart(8, '0');
  const conn = Number(connNo).toString(16).padStart(8, '0');
  return {
    name: String(name),
    connNo: Number(connNo),
    payload: p,
    frame: `${conn}0000018bcfe56800${len}${p}3b`,
  };
});

/** The literal byte counts stated by the original's worked examples, in the same order (a cross-check of the derivation above). */
export const GOLDEN_SIZES = [23, 23, 23, 23, 22, 23, 24, 64, 24, 40];

export const hex = (h: string): Buffer => Buffer.from(h.replace(/[^0-9a-f]/gi, ''), 'hex');

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One side ('S' = guacd output, 'C' = client input) of a recorded guacd sample, as wire bytes. The
 * recording abbreviates long base64 values as `<len>.<first bytes>…`; those are restored to their
 * declared length with base64 filler ('A') so the stream is well-formed with guacd's real lengths.
 */
export function guacdSample(file: string, side: 'S' | 'C'): Buffer {
  const text = readFileSync(new URL(`../fixtures/${file}`, import.meta.url), 'utf8');
  const lines = text.split('\n').filter((l) => l.startsWith(`${side}> `));
  const restored = lines.map((l) =>
    l
      .slice(3)
      .replace(
        /(\d+)\.([A-Za-z0-9+/=]*)…/g,
        (_m, n: string, v: string) => `${n}.${v.padEnd(Number(n), 'A')}`,
      ),
  );
  return Buffer.from(restored.join(''), 'utf8');
}

/** Engines to run behavioural suites against (all three; unavailable ones are reported by the suite). */
export const ENGINES = ['js', 'wasm', 'wasm-simd'] as const;
