/**
 * Keeping a trickle-ICE tube alive across path loss: loss detection from inbound activity, automatic ICE
 * restarts with backoff and a breaker, and a bounded give-up. A small state machine with injectable timers;
 * the tube (tube.ts) feeds it events and carries out what it decides (docs/API.md "Connection loss and ICE
 * restart").
 *
 * - Loss: nothing received (any SCTP DATA or SACK, including the channels' keepalive pings) for
 *   `lossAfterMs` → `lost` reported at once. werift's own `disconnected`/`failed` states count too, but
 *   are not relied on (werift may go to `failed` without `disconnected`, or report nothing for 30 s).
 * - Restart (initiator only, i.e. the tube that made the original offer; the answerer reports the loss and
 *   answers, so two tubes of this library never both offer — no glare): Disconnected / silence → wait
 *   `disconnectedWaitMs` → restart; werift `failed` or a local network change → restart at once. One
 *   restart in flight at a time; a restart whose checks fail (werift `failed`, or no connectivity after
 *   `checkTimeoutMs`) is followed by the next one after a backoff (1 s doubling to 8 s); at most
 *   `maxRestarts` within `breakerWindowMs` (the breaker), then no more restarts.
 * - Give up: no answer to a restart offer within `answerTimeoutMs` → Timeout; still lost `giveUpAfterMs`
 *   after the loss was detected → ConnectionFailed when the peer took part in a restart during this outage
 *   (it is there, the path is not), ConnectionLost otherwise (nothing heard from it).
 * - Deadline (`peerSilenceTimeoutMs`, the user's explicit `limits.keepaliveTimeoutMs`): nothing received from
 *   the peer for that long → Timeout, whatever the restarts are doing; restarts may run before it.
 */
import { CloseConnectionReason } from '../protocol/close-reason.ts';

export interface IceRestartOptions {
  /** Automatic restarts and loss handling (trickle ICE only). Default true; false = the old behaviour
   * (werift `failed` closes the tube with ConnectionFailed). */
  auto: boolean;
  /** Wait after a Disconnected / silence before restarting (env KEEPER_GATEWAY_ICE_DISCONNECTED_WAIT_SECS; 2 s). */
  disconnectedWaitMs: number;
  /** A restart offer not answered within this closes the tube with Timeout
   * (env KEEPER_GATEWAY_ICE_RESTART_ANSWER_TIMEOUT_SECS; 20 s). */
  answerTimeoutMs: number;
  /** Nothing received for this long = connectivity lost (default 3 s). */
  lossAfterMs: number;
  /** Channel keepalive ping interval for tubes with automatic restarts (default 1 s; keeps an idle tube
   * audible so that `lossAfterMs` can be short). */
  keepaliveIntervalMs: number;
  /** Still lost this long after the loss was detected: the tube closes (default 24 s). */
  giveUpAfterMs: number;
  /** An answered restart without connectivity after this counts as failed (default 12 s). */
  checkTimeoutMs: number;
  /** Backoff between failed restarts: first, maximum (default 1 s, 8 s; doubles). */
  backoffMs: number;
  backoffMaxMs: number;
  /** Breaker: at most this many restarts within `breakerWindowMs` (default 8 per 5 min). */
  maxRestarts: number;
  breakerWindowMs: number;
  /** Poll interval of the local network addresses (default 2 s; 0 disables). A change restarts ICE. */
  networkPollMs: number;
}

export const DEFAULT_ICE_RESTART: Readonly<IceRestartOptions> = Object.freeze({
  auto: true,
  disconnectedWaitMs: 2_000,
  answerTimeoutMs: 20_000,
  lossAfterMs: 3_000,
  keepaliveIntervalMs: 1_000,
  giveUpAfterMs: 24_000,
  checkTimeoutMs: 12_000,
  backoffMs: 1_000,
  backoffMaxMs: 8_000,
  maxRestarts: 8,
  breakerWindowMs: 300_000,
  networkPollMs: 2_000,
});

function envSecondsMs(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? Math.round(n * 1000) : undefined;
}

/** Defaults, then the original's environment names, then explicit options (which win). */
export function resolveIceRestartOptions(options?: Partial<IceRestartOptions>): IceRestartOptions {
  const env: Partial<IceRestartOptions> = {};
  const wait = envSecondsMs('KEEPER_GATEWAY_ICE_DISCONNECTED_WAIT_SECS');
  if (wait !== undefined) env.disconnectedWaitMs = wait;
  const answer = envSecondsMs('KEEPER_GATEWAY_ICE_RESTART_ANSWER_TIMEOUT_SECS');
  if (answer !== undefined) env.answerTimeoutMs = answer;
  const defined = Object.fromEntries(
    Object.entries(options ?? {}).filter(([, v]) => v !== undefined),
  ) as Partial<IceRestartOptions>;
  return { ...DEFAULT_ICE_RESTART, ...env, ...defined };
}

/** What the machine runs on: the restart options, plus the deadline the tube derives from its limits. */
export interface RestartMachineOptions extends IceRestartOptions {
  /**
   * Nothing received from the peer (the first activity mark) for this long closes the tube with Timeout,
   * even while restarts are attempted. Undefined: no such deadline (the give-up rules alone end the tube).
   */
  peerSilenceTimeoutMs?: number | undefined;
}

/**
 * The machine's options for a tube with these channel limits (only what the user set explicitly). Silence
 * only means loss if the peer would have said something: an explicit, longer keepalive interval raises
 * `lossAfterMs` to 2.5 intervals; keepalive off (0) leaves loss to werift's ICE states. An explicit
 * `keepaliveTimeoutMs` (keepalive on) stays the deadline for a silent peer, restarts or not.
 */
export function restartMachineOptions(
  options: IceRestartOptions,
  limits: { keepaliveIntervalMs?: number | undefined; keepaliveTimeoutMs?: number | undefined } | undefined,
): RestartMachineOptions {
  const interval = limits?.keepaliveIntervalMs ?? options.keepaliveIntervalMs;
  if (!(interval > 0)) return { ...options, lossAfterMs: Number.POSITIVE_INFINITY };
  const timeout = limits?.keepaliveTimeoutMs;
  return {
    ...options,
    lossAfterMs: Math.max(options.lossAfterMs, Math.ceil(interval * 2.5)),
    peerSilenceTimeoutMs: timeout !== undefined && timeout > 0 ? timeout : undefined,
  };
}

export type Timer = unknown;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(t: Timer): void;
  setInterval(fn: () => void, ms: number): Timer;
  clearInterval(t: Timer): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
  setInterval: (fn, ms) => {
    const t = setInterval(fn, ms);
    t.unref();
    return t;
  },
  clearInterval: (t) => clearInterval(t as NodeJS.Timeout),
};

/** What the machine asks of its tube. */
export interface RestartHost {
  /** This side starts restarts (it made the original offer). */
  readonly initiator: boolean;
  /**
   * Progress marks, one per direction: each must keep changing while the path works. The first is what we
   * received from the peer (the one `peerSilenceTimeoutMs` watches), the others e.g. what the peer
   * acknowledged of ours. A direction whose mark is not a finite number is not watched.
   */
  activityMarks(): readonly number[];
  /** Connectivity lost (`'disconnected'`) or back (`'connected'`): status and signal. */
  report(state: 'disconnected' | 'connected'): void;
  /** Create the restart offer and emit it (`ice_restart_offer`). Rejects when it cannot. */
  restart(): Promise<void>;
  /** Close the tube with this reason. */
  giveUp(reason: number, why: string): void;
  log(event: string, data: Record<string, unknown>): void;
}

export type RestartPhase = 'idle' | 'waiting' | 'offering' | 'checking' | 'stopped';

/** Loss detection, restart scheduling, breaker and give-up for one tube. */
export class RestartMachine {
  readonly #o: RestartMachineOptions;
  readonly #host: RestartHost;
  readonly #clock: Clock;
  #phase: RestartPhase = 'idle';
  #lost = false;
  #lostAt = 0;
  #lastMarks: readonly number[];
  /** Per mark: when it last changed. */
  #changedAt: number[];
  #poll: Timer | undefined;
  #timer: Timer | undefined;
  #giveUpTimer: Timer | undefined;
  #attemptsInOutage = 0;
  #peerSeen = false;
  #history: number[] = [];
  #restartsCompleted = 0;
  #lastAttemptAt = Number.NEGATIVE_INFINITY;

  constructor(options: RestartMachineOptions, host: RestartHost, clock: Clock = realClock) {
    this.#o = options;
    this.#host = host;
    this.#clock = clock;
    this.#lastMarks = host.activityMarks();
    this.#changedAt = this.#lastMarks.map(() => clock.now());
  }

  get phase(): RestartPhase {
    return this.#phase;
  }

  get lost(): boolean {
    return this.#lost;
  }

  /** Restarts that brought connectivity back. */
  get restartsCompleted(): number {
    return this.#restartsCompleted;
  }

  /** Starts watching for silence (call once the tube is connected). */
  start(): void {
    if (this.#poll !== undefined || this.#phase === 'stopped') return;
    this.#lastMarks = this.#host.activityMarks();
    this.#changedAt = this.#lastMarks.map(() => this.#clock.now());
    const shortest = Math.min(this.#o.lossAfterMs, this.#o.peerSilenceTimeoutMs ?? Number.POSITIVE_INFINITY);
    const every = Number.isFinite(shortest) ? Math.max(50, Math.min(250, Math.floor(shortest / 10))) : 250;
    this.#poll = this.#clock.setInterval(() => this.#check(), every);
  }

  #check(): void {
    const marks = this.#host.activityMarks();
    const now = this.#clock.now();
    // The path works when every watched direction progresses; it is lost when one of them is silent.
    let stalest = now;
    for (let i = 0; i < marks.length; i++) {
      const m = marks[i] as number;
      if (!Number.isFinite(m)) continue;
      if (m !== this.#lastMarks[i]) this.#changedAt[i] = now;
      stalest = Math.min(stalest, this.#changedAt[i] ?? now);
    }
    this.#lastMarks = marks;
    const deadline = this.#o.peerSilenceTimeoutMs;
    if (deadline !== undefined && Number.isFinite(marks[0])) {
      const silentMs = now - (this.#changedAt[0] ?? now);
      if (silentMs >= deadline) {
        this.#finish(
          CloseConnectionReason.Timeout,
          `nothing received from the peer for ${Math.round(silentMs)} ms (keepaliveTimeoutMs ${deadline})`,
        );
        return;
      }
    }
    if (this.#lost) {
      if (stalest > this.#lostAt) {
        this.#recovered('activity');
        return;
      }
    } else if (now - stalest >= this.#o.lossAfterMs) {
      this.#loss('silence');
      return;
    }
    if (
      this.#lost &&
      this.#phase === 'idle' &&
      this.#host.initiator &&
      now - this.#lastAttemptAt >= this.#o.checkTimeoutMs
    ) {
      // ICE came back on the last restart but nothing arrives: try again.
      this.#schedule(0);
    }
  }

  /** werift's ICE connection state. */
  iceState(state: string): void {
    if (this.#phase === 'stopped') return;
    if (state === 'disconnected') this.#loss('ice disconnected');
    else if (state === 'failed') {
      this.#loss('ice failed');
      if (this.#phase === 'checking') this.#attemptFailed('ice failed');
      else if (this.#phase === 'waiting') this.#schedule(0);
    } else if ((state === 'connected' || state === 'completed') && this.#phase === 'checking') {
      // Connectivity checks succeeded on the new credentials; activity confirms the recovery.
      this.#phase = 'idle';
      this.#clearTimer();
      this.#restartsCompleted++;
      this.#host.log('ice restart completed', { attempts: this.#attemptsInOutage });
      this.#attemptsInOutage = 0;
    }
  }

  /** The local network addresses changed: the current path may be gone. */
  networkChanged(): void {
    if (this.#phase === 'stopped') return;
    this.#host.log('local addresses changed', {});
    if (this.#host.initiator && this.#phase === 'idle') this.#schedule(0);
  }

  /** The peer answered our restart offer (the answer is applied). */
  answered(): void {
    if (this.#phase !== 'offering') return;
    this.#peerSeen = true;
    this.#phase = 'checking';
    this.#setTimer(() => this.#attemptFailed('no connectivity after the answer'), this.#o.checkTimeoutMs);
  }

  /** The peer sent us a restart offer (answerer side): it is alive. */
  remoteOffer(): void {
    this.#peerSeen = true;
    if (this.#phase === 'offering') {
      // Glare lost (our offer was rolled back): the peer's restart is now the one in flight.
      this.#phase = 'checking';
      this.#setTimer(
        () => this.#attemptFailed('no connectivity after the peer restarted'),
        this.#o.checkTimeoutMs,
      );
    }
  }

  stop(): void {
    this.#phase = 'stopped';
    this.#clearTimer();
    if (this.#poll !== undefined) this.#clock.clearInterval(this.#poll);
    if (this.#giveUpTimer !== undefined) this.#clock.clearTimeout(this.#giveUpTimer);
    this.#poll = undefined;
    this.#giveUpTimer = undefined;
  }

  #loss(why: string): void {
    if (this.#phase === 'stopped') return;
    if (!this.#lost) {
      this.#lost = true;
      this.#lostAt = this.#clock.now();
      this.#peerSeen = false;
      this.#host.log('connectivity lost', { why });
      this.#host.report('disconnected');
      this.#giveUpTimer = this.#clock.setTimeout(() => {
        this.#giveUpTimer = undefined;
        if (!this.#lost) return;
        const reason = this.#peerSeen
          ? CloseConnectionReason.ConnectionFailed
          : CloseConnectionReason.ConnectionLost;
        this.#finish(reason, `still lost ${this.#o.giveUpAfterMs} ms after the loss`);
      }, this.#o.giveUpAfterMs);
    }
    if (this.#host.initiator && this.#phase === 'idle') {
      this.#schedule(why === 'ice failed' ? 0 : this.#o.disconnectedWaitMs);
    }
  }

  #recovered(why: string): void {
    this.#lost = false;
    if (this.#giveUpTimer !== undefined) this.#clock.clearTimeout(this.#giveUpTimer);
    this.#giveUpTimer = undefined;
    this.#host.log('connectivity back', { why, lostMs: Math.round(this.#clock.now() - this.#lostAt) });
    if (this.#phase === 'waiting') {
      // The path came back by itself (SCTP retransmitted): no restart needed.
      this.#clearTimer();
      this.#phase = 'idle';
    }
    if (this.#phase === 'checking') {
      this.#clearTimer();
      this.#phase = 'idle';
      this.#restartsCompleted++;
    }
    this.#attemptsInOutage = 0;
    this.#host.report('connected');
  }

  /** Next restart after `delayMs` (or later, by the backoff); nothing when the breaker is open. */
  #schedule(delayMs: number): void {
    if (!this.#host.initiator || this.#phase === 'stopped') return;
    const now = this.#clock.now();
    this.#history = this.#history.filter((t) => now - t < this.#o.breakerWindowMs);
    if (this.#history.length >= this.#o.maxRestarts) {
      this.#phase = 'idle';
      this.#host.log('ice restart breaker open', {
        restarts: this.#history.length,
        windowMs: this.#o.breakerWindowMs,
      });
      return;
    }
    const backoff =
      this.#attemptsInOutage === 0
        ? 0
        : Math.min(this.#o.backoffMaxMs, this.#o.backoffMs * 2 ** (this.#attemptsInOutage - 1));
    this.#phase = 'waiting';
    this.#setTimer(() => void this.#attempt(), Math.max(delayMs, backoff));
  }

  async #attempt(): Promise<void> {
    if (this.#phase !== 'waiting') return;
    this.#phase = 'offering';
    this.#attemptsInOutage++;
    this.#lastAttemptAt = this.#clock.now();
    this.#history.push(this.#lastAttemptAt);
    this.#host.log('ice restart', { attempt: this.#attemptsInOutage });
    try {
      await this.#host.restart();
    } catch (err) {
      if (this.#phase !== 'offering') return;
      this.#host.log('ice restart offer failed', { err: (err as Error).message });
      this.#phase = 'idle';
      this.#schedule(0);
      return;
    }
    if (this.#phase !== 'offering') return;
    this.#setTimer(
      () =>
        this.#finish(
          CloseConnectionReason.Timeout,
          `no ICE restart answer within ${this.#o.answerTimeoutMs} ms`,
        ),
      this.#o.answerTimeoutMs,
    );
  }

  #attemptFailed(why: string): void {
    if (this.#phase !== 'checking') return;
    this.#clearTimer();
    this.#host.log('ice restart attempt failed', { why, attempt: this.#attemptsInOutage });
    this.#phase = 'idle';
    this.#schedule(0);
  }

  #finish(reason: number, why: string): void {
    if (this.#phase === 'stopped') return;
    this.stop();
    this.#host.giveUp(reason, why);
  }

  #setTimer(fn: () => void, ms: number): void {
    this.#clearTimer();
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      fn();
    }, ms);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
