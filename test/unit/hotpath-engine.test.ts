import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  countCodePoints,
  engine,
  engineInfo,
  FrameDecoder,
  GuacamoleScanner,
  resetEnginesForTests,
} from '../../src/hotpath/internal.ts';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  resetEnginesForTests();
});

describe('engine selection', () => {
  it('auto runs the best engine available (wasm-simd here)', () => {
    resetEnginesForTests();
    expect(engine()).toBe('wasm-simd');
    expect(engineInfo()).toMatchObject({
      requested: 'auto',
      engine: 'wasm-simd',
      wasm: { 'wasm-simd': true },
    });
  });

  it.each(['js', 'wasm', 'wasm-simd'] as const)('TUBES_HOTPATH=%s forces that engine', (name) => {
    vi.stubEnv('TUBES_HOTPATH', name);
    resetEnginesForTests();
    expect(engine()).toBe(name);
    expect(new GuacamoleScanner().engine).toBe(name);
    expect(new FrameDecoder().engine).toBe(name);
    expect(countCodePoints(Buffer.from('é'.repeat(1000)))).toBe(1000);
  });

  it('an explicit engine option wins over TUBES_HOTPATH', () => {
    vi.stubEnv('TUBES_HOTPATH', 'js');
    resetEnginesForTests();
    expect(new GuacamoleScanner({ engine: 'wasm' }).engine).toBe('wasm');
  });

  it('an invalid TUBES_HOTPATH warns and means auto', () => {
    vi.stubEnv('TUBES_HOTPATH', 'gpu');
    resetEnginesForTests();
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    expect(engine()).toBe('wasm-simd');
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('TUBES_HOTPATH=gpu'), expect.anything());
  });

  it('a Wasm load failure falls back visibly: engine() tells, one warning per engine', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    resetEnginesForTests({ fail: ['wasm-simd'] });
    expect(engine()).toBe('wasm');
    expect(new GuacamoleScanner({ engine: 'wasm-simd' }).engine).toBe('wasm');
    expect(engineInfo().wasm['wasm-simd']).toMatch(/simulated/);
    resetEnginesForTests({ fail: ['wasm-simd', 'wasm'] });
    expect(engine()).toBe('js');
    expect(engine()).toBe('js');
    const b = new GuacamoleScanner().push(Buffer.from('4.sync;'));
    expect(b.count).toBe(1);
    const fallbacks = warn.mock.calls.filter((c) => String(c[0]).includes('unavailable'));
    expect(fallbacks).toHaveLength(3); // simd (first reset), simd + wasm (second reset): once each
  });
});
