import { describe, expect, it } from 'vitest';
import { DestinationSet } from './destinations.js';

function set() {
  const changes: string[] = [];
  const s = new DestinationSet([{ address: '127.0.0.2', port: 5062, weight: 1 }, { address: '127.0.0.3', port: 5062, weight: 2 }], 'round-robin', 2, (d) => changes.push(`${d.id}:${d.up ? 'up' : 'down'}`));
  return { s, changes, a: s.list[0]!, b: s.list[1]! };
}

describe('destination state', () => {
  it('goes down after `failures` misses and up on the next answer', () => {
    const { s, changes, a } = set();
    s.miss(a);
    expect(a.up).toBe(true);
    s.miss(a);
    expect(a.up).toBe(false);
    s.probed(a, 404, 1000, 3);
    expect(a.up).toBe(true);
    expect(a.lastProbe).toEqual({ at: 1000, status: 404, rttMs: 3 });
    expect(changes).toEqual(['127.0.0.2:5062:down', '127.0.0.2:5062:up']);
  });

  it('an answer resets the miss count', () => {
    const { s, a } = set();
    s.miss(a);
    s.answered(a);
    s.miss(a);
    expect(a.up).toBe(true);
  });

  it('set down by hand stays down through answers until set up by hand', () => {
    const { s, a } = set();
    s.setByHand(a, false);
    s.probed(a, 200, 1, 1);
    expect(a.up).toBe(false);
    expect(s.view()[0]).toMatchObject({ destination: '127.0.0.2:5062', state: 'down', admin_down: true });
    s.setByHand(a, true);
    expect(a.up).toBe(true);
  });

  it('orders only destinations that are up', () => {
    const { s, a, b } = set();
    s.setByHand(a, false);
    expect(s.order({} as never).map((d) => d.id)).toEqual([b.id]);
    expect(s.find('127.0.0.3', 5062)).toBe(b);
    expect(s.find('127.0.0.3', 5060)).toBeUndefined();
  });
});
