import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // CI also writes a JSON summary; .ci/run prints its plain closing line from it.
    reporters: process.env['CI']
      ? ['default', ['json', { outputFile: '.vitest-results.json' }]]
      : ['default'],
  },
});
