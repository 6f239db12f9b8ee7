/** How a command talks to the operator (injected, so tests capture it). */
export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const processIo: Io = {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
};

/** A closed pipe (`ngcp-status | head`) ends the command quietly instead of crashing it. */
export function exitQuietlyOnEpipe(): void {
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
}

/** Exit codes shared by the operator commands. */
export const EXIT = { OK: 0, FAIL: 1, USAGE: 2, INVALID: 3, UNHEALTHY: 4, DIVERGED: 5 } as const;

/** `--flag value`, `--flag=value` and boolean flags, plus positionals. */
export function parseFlags(argv: string[], valued: readonly string[], booleans: readonly string[]): { flags: Record<string, string | true>; rest: string[]; error?: string } {
  const flags: Record<string, string | true> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '--') {
      rest.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (valued.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) return { flags, rest, error: `--${name} needs a value` };
      flags[name] = v;
    } else if (booleans.includes(name) && eq < 0) {
      flags[name] = true;
    } else {
      return { flags, rest, error: `unknown option --${name}` };
    }
  }
  return { flags, rest };
}
