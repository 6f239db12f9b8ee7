import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['source'] },
  test: { name: 'cli', testTimeout: 30_000, hookTimeout: 120_000, include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
