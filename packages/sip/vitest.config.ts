import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['source'] },
  test: { name: 'sip', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
