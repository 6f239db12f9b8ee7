/** The package's two entry points: the stack, and the test doubles kept out of it. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as sip from '../src/index.js';
import * as testing from '../src/testing.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { exports: Record<string, Record<string, string>> };

describe('entry points', () => {
  it('@ngcp/sip/testing has the test doubles, @ngcp/sip does not', () => {
    expect(pkg.exports['./testing']).toEqual({ source: './src/testing.ts', types: './dist/testing.d.ts', default: './dist/testing.js' });
    const doubles = ['FakeClock', 'RecordingTransport', 'TestDnsServer', 'sampleRequest', 'sampleResponse', 'parseText', 'summarize', 'silentLogger', 'seededRandom'];
    expect(Object.keys(testing).sort()).toEqual([...doubles].sort());
    expect(doubles.filter((name) => name in sip)).toEqual([]);
  });

  it('@ngcp/sip exports one transport vocabulary', () => {
    expect(sip.defaultPort('TLS')).toBe(5061);
    expect(sip.isReliableTransport('UDP')).toBe(false);
    expect(sip.toTransportName('Tcp')).toBe('tcp');
  });
});
