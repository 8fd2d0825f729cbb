/**
 * The ICE-restart machine (src/registry/ice-restart.ts) on a fake clock: a `Clock` whose time moves only when
 * the test says so, a `RestartHost` that records what the machine reports, offers and closes as
 * `"<ms> <event>"` lines, and scripted activity on the two marks (received, acknowledged).
 */
import {
  type Clock,
  DEFAULT_ICE_RESTART,
  type RestartHost,
  RestartMachine,
  type RestartMachineOptions,
} from '../../src/registry/ice-restart.ts';

/** A clock whose time only moves when the test says so. */
export class FakeClock implements Clock {
  t = 0;
  #next = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void; every?: number }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.#timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(id: unknown): void {
    this.#timers.delete(id as number);
  }
  setInterval(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.#timers.set(id, { at: this.t + ms, fn, every: ms });
    return id;
  }
  clearInterval(id: unknown): void {
    this.#timers.delete(id as number);
  }
  /** Advances time in small steps, firing due timers in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      let nextId: number | undefined;
      let nextAt = Number.POSITIVE_INFINITY;
      for (const [id, timer] of this.#timers) {
        if (timer.at < nextAt) {
          nextAt = timer.at;
          nextId = id;
        }
      }
      if (nextId === undefined || nextAt > end) break;
      const timer = this.#timers.get(nextId) as { at: number; fn: () => void; every?: number };
      this.t = nextAt;
      if (timer.every !== undefined) timer.at += timer.every;
      else this.#timers.delete(nextId);
      timer.fn();
      await Promise.resolve();
      await Promise.resolve();
    }
    this.t = end;
  }
}

export interface RestartHarness {
  clock: FakeClock;
  machine: RestartMachine;
  events: string[];
  mark: { value: number };
  acked: { value: number };
  offers: number;
  closed: { reason: number; why: string; at: number } | undefined;
}

/** A started machine on a fresh FakeClock; with `failOffer` every restart's offer throws. */
export function restartHarness(
  initiator: boolean,
  options: Partial<RestartMachineOptions> = {},
  failOffer = false,
): RestartHarness {
  const clock = new FakeClock();
  const h = {
    clock,
    events: [] as string[],
    mark: { value: 0 },
    acked: { value: 0 },
    offers: 0,
    closed: undefined,
  } as RestartHarness;
  const host: RestartHost = {
    initiator,
    activityMarks: () => [h.mark.value, h.acked.value],
    report: (s) => h.events.push(`${Math.round(clock.t)} ${s}`),
    restart: async () => {
      h.offers++;
      h.events.push(`${Math.round(clock.t)} offer`);
      if (failOffer) throw new Error('no offer');
    },
    giveUp: (reason, why) => {
      h.closed = { reason, why, at: clock.t };
      h.events.push(`${Math.round(clock.t)} close ${reason}`);
    },
    log: () => {},
  };
  h.machine = new RestartMachine({ ...DEFAULT_ICE_RESTART, ...options }, host, clock);
  h.machine.start();
  return h;
}

/** Both directions progress every `everyMs` while `until` has not passed (only inbound with `oneWay`). */
export function traffic(h: RestartHarness, from: number, until: number, everyMs = 200, oneWay = false): void {
  for (let t = from; t < until; t += everyMs) {
    h.clock.setTimeout(() => {
      h.mark.value++;
      if (!oneWay) h.acked.value++;
    }, t - h.clock.t);
  }
}
