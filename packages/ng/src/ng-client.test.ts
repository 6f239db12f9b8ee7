/** What NgClient refuses before anything is sent (the protocol itself is tested against a real rtpengine in test/ng). */
import { describe, expect, it } from 'vitest';
import { NgClient } from './ng-client.js';
import { NgError } from './ng-error.js';

describe('NgClient', () => {
  it('takes an IPv4 address, not a name or IPv6 (rtpengine-client 0.4 is udp4 only)', () => {
    expect(() => new NgClient({ host: 'localhost', port: 2223 })).toThrow(/must be an IP address/);
    expect(() => new NgClient({ host: '::1', port: 2223 })).toThrow(/IPv4 only/);
  });

  it('refuses a command rtpengine-client cannot send, and any after close()', async () => {
    const ng = new NgClient({ host: '127.0.0.1', port: 9 });
    await expect(ng.request('frobnicate')).rejects.toThrow(TypeError);
    await ng.close();
    await ng.close(); // idempotent
    const err = await ng.offer({ 'call-id': 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NgError);
    expect(err).toMatchObject({ code: 'socket', command: 'offer' });
  });
});
