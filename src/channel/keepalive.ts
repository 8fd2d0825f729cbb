/**
 * Keepalive and RTT of one channel. Every interval without a message from the peer adds to the silence;
 * any message clears it. While the peer talks we ping it with our clock's time (it echoes the body), which
 * gives the round-trip time; once the silence reaches the timeout the peer is declared gone (and again on
 * every later tick, until the channel stops the keepalive).
 *
 * The hot path only counts: `received()` per message, no timer per message.
 */
import type { ChannelClock } from './types.ts';

export interface KeepaliveEvents {
  /** Time to ping the peer (body: `keepaliveBody(now)`). */
  ping(now: number): void;
  /** Nothing received for `silentMs` (≥ the timeout). */
  timeout(silentMs: number): void;
}

const RTT_SAMPLES = 64;

export interface RttSummary {
  readonly avgMs: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
}

export class Keepalive {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #clock: ChannelClock;
  readonly #events: KeepaliveEvents;
  #timer: unknown;
  #receivedSinceTick = 0;
  #silentMs = 0;
  #rttMs: number | undefined;
  /** The last RTT_SAMPLES round trips (a ring). */
  readonly #samples = new Float64Array(RTT_SAMPLES);
  #sampleCount = 0;
  /** Scratch for sorting, and the last summary with the sample count it was computed at. */
  readonly #sorted = new Float64Array(RTT_SAMPLES);
  #summary: RttSummary | undefined;
  #summaryAt = 0;

  constructor(intervalMs: number, timeoutMs: number, clock: ChannelClock, events: KeepaliveEvents) {
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
    this.#clock = clock;
    this.#events = events;
  }

  /** Round-trip time of the last echoed keepalive. */
  get rttMs(): number | undefined {
    return this.#rttMs;
  }

  /** Starts ticking (no-op when the interval is 0 or it already runs). */
  start(): void {
    if (this.#intervalMs <= 0 || this.#timer !== undefined) return;
    this.#timer = this.#clock.setInterval(() => this.#clockOnTick(), this.#intervalMs);
  }

  stop(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A message arrived from the peer. */
  received(): void {
    this.#receivedSinceTick++;
  }

  /** The peer echoed a keepalive sent at `sentAt` (our clock). */
  echoed(sentAt: number): number {
    const rtt = Math.max(0, this.#clock.now() - sentAt);
    this.#rttMs = rtt;
    this.#samples[this.#sampleCount % RTT_SAMPLES] = rtt;
    this.#sampleCount++;
    return rtt;
  }

  /**
   * Average and percentiles (nearest rank) of the last round trips; undefined before the first one. Computed
   * on the first call after a new sample and kept until the next one (stats are read far more often than a
   * keepalive echoes), sorting into a buffer of its own.
   */
  summary(): RttSummary | undefined {
    if (this.#summary !== undefined && this.#summaryAt === this.#sampleCount) return this.#summary;
    const n = Math.min(this.#sampleCount, RTT_SAMPLES);
    if (n === 0) return undefined;
    const sorted = this.#sorted.subarray(0, n);
    sorted.set(this.#samples.subarray(0, n));
    sorted.sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    const rank = (p: number): number => sorted[Math.min(n - 1, Math.ceil(p * n) - 1)] as number;
    this.#summary = Object.freeze({ avgMs: sum / n, p95Ms: rank(0.95), p99Ms: rank(0.99) });
    this.#summaryAt = this.#sampleCount;
    return this.#summary;
  }

  #clockOnTick(): void {
    if (this.#receivedSinceTick > 0) {
      this.#receivedSinceTick = 0;
      this.#silentMs = 0;
    } else this.#silentMs += this.#intervalMs;
    if (this.#silentMs >= this.#timeoutMs) {
      this.#events.timeout(this.#silentMs);
      return;
    }
    this.#events.ping(this.#clock.now());
  }
}
