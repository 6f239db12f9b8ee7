import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allocatePortRange, freeConsecutivePorts, freePort, releasePort } from './index.js';

const lockFile = (name: string): string => join(tmpdir(), 'ngcp-testkit-ports', name);

function bindTcp(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}
function bindUdp(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}

describe('freePort', () => {
  it('hands out distinct, bindable, locked ports below the ephemeral range', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort({ tcp: true, udp: true })));
    expect(new Set(ports).size).toBe(ports.length);
    for (const p of ports) {
      expect(p).toBeGreaterThan(20000);
      expect(p).toBeLessThan(32768);
      expect(existsSync(lockFile(String(p)))).toBe(true);
      await bindTcp(p);
      await bindUdp(p);
      releasePort(p);
      expect(existsSync(lockFile(String(p)))).toBe(false);
    }
  });

  it('hands out blocks of consecutive ports (one per worker), each locked, none shared with freePort', async () => {
    const first = await freeConsecutivePorts(3, { tcp: true, udp: true });
    const single = await freePort({ tcp: true, udp: true });
    expect([first, first + 1, first + 2]).not.toContain(single);
    for (let p = first; p < first + 3; p++) {
      expect(existsSync(lockFile(String(p)))).toBe(true);
      await bindTcp(p);
      await bindUdp(p);
      releasePort(p);
    }
    releasePort(single);
    await expect(freeConsecutivePorts(0)).rejects.toThrow(/1\.\.64/);
  });

  it('allocates private media port blocks', async () => {
    const a = await allocatePortRange(100);
    const b = await allocatePortRange(250);
    expect(a.max - a.min + 1).toBe(100);
    expect(b.max - b.min + 1).toBe(300);
    expect(a.max < b.min || b.max < a.min).toBe(true);
    a.release();
    b.release();
  });
});
