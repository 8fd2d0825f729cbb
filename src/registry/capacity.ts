/** Admission control for tube creation: a real limit on creations in flight (the original's never triggers). */
import { ErrorCode, TubesError } from '../errors.ts';

export interface CapacityReport {
  can_accept_more: boolean;
  active_creates: number;
  max_concurrent: number;
  queue_depth: number;
  avg_create_time_ms: number;
  total_creates: number;
  total_failures: number;
  load_percentage: number;
  suggested_delay_ms: number;
}

export class Admission {
  readonly max: number;
  #active = 0;
  #total = 0;
  #failures = 0;
  #totalMs = 0;
  #rejected = 0;

  constructor(max: number) {
    this.max = max;
  }

  /** Takes a slot or throws TUBES_ERR_OVERLOADED. Call the returned function exactly once when done. */
  enter(): (ok: boolean) => void {
    if (this.#active >= this.max) {
      this.#failures++;
      this.#rejected++;
      throw new TubesError(
        ErrorCode.OVERLOADED,
        `System overloaded: ${this.#active} active creates (max ${this.max}). Please retry with backoff.`,
      );
    }
    this.#active++;
    const started = performance.now();
    let done = false;
    return (ok) => {
      if (done) return;
      done = true;
      this.#active--;
      this.#total++;
      this.#totalMs += performance.now() - started;
      if (!ok) this.#failures++;
    };
  }

  /** Creations refused with TUBES_ERR_OVERLOADED since the registry started. */
  get rejections(): number {
    return this.#rejected;
  }

  report(): CapacityReport {
    const load = this.max > 0 ? Math.round((this.#active / this.max) * 100) : 100;
    const delay = load >= 100 ? 5000 : load > 90 ? 2000 : load > 75 ? 500 : load > 50 ? 100 : 0;
    return {
      can_accept_more: this.#active < this.max,
      active_creates: this.#active,
      max_concurrent: this.max,
      queue_depth: 0,
      avg_create_time_ms: this.#total ? this.#totalMs / this.#total : 0,
      total_creates: this.#total,
      total_failures: this.#failures,
      load_percentage: load,
      suggested_delay_ms: delay,
    };
  }
}
