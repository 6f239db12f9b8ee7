/**
 * Two e2e suites on one node brought up by the real `ngcp up` (harness.ts: the suites of one
 * test file share its node, with the union of their config sections): calls through the
 * B2BUA (sbc.cases.ts, `proxy.sbc.enable`: the default, set here all the same), then the lb's
 * flood and brute-force protection (bans.cases.ts, thresholds low enough to hit). The ban
 * thresholds do not fit the node of one-node.test.ts (its bursts would be banned); the sbc
 * cases fit them: they send a few calls from 127.0.0.1, far below the thresholds, and the ban
 * cases' calls (from their own addresses) cross the sbc like any call here.
 * One `ngcp up` and teardown instead of two.
 *
 *     pnpm exec vitest run test/e2e/sbc-bans.test.ts
 */
import './sbc.cases.js';
import './bans.cases.js';
