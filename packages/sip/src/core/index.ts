export * from './send-with-failover.js';
export * from './stack.js';
