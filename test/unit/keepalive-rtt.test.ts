/**
 * The keepalive's RTT summary (average, p95, p99 by nearest rank over the last 64 round trips): the same
 * figures as a plain sort of the samples, computed once per new sample however often stats are read; and the
 * channel's cheap progress read agrees with its stats.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Keepalive } from '../../src/channel/keepalive.ts';
import type { ChannelClock } from '../../src/channel/types.ts';
import { harness } from '../helpers/channel-harness.ts';

const clock = {
  t: 0,
  now(): number {
    return this.t;
  },
  setTimeout: () => undefined,
  clearTimeout: () => {},
  setInterval: () => undefined,
  clearInterval: () => {},
} satisfies ChannelClock & { t: number };

function keepalive(): Keepalive {
  return new Keepalive(1_000, 30_000, clock, { ping: () => {}, timeout: () => {} });
}

/** The reference: nearest-rank percentiles of the last 64 samples, by a plain numeric sort. */
function reference(all: number[]): { avgMs: number; p95Ms: number; p99Ms: number } {
  const last = all.slice(-64).sort((a, b) => a - b);
  const n = last.length;
  const rank = (p: number) => last[Math.min(n - 1, Math.ceil(p * n) - 1)] as number;
  return { avgMs: last.reduce((a, b) => a + b, 0) / n, p95Ms: rank(0.95), p99Ms: rank(0.99) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('keepalive RTT summary', () => {
  it('identical to a plain sort of the last 64 round trips, before and after the ring wraps', () => {
    const k = keepalive();
    expect(k.summary()).toBeUndefined();
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const rtts: number[] = [];
    for (let i = 0; i < 200; i++) {
      const rtt = Math.round(random() * 500 * 1000) / 1000;
      clock.t = 1_000_000 + i * 1_000;
      rtts.push(k.echoed(clock.t - rtt)); // the round trip as measured (float subtraction)
      const s = k.summary();
      const r = reference(rtts);
      expect(s?.avgMs).toBeCloseTo(r.avgMs, 9);
      expect(s?.p95Ms).toBe(r.p95Ms);
      expect(s?.p99Ms).toBe(r.p99Ms);
    }
  });

  it('sorts once per new sample, however often it is read', () => {
    const k = keepalive();
    const sort = vi.spyOn(Float64Array.prototype, 'sort');
    clock.t = 1_000;
    k.echoed(990);
    k.echoed(970);
    expect(sort).toHaveBeenCalledTimes(0);
    const first = k.summary();
    for (let i = 0; i < 50; i++) expect(k.summary()).toBe(first);
    expect(sort).toHaveBeenCalledTimes(1);
    k.echoed(900);
    expect(k.summary()).toEqual({ avgMs: (10 + 30 + 100) / 3, p95Ms: 100, p99Ms: 100 });
    k.summary();
    expect(sort).toHaveBeenCalledTimes(2);
  });
});

describe('channel progress read', () => {
  it('messagesReceived follows what the peer sent, as stats() reports it', () => {
    const h = harness({ role: 'server' });
    expect(h.channel.messagesReceived).toBe(0);
    for (let i = 0; i < 3; i++) h.peer.sendFrame(7, Buffer.from('x'));
    h.exchange();
    expect(h.channel.messagesReceived).toBe(h.channel.stats().messagesReceived);
    expect(h.channel.messagesReceived).toBeGreaterThanOrEqual(3);
  });
});
