import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take minutes, longest first (durations of a CI run, 2026-12-07). With two
 * files at a time (deploy/run-tests.mjs) a long file that starts last is the whole run's tail;
 * vitest's own order puts them first only once its cache knows their durations, and a fresh
 * clone has no cache (then it runs larger files first — and these are small files importing
 * their cases).
 */
const LONGEST_FIRST = [
  'test/e2e/one-node.test.ts',
  'test/ha/failover.test.ts',
  'test/ha/lab.test.ts',
  'test/e2e/sbc-bans.test.ts',
  'test/sbc/b2bua.test.ts',
  'apps/cli/test/supervision.test.ts',
  'apps/proxy/test/workers.test.ts',
  'apps/cli/test/sip-lint.test.ts',
  'test/sbc/prepaid.test.ts',
  'apps/api/test/framework.test.ts',
  'apps/proxy/test/takeover.test.ts',
  'apps/proxy/test/peer-register.test.ts',
  'apps/cli/test/up.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = LONGEST_FIRST.findIndex((p) => f.moduleId.endsWith(`/${p}`));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map((x) => x.f);
  }
}

// One run over every workspace project; each project has its own vitest.config.ts.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'test'],
    reporters: ['default'],
    sequence: { sequencer: LongestFirst },
  },
});
