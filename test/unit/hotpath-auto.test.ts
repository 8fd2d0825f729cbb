/** `auto`'s routing probes (src/hotpath/engine/auto.ts) as the pure functions they are. */
import { describe, expect, it } from 'vitest';
import {
  AUTO_THRESHOLDS,
  codePointsInJs,
  guacBufferedInJs,
  guacPendingInJs,
  guacPushInJs,
} from '../../src/hotpath/engine/auto.ts';
import { encodeInstruction } from '../../src/hotpath/index.ts';

const bytes = (s: string) => Buffer.from(s, 'utf8');
const BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAIAAAACACAYAAADDPmHLAAAgAElEQVR4'.repeat(40);
const display = (n: number) => encodeInstruction('blob', '1', BASE64.slice(0, n));
const keys = (count: number) =>
  Array.from({ length: count }, (_, i) => encodeInstruction('key', String(65 + (i % 26)), '1')).join('');

describe('auto routing probes', () => {
  it('countCodePoints: JS below the threshold, Wasm from it', () => {
    const t = AUTO_THRESHOLDS.countCodePointsWasmMinBytes;
    expect([codePointsInJs(0), codePointsInJs(t - 1), codePointsInJs(t), codePointsInJs(1 << 20)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it('buffered Guacamole scan: JS below the threshold, Wasm from it', () => {
    const t = AUTO_THRESHOLDS.guacInWasmMinBytes;
    expect([guacBufferedInJs(t - 1), guacBufferedInJs(t), guacBufferedInJs(65536)]).toEqual([
      true,
      false,
      false,
    ]);
  });

  describe('pushed chunk (nothing buffered)', () => {
    it('small chunks scan in JS, mid-sized ones in Wasm whatever their content', () => {
      const small = bytes(keys(20)).subarray(0, AUTO_THRESHOLDS.guacPushWasmMinBytes - 1);
      expect(guacPushInJs(small)).toBe(true);
      const mid = bytes(display(900));
      expect(mid.length).toBeLessThan(AUTO_THRESHOLDS.guacPushAsciiProbeMinBytes);
      expect(mid.length).toBeGreaterThanOrEqual(AUTO_THRESHOLDS.guacPushWasmMinBytes);
      expect(guacPushInJs(mid)).toBe(false);
    });

    it('long chunks of base64-like values scan in JS', () => {
      expect(guacPushInJs(bytes(display(2000)))).toBe(true);
      const img = encodeInstruction('img', '1', '14', '0', 'image/png', '0', '0');
      expect(guacPushInJs(bytes(img + display(1500) + encodeInstruction('end', '1')))).toBe(true);
    });

    it('long chunks of short instructions, or of non-ASCII text, scan in Wasm', () => {
      expect(guacPushInJs(bytes(keys(200)))).toBe(false);
      expect(guacPushInJs(bytes(encodeInstruction('clipboard', 'é国'.repeat(400))))).toBe(false);
      // a long value whose first bytes are ASCII but which turns non-ASCII within the sampled 64 bytes
      expect(guacPushInJs(bytes(encodeInstruction('blob', `${'a'.repeat(40)}${'é'.repeat(600)}`)))).toBe(
        false,
      );
    });

    it('only a prefix is probed: a long value first seen after it does not count', () => {
      expect(guacPushInJs(bytes(keys(60) + display(2000)))).toBe(false);
    });
  });

  describe('buffered tail of a pending instruction', () => {
    const tail = (s: string) => {
      const b = bytes(`junk${s}`);
      return guacPendingInJs(b, 4, b.length);
    };
    it('base64 display data continues in JS memory', () => {
      expect(tail(`4.blob,1.1,5000.${BASE64.slice(0, 24)}`)).toBe(true);
      expect(tail(`3.img,1.1,2.14,4000.${BASE64.slice(0, 100)}`)).toBe(true);
    });
    it('a long value that is not base64 (text) goes to Wasm memory', () => {
      expect(tail(`9.clipboard,5000.${'hello world, '.repeat(3)}`)).toBe(false);
      expect(tail(`4.blob,5000.${'é'.repeat(20)}`)).toBe(false);
    });
    it('undecided: too few bytes of the long value, short values only, or not a length prefix', () => {
      expect(tail(`4.blob,1.1,5000.${BASE64.slice(0, 23)}`)).toBeUndefined();
      expect(tail('4.blob,1.1,500')).toBeUndefined();
      expect(tail('5.mouse,3.100,3.200,')).toBeUndefined();
      expect(tail('x.sync')).toBeUndefined();
      expect(tail('')).toBeUndefined();
    });
  });
});
