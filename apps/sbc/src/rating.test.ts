import { describe, expect, it } from 'vitest';
import { checkSbcConfig, prepaidSettings, resolveProfiles, sbcDefaults, type SbcConfig } from './config.js';
import { sweepEveryMs } from './prepaid.js';
import { billedSeconds, calleeNumber, chargeOf, costOf, findFee, nextGrant, prefixesOf, secondsFor, strandedCharge, talkSeconds, type Fee } from './rating.js';

const perMinute: Fee = { destination: '', price: 1200, first: 60, next: 60 }; // 0.12/min billed by the minute
const perSecond: Fee = { destination: '49', price: 600, first: 1, next: 1 }; // 10 units a second
const thirtySix: Fee = { destination: '43', price: 100, first: 30, next: 6 };

describe('fee lookup', () => {
  it('takes the digits of the Request-URI user, a leading + dropped; anything else is no number', () => {
    expect(calleeNumber('+4930123')).toBe('4930123');
    expect(calleeNumber('4930123')).toBe('4930123');
    expect(calleeNumber('bob')).toBe('');
    expect(calleeNumber('49-30')).toBe('');
    expect(calleeNumber(undefined)).toBe('');
  });

  it('lists the candidate prefixes longest first', () => {
    expect(prefixesOf('493')).toEqual(['493', '49', '4', '']);
  });

  it('picks the longest matching prefix, else the any-destination fee, else none', () => {
    const fees: Fee[] = [perMinute, perSecond, { ...perSecond, destination: '4930', price: 300 }, thirtySix];
    expect(findFee(fees, '4930555')?.price).toBe(300);
    expect(findFee(fees, '4940555')?.price).toBe(600);
    expect(findFee(fees, '4312')).toBe(thirtySix);
    expect(findFee(fees, '1555')).toBe(perMinute);
    expect(findFee(fees, '')).toBe(perMinute);
    expect(findFee([perSecond], '1555')).toBeNull();
    expect(findFee([perSecond], '')).toBeNull();
  });
});

describe('cost of a duration', () => {
  it('bills the first interval, then every begun next interval', () => {
    expect([0, 1, 59, 60, 61, 120, 121].map((s) => billedSeconds(s, perMinute))).toEqual([0, 60, 60, 60, 120, 120, 180]);
    expect([0, 1, 2, 3].map((s) => billedSeconds(s, perSecond))).toEqual([0, 1, 2, 3]);
    expect([1, 30, 31, 36, 37].map((s) => billedSeconds(s, thirtySix))).toEqual([30, 30, 36, 36, 42]);
  });

  it('prices the billed seconds per minute, rounded up to a unit', () => {
    expect(costOf(0, perMinute)).toBe(0);
    expect(costOf(61, perMinute)).toBe(2400);
    expect(costOf(2, perSecond)).toBe(20);
    // 31 s → 36 s billed at 100/min = 60 units exactly; 37 s → 42 s = 70
    expect(costOf(31, thirtySix)).toBe(60);
    expect(costOf(37, thirtySix)).toBe(70);
    // 1 s at 1 unit a minute costs a whole unit
    expect(costOf(1, { destination: '', price: 1, first: 1, next: 1 })).toBe(1);
  });

  it('a call is charged its rounded talk time, never more than it held', () => {
    expect(talkSeconds(1000, 3049)).toBe(2);
    expect(talkSeconds(1000, 3500)).toBe(3);
    expect(talkSeconds(5000, 1000)).toBe(0);
    expect(chargeOf(2, perSecond, 50)).toBe(20);
    expect(chargeOf(4, perSecond, 30)).toBe(30);
  });
});

describe('what an amount buys', () => {
  it('whole intervals whose cost fits the amount', () => {
    expect(secondsFor(30, perSecond)).toBe(3);
    expect(secondsFor(39, perSecond)).toBe(3);
    expect(secondsFor(9, perSecond)).toBe(0);
    expect(secondsFor(1199, perMinute)).toBe(0);
    expect(secondsFor(3599, perMinute)).toBe(120);
    expect(secondsFor(69, thirtySix)).toBe(36);
    expect(secondsFor(0, { ...perSecond, price: 0 })).toBe(Number.POSITIVE_INFINITY);
    // never less than what a cost paid for
    for (const s of [1, 30, 31, 59, 60, 61, 3601]) for (const f of [perMinute, perSecond, thirtySix]) expect(secondsFor(costOf(s, f), f)).toBeGreaterThanOrEqual(billedSeconds(s, f));
  });
});

describe('quotas', () => {
  it('the first quota: quota_s worth, at least the first interval; less when the balance has less; none below one interval', () => {
    expect(nextGrant(perSecond, 300, 0, 0, 1_000_000)).toEqual({ seconds: 300, held: 3000, extra: 3000 });
    expect(nextGrant(perMinute, 30, 0, 0, 1_000_000)).toEqual({ seconds: 60, held: 1200, extra: 1200 });
    expect(nextGrant(perSecond, 300, 0, 0, 35)).toEqual({ seconds: 3, held: 30, extra: 30 });
    expect(nextGrant(perSecond, 300, 0, 0, 9)).toBeNull();
    expect(nextGrant(perMinute, 300, 0, 0, 1199)).toBeNull();
    expect(nextGrant(perSecond, 300, 0, 0, -50)).toBeNull();
  });

  it('the next quota adds quota_s; near the end only what remains; nothing left is null (cut)', () => {
    expect(nextGrant(perSecond, 2, 2, 20, 100)).toEqual({ seconds: 4, held: 40, extra: 20 });
    expect(nextGrant(perSecond, 2, 2, 20, 10)).toEqual({ seconds: 3, held: 30, extra: 10 });
    expect(nextGrant(perSecond, 2, 3, 30, 0)).toBeNull();
    expect(nextGrant(perMinute, 60, 60, 1200, 1199)).toBeNull();
    // a rounding remainder already held pays on: 1 s at 1 unit/min held 1 unit, which lasts 60 s
    const cheap: Fee = { destination: '', price: 1, first: 1, next: 1 };
    expect(nextGrant(cheap, 1, 1, 1, 0)).toEqual({ seconds: 2, held: 1, extra: 0 });
    expect(nextGrant(cheap, 1, 59, 1, 0)).toEqual({ seconds: 60, held: 1, extra: 0 });
    expect(nextGrant(cheap, 1, 60, 1, 0)).toBeNull();
  });

  it('free destinations are never cut', () => {
    const free: Fee = { destination: '800', price: 0, first: 60, next: 60 };
    expect(nextGrant(free, 300, 0, 0, 0)).toEqual({ seconds: 300, held: 0, extra: 0 });
    expect(nextGrant(free, 300, 300, 0, -10)).toEqual({ seconds: 600, held: 0, extra: 0 });
  });
});

describe('prepaid config', () => {
  const db = { host: '127.0.0.1', port: 3306, user: 'ngcp', password: 'pw', database: 'ngcp' };
  const cfg = (over: Partial<SbcConfig>): SbcConfig => ({ ...sbcDefaults, proxy: '127.0.0.1:5062', ...over } as unknown as SbcConfig);

  it('on by default when the database is configured, with a 300 s quota and a 3600 s sweep grace; off without it or when disabled', () => {
    expect(prepaidSettings(cfg({ db }))).toEqual({ enabled: true, quotaS: 300, staleAfterS: 3600 });
    expect(prepaidSettings(cfg({ db, prepaid: { quota_s: 60, stale_after_s: 120 } }))).toEqual({ enabled: true, quotaS: 60, staleAfterS: 120 });
    expect(prepaidSettings(cfg({ db, prepaid: { enable: false } })).enabled).toBe(false);
    expect(prepaidSettings(cfg({})).enabled).toBe(false);
  });

  it('per profile: on unless the profile says prepaid: false', () => {
    const p = resolveProfiles(cfg({ profiles: { default: {}, emergency: { prepaid: false } } }));
    expect(p.get('default')!.prepaid).toBe(true);
    expect(p.get('emergency')!.prepaid).toBe(false);
  });

  it('refuses prepaid.enable: true without a database, naming the key', () => {
    expect(checkSbcConfig(cfg({ prepaid: { enable: true } }))).toEqual([{ path: 'prepaid.enable', message: 'prepaid needs the database (db)' }]);
    expect(checkSbcConfig(cfg({ db, prepaid: { enable: true } }))).toEqual([]);
  });
});

describe('a stranded reservation (the sweep)', () => {
  it('is looked for every quarter of the grace period, between 1 s and 60 s', () => {
    expect(sweepEveryMs(3600)).toBe(60_000);
    expect(sweepEveryMs(120)).toBe(30_000);
    expect(sweepEveryMs(3)).toBe(1000);
  });

  const t0 = 1_700_000_000_000;
  it('charges a never answered call nothing, whatever it held', () => {
    expect(strandedCharge({ fee: perSecond, granted: 300, held: 3000, answeredAt: null, updatedAt: t0 + 60_000 })).toEqual({ seconds: 0, amount: 0 });
  });

  it('charges an answered call from the answer to the last quota granted, rated with its fee', () => {
    // answered at t0, the second quota granted 300.2 s later: 300 s proven, 10 units a second
    expect(strandedCharge({ fee: perSecond, granted: 600, held: 6000, answeredAt: t0, updatedAt: t0 + 300_200 })).toEqual({ seconds: 300, amount: 3000 });
    // by the minute: 61 s cost two minutes
    expect(strandedCharge({ fee: perMinute, granted: 120, held: 240, answeredAt: t0, updatedAt: t0 + 61_000 })).toEqual({ seconds: 61, amount: 240 });
  });

  it('charges nothing for a call lost within its first quota (only its answer was seen)', () => {
    expect(strandedCharge({ fee: perSecond, granted: 300, held: 3000, answeredAt: t0, updatedAt: t0 })).toEqual({ seconds: 0, amount: 0 });
  });

  it('never charges more than granted nor than held', () => {
    expect(strandedCharge({ fee: perSecond, granted: 5, held: 50, answeredAt: t0, updatedAt: t0 + 9_000 })).toEqual({ seconds: 5, amount: 50 });
    expect(strandedCharge({ fee: perSecond, granted: 10, held: 30, answeredAt: t0, updatedAt: t0 + 9_000 })).toEqual({ seconds: 9, amount: 30 });
  });
});
