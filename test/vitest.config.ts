import { defineProject } from 'vitest/config';

// NGCP_TEST_PHASE (deploy/run-tests.mjs): `parallel` leaves the lab's load-sensitive HA files
// out (they run afterwards, alone, in the `serial` phase); unset: every file.
const phase = process.env.NGCP_TEST_PHASE;

export default defineProject({
  resolve: { conditions: ['source'] },
  test: {
    name: 'e2e',
    include: phase === 'serial' ? ['ha/**/*.test.ts'] : ['**/*.test.ts'],
    exclude: ['**/node_modules/**', ...(phase === 'parallel' ? ['ha/**'] : [])],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
