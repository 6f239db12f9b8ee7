/**
 * Three e2e suites on one node brought up by the real `ngcp up` (harness.ts: the suites of
 * one test file share its node, with the union of their config sections): issue #8's calls
 * (calls.cases.ts), issue #10's number handling, restrictions and call forwards
 * (features.cases.ts), issue #10's peering (peering.cases.ts). One `ngcp up` and teardown
 * instead of three. They run in this order; each leaves no binding, forward or counter behind.
 *
 *     pnpm exec vitest run test/e2e/one-node.test.ts                 # all three
 *     pnpm exec vitest run test/e2e/one-node.test.ts -t 'B busy'     # one case (the node still comes up once)
 */
import './calls.cases.js';
import './features.cases.js';
import './peering.cases.js';
