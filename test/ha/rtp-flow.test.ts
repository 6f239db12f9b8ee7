/** rtpGap: the silence around a fault, from arrival times alone. */
import { describe, expect, it } from 'vitest';
import { rtpGap } from './rtp-flow.js';

const every20 = (from: number, to: number): number[] => Array.from({ length: Math.floor((to - from) / 20) }, (_, i) => from + i * 20);

describe('rtpGap', () => {
  it('packets in flight just after the fault, then a silence, then RTP again: the silence is the gap, resume is fault → first packet after it', () => {
    const arrivals = [...every20(0, 1000), 1005, 1010, ...every20(1430, 3000)];
    expect(rtpGap(arrivals, 1000, 3000)).toEqual({ before: 50, after: 2 + 78, resumed: true, gapMs: 420, resumeMs: 430 });
  });
  it('silent to the end: not resumed, the gap runs to the end of the measurement', () => {
    expect(rtpGap(every20(0, 1000), 1000, 4000)).toMatchObject({ resumed: false, resumeMs: null, gapMs: 3020 });
  });
  it('no gap at all (the fault did not touch this stream): the longest pause is one packet interval', () => {
    expect(rtpGap(every20(0, 3000), 1000, 3000)).toMatchObject({ resumed: true, gapMs: 20, resumeMs: 0 });
  });
});
