import { defineProject } from 'vitest/config';

// NGCP_TEST_PHASE (deploy/run-tests.mjs): the real hbd processes (test/: pairs on loopback and in
// namespaces, takeover timing) run in the `serial` phase, alone; the unit tests in `parallel`.
const phase = process.env.NGCP_TEST_PHASE;
const include = phase === 'serial' ? ['test/**/*.test.ts'] : phase === 'parallel' ? ['src/**/*.test.ts'] : ['src/**/*.test.ts', 'test/**/*.test.ts'];

export default defineProject({
  resolve: { conditions: ['source'] },
  test: { name: 'hbd', include, testTimeout: 60_000, hookTimeout: 120_000 },
});
