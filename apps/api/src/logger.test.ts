import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChildLogger } from './logger.js';

describe('lazyChildLogger', () => {
  it('makes the child on the first line, with its bindings and level, and not before', () => {
    const lines: string[] = [];
    const parent = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    let made = 0;
    const child = parent.child.bind(parent);
    parent.child = ((b: Record<string, unknown>, o?: Record<string, unknown>) => (made++, child(b, o))) as typeof parent.child;
    const quiet = lazyChildLogger(parent, { reqId: 'r1' }, { level: 'warn' });
    expect(quiet.level).toBe('warn');
    expect(made).toBe(0);
    quiet.info('dropped'); // below the child's level, but the child now exists
    quiet.warn({ x: 1 }, 'kept');
    expect(made).toBe(1);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ reqId: 'r1', x: 1, msg: 'kept', level: 40 });
  });
});
