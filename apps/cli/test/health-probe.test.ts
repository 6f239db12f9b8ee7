/**
 * The supervisor's `jsonrpc` health check (what `ngcpcfg apply`, `ngcp-service` and `ngcp
 * up` wait for) against a real daemon control endpoint from @ngcp/daemon, at the URL the
 * service definitions give it.
 */
import { commonSchemas, createDaemonLogger, resolveDaemonConfig, startDaemon, type ControlConfig, type DaemonDefinition, type JSONSchemaType } from '@ngcp/daemon';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { probe } from '../src/commands/lib/health.js';

interface ProbeConfig {
  control: ControlConfig;
}
const schema: JSONSchemaType<ProbeConfig> = { type: 'object', properties: { control: commonSchemas.control }, required: ['control'], additionalProperties: false };

describe('jsonrpc health check against a daemon control endpoint', () => {
  it('is healthy while the daemon reports ok, unhealthy with its reason when not, and down after stop', async () => {
    let ok = true;
    const def: DaemonDefinition<ProbeConfig> = {
      name: 'probe',
      schema,
      control: (c) => c.control,
      build: () => ({ start: async () => {}, stop: async () => {}, health: () => (ok ? { ok } : { ok, reason: 'redis down' }) }),
    };
    const logger = createDaemonLogger('probe', 'info', { destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    const running = await startDaemon(def, resolveDaemonConfig(def, { control: { address: '127.0.0.1', port: 0 } }), { logger });
    // the URL form of serviceSpecs(): http://<internal address>:<control_port>/
    const url = `http://127.0.0.1:${running.control.port}/`;
    try {
      expect(await probe({ kind: 'jsonrpc', url })).toEqual({ ok: true });
      ok = false;
      expect(await probe({ kind: 'jsonrpc', url })).toEqual({ ok: false, reason: 'health: probe is unhealthy' });
    } finally {
      await running.stop();
    }
    expect(await probe({ kind: 'jsonrpc', url })).toMatchObject({ ok: false, reason: expect.stringMatching(/ECONN(REFUSED|RESET)/) }); // RESET: the global agent kept the last connection alive
  });
});
