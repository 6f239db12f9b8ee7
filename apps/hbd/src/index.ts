/**
 * @ngcp/hbd — the HA heartbeat daemon of the pair. See README.md and docs/ha.md.
 */
export { hbdDaemon } from './daemon.js';
export { HaNode } from './ha-node.js';
export type { HaNodeOptions, StepResult, TransitionRecord } from './ha-node.js';
export { hbdSchema, hbdDefaults, hbdProblems, STEP_NAMES } from './config.js';
export type { HbdConfig, PathConfig, SharedIpConfig, PingConfig, HbdRedisConfig, HbdMariadbConfig, NotifyTarget, JobConfig, StepName } from './config.js';
export { decide, peerAlive, winsTie } from './role-machine.js';
export type { Role, PeerView, SelfView, HaInput, Decision, RuleId } from './role-machine.js';
export { encodeBeat, decodeBeat, BeatFilter, DROP_REASONS } from './beat.js';
export type { Beat, DropReason } from './beat.js';
export { buildSteps, sharedIpStep, arpStep, redisStep, mariadbStep, notifyStep, jobsStep, StepError } from './steps.js';
export type { HaStep, StepContext } from './steps.js';
export { Pinger, tcpProbe } from './pinger.js';
