/**
 * Subscribes to `ngcp:changes` (packages/db/REDIS.md) on its own Redis connection. Every
 * message is handed to `onChange`; every (re)connect calls `onReload`, because messages
 * published while we were away are lost.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { CHANGES_CHANNEL, type ChangeNotification } from '@ngcp/db';

export interface ChangeListenerHooks {
  onChange(n: ChangeNotification): void;
  onReload(): void;
}

export class ChangeListener {
  readonly stats = { messages: 0, malformed: 0, reconnects: 0 };
  constructor(private redis: Redis, private logger: Logger, private hooks: ChangeListenerHooks) {}

  async start(): Promise<void> {
    this.redis.on('message', (channel: string, payload: string) => {
      if (channel !== CHANGES_CHANNEL) return;
      let n: ChangeNotification;
      try {
        n = JSON.parse(payload) as ChangeNotification;
        if (typeof n !== 'object' || n === null || typeof n.entity !== 'string') throw new Error('not a ChangeNotification');
      } catch {
        this.stats.malformed++;
        return;
      }
      this.stats.messages++;
      this.hooks.onChange(n);
    });
    this.redis.on('ready', () => {
      this.stats.reconnects++;
      this.logger.info({ component: 'changes' }, 'change subscription (re)established, reloading caches');
      this.hooks.onReload();
    });
    // queued until connected; ioredis re-subscribes by itself after a reconnect
    this.redis.subscribe(CHANGES_CHANNEL).catch((err: Error) => {
      this.logger.warn({ component: 'changes', err: err.message }, 'subscribe failed');
    });
  }

  stop(): void {
    this.redis.disconnect();
  }
}
