import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DnsClient } from './dns-client.js';
import { loadResolvConf, parseResolvConf, parseServer } from './resolv-conf.js';
import { TestDnsServer } from './test-dns-server.js';

describe('resolv.conf', () => {
  it('parses server specs', () => {
    expect(parseServer('10.0.0.1')).toEqual({ host: '10.0.0.1', port: 53, family: 4 });
    expect(parseServer('10.0.0.1:5353')).toEqual({ host: '10.0.0.1', port: 5353, family: 4 });
    expect(parseServer('::1')).toEqual({ host: '::1', port: 53, family: 6 });
    expect(parseServer('[2001:db8::53]:5300')).toEqual({ host: '2001:db8::53', port: 5300, family: 6 });
    expect(() => parseServer('ns.example.com')).toThrow(/numeric/);
    expect(() => parseServer('10.0.0.1:0')).toThrow(/port/);
  });

  it('reads nameserver lines and options, skipping junk', () => {
    const conf = parseResolvConf(
      ['# comment', 'search example.com', 'nameserver 10.255.255.53', 'nameserver   ::1  # v6', 'nameserver bogus', 'options ndots:2 timeout:3 attempts:4', ''].join('\n'),
    );
    expect(conf.servers.map((s) => s.host)).toEqual(['10.255.255.53', '::1']);
    expect(conf.timeoutSeconds).toBe(3);
    expect(conf.attempts).toBe(4);
  });

  it('defaults to 127.0.0.1:53 when the file is missing', async () => {
    const conf = await loadResolvConf('/nonexistent/resolv.conf');
    expect(conf.servers).toEqual([{ host: '127.0.0.1', port: 53, family: 4 }]);
  });

  it('is the default server source of DnsClient', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sip-dns-'));
    const srv = await TestDnsServer.start({ zone: [{ name: 'x.test', type: 'A', data: '192.0.2.9' }] });
    try {
      const path = join(dir, 'resolv.conf');
      await writeFile(path, `nameserver 127.0.0.1:${srv.port}\noptions timeout:1 attempts:1\n`);
      const c = new DnsClient({ resolvConfPath: path });
      expect(await c.servers()).toEqual([srv.address]);
      expect((await c.query('x.test', 'A')).records[0]?.address).toBe('192.0.2.9');
    } finally {
      await srv.close();
      await rm(dir, { recursive: true });
    }
  });
});
