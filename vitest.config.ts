import { defineConfig } from 'vitest/config';

/**
 * Two lanes, run one after the other (`sequence.groupOrder`):
 *
 * 1. `shared` — files that mostly wait (timers, outages in network namespaces, TURN, real peers, child
 *    processes, the CLI) or are short: two at a time. On 2 cores the load stays near 2.
 * 2. `alone` — files whose figures depend on having the CPU to themselves: bulk transfers with memory or
 *    duration bounds, SACK timing, fault-injection runs with their 10 s establishment bound, Chromium.
 *    One at a time, after the shared lane, so nothing else competes with them.
 *
 * A new test file lands in the shared lane unless it is listed here; list it under ALONE when it moves
 * bulk data against a bound or measures time. `TUBES_TEST_WORKERS` overrides the shared lane's width.
 */
const ALONE = [
  'test/e2e/two-process.test.ts',
  'test/e2e/embed-http.test.ts',
  'test/e2e/embed-workers.test.ts',
  'test/e2e/tunnel-e2e.test.ts',
  'test/e2e/workers.test.ts',
  'test/e2e/cli-two-machines.test.ts',
  'test/interop/werift-patches.test.ts',
  'test/interop/transport-faults.test.ts',
  'test/interop/interop.test.ts',
  'test/interop/browser-e2e.test.ts',
];

const FLOW_CONTROL = 'test/e2e/flow-control.test.ts';

const sharedWorkers = Number(process.env['TUBES_TEST_WORKERS'] ?? 2);

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // CI also writes a JSON summary; .ci/run prints its plain closing line from it.
    reporters: process.env['CI']
      ? ['default', ['json', { outputFile: '.vitest-results.json' }]]
      : ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          exclude: [...ALONE, FLOW_CONTROL],
          maxWorkers: sharedWorkers,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'alone',
          include: ALONE,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // The stalled-reader test measures RSS in this process and in a gateway child; both run with the
        // young-generation bound docs/PERFORMANCE.md "Memory" recommends for tube hosts, so V8's lazily
        // grown semi-space (up to +48 MiB of garbage) does not pass for buffering.
        extends: true,
        test: {
          name: 'memory',
          include: [FLOW_CONTROL],
          maxWorkers: 1,
          execArgv: ['--max-semi-space-size=2'],
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
