export * from './send-with-failover.js';
