/**
 * Start/stop timings of the testkit services on this machine:
 *   cd packages/testkit && node --import tsx test/measure.ts [rounds]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMariaDb, startRedis, startRtpengine } from '../src/index.js';

const rounds = Number(process.argv[2] ?? 5);

async function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)] ?? NaN;
  return `median ${med.toFixed(0)} ms, min ${(s[0] ?? NaN).toFixed(0)}, max ${(s[s.length - 1] ?? NaN).toFixed(0)} (n=${s.length})`;
}

const services: [string, () => Promise<{ stop(): Promise<void> }>][] = [
  ['redis', () => startRedis()],
  ['rtpengine', () => startRtpengine()],
  ['mariadb (temp, template copy)', () => startMariaDb()],
  ['mariadb (temp, mariadb-install-db)', () => startMariaDb({ useTemplate: false })],
];

for (const [name, start] of services) {
  const starts: number[] = [];
  const stops: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const [inst, ms] = await time(start);
    starts.push(ms);
    const [, sms] = await time(() => inst.stop());
    stops.push(sms);
  }
  console.log(`${name.padEnd(38)} start ${stats(starts)} | stop ${stats(stops)}`);
}

// durable dataDir (ngcp up style): first start initialises, second reuses
const base = mkdtempSync(join(tmpdir(), 'testkit-measure-'));
try {
  const [a, first] = await time(() => startMariaDb({ dataDir: base }));
  const [, stopA] = await time(() => a.stop());
  const [b, second] = await time(() => startMariaDb({ dataDir: base }));
  const [, stopB] = await time(() => b.stop());
  console.log(
    `mariadb (dataDir, durable)             first start ${first.toFixed(0)} ms (init), restart ${second.toFixed(0)} ms | stop ${stopA.toFixed(0)} / ${stopB.toFixed(0)} ms`,
  );
} finally {
  rmSync(base, { recursive: true, force: true });
}
