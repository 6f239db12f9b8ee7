/**
 * `ngcp sip-lint [--transport udp|tcp|tls] [--role lb|uas] FILE` — what the
 * load-balancer's parser and sanity checks decide about one captured message.
 * Uses `inspect()` of @ngcp/sip, the function the LB's transport edge runs.
 */
import { readFileSync } from 'node:fs';
import type { InspectOptions, TransportName } from '@ngcp/sip';
import { inspect } from '@ngcp/sip';

export interface LintOutput {
  action: 'accept' | 'reject' | 'drop';
  status: number | null;
  reason: string;
  method?: string;
  statusCode?: number;
}

export const USAGE = 'usage: ngcp sip-lint [--transport udp|tcp|tls] [--role lb|uas] FILE   (FILE may be - for stdin)';

export function lint(bytes: Buffer, opts: InspectOptions): LintOutput {
  const v = inspect(bytes, opts);
  const out: LintOutput = { action: v.action, status: v.action === 'reject' ? v.status : null, reason: v.reason };
  const m = v.message;
  if (m) {
    if (m.kind === 'request') out.method = m.method;
    else if (Number.isFinite(m.status)) out.statusCode = m.status;
  }
  return out;
}

export type ParsedArgs = { ok: true; file: string; opts: InspectOptions } | { ok: false; error: string };

export function parseArgs(argv: string[]): ParsedArgs {
  let transport: TransportName = 'udp';
  let role: 'lb' | 'uas' = 'lb';
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag === '--transport' || flag === '-t') {
      const v = inline ?? argv[++i];
      if (v !== 'udp' && v !== 'tcp' && v !== 'tls') return { ok: false, error: `--transport must be udp, tcp or tls (got ${v ?? 'nothing'})` };
      transport = v;
    } else if (flag === '--role') {
      const v = inline ?? argv[++i];
      if (v !== 'lb' && v !== 'uas') return { ok: false, error: `--role must be lb or uas (got ${v ?? 'nothing'})` };
      role = v;
    } else if (flag === '-h' || flag === '--help') {
      return { ok: false, error: USAGE };
    } else if (a.startsWith('-') && a !== '-') {
      return { ok: false, error: `unknown option ${a}` };
    } else if (file === undefined) {
      file = a;
    } else {
      return { ok: false, error: 'only one FILE may be given' };
    }
  }
  if (file === undefined) return { ok: false, error: 'missing FILE' };
  return { ok: true, file, opts: { transport, role } };
}

/** Runs the command; returns the exit code (0 accept, 1 reject/drop, 2 bad arguments). */
export function main(argv: string[], io: { out: (s: string) => void; err: (s: string) => void }): number {
  const args = parseArgs(argv);
  if (!args.ok) {
    io.err(args.error === USAGE ? USAGE : `sip-lint: ${args.error}\n${USAGE}`);
    return 2;
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(args.file === '-' ? 0 : args.file);
  } catch (e) {
    io.err(`sip-lint: cannot read ${args.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return 2;
  }
  const out = lint(bytes, args.opts);
  io.out(JSON.stringify(out));
  return out.action === 'accept' ? 0 : 1;
}
