/**
 * Star codes without an app-server (`appserver.address` ''), and with `vsc.enable` false: the
 * code is still applied (read back through the API) and the caller gets a final response saying
 * so; announcements need an app-server (a busy callee's 486 is relayed as it is); with star codes
 * off a star code is routed as dialled.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { subscriberParties, useHarness } from './harness.js';
import type { Ua } from './ua.js';

const h = useHarness({ appserver: { address: '' }, announcements: { enable: true } });
const started: Ua[] = [];
afterEach(async () => {
  for (const u of started.splice(0)) await u.stop();
});

describe('star codes without an app-server', { timeout: 60_000 }, () => {
  it('*72* → 603 "Call Forward Set" (stored), #72# → 603 "Call Forward Cleared", a malformed one → 484; a busy callee\'s 486 relayed', async () => {
    const { domain, p } = await subscriberParties(h(), ['a', 'b'], { started });
    const set = await p.a!.ua.invite(`sip:*72*${p.b!.number}@${domain}`);
    expect([set.final.status, set.final.reason]).toEqual([603, 'Call Forward Set']);
    expect((await h().api('GET', `/api/callforwards/${p.a!.id}`)).data.cfu.destinations).toEqual([{ type: 'number', destination: p.b!.number }]);
    const cleared = await p.a!.ua.invite(`sip:%2372%23@${domain}`);
    expect([cleared.final.status, cleared.final.reason]).toEqual([603, 'Call Forward Cleared']);
    expect((await h().api('GET', `/api/callforwards/${p.a!.id}`)).data.cfu.destinations).toEqual([]);
    const bad = await p.a!.ua.invite(`sip:*72*x@${domain}`);
    expect([bad.final.status, bad.final.reason]).toEqual([484, 'Invalid Star Code']);

    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    p.b!.ua.answer(await p.b!.ua.next('INVITE'), 486);
    expect((await calling).final.status).toBe(486);
    expect(await h().metrics.getSingleMetricAsString('proxy_announcements_total')).not.toMatch(/name=/);
  });

  it('vsc.enable false: a star code is routed as dialled (404), nothing stored', async () => {
    h().config.vsc = { enable: false, cfu_code: '72', cfb_code: '90', cft_code: '92', cfna_code: '93', clir_code: '31' };
    await h().restartProxy();
    const { domain, p } = await subscriberParties(h(), ['a', 'b'], { started });
    const r = await p.a!.ua.invite(`sip:*72*${p.b!.number}@${domain}`);
    expect(r.final.status).toBe(404);
    expect((await h().api('GET', `/api/callforwards/${p.a!.id}`)).data.cfu.destinations).toEqual([]);
  });
});
