/**
 * Time in tests without guessing: poll for a condition with a deadline instead of sleeping a fixed time and
 * then asserting, and scale the few wall-clock limits functional tests keep with TUBES_TIME_SCALE.
 *
 *   await waitFor(() => frames.length === 2, { what: 'two frames' });
 *   expect(performance.now() - t0).toBeLessThan(scaled(1500));
 *
 * TUBES_TIME_SCALE (default 1; README "Test flags") multiplies every limit made with `scaled()` and the default
 * deadline of `waitFor`: a slow or heavily shared machine sets e.g. 3. The contract figures themselves (such as
 * "closeTube completes within 1.5 s") are the unscaled values; benchmarks measure them, tests bound them.
 */

function parseScale(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 1) {
    throw new Error(`TUBES_TIME_SCALE must be a number >= 1, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** The TUBES_TIME_SCALE multiplier (>= 1). */
export const TIME_SCALE = parseScale(process.env['TUBES_TIME_SCALE']);

/** `ms` × TUBES_TIME_SCALE: a wall-clock limit in a functional test. */
export function scaled(ms: number): number {
  return ms * TIME_SCALE;
}

export interface WaitOptions {
  /** Deadline in ms (default 5 s × TUBES_TIME_SCALE). */
  readonly timeoutMs?: number;
  /** Poll interval in ms (default 5). */
  readonly intervalMs?: number;
  /** Named in the timeout error. */
  readonly what?: string;
}

/**
 * Polls `check` until it returns a truthy value (returned) or the deadline passes (throws, naming `what`).
 * `check` may be async; an exception thrown by it propagates at once.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const timeoutMs = options.timeoutMs ?? scaled(5_000);
  const intervalMs = options.intervalMs ?? 5;
  const until = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as Exclude<T, false | 0 | '' | null | undefined>;
    if (performance.now() > until) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a condition'}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
