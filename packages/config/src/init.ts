/**
 * A node's config dir on first use: a copy of the shipped defaults (config.yml,
 * network.yml, constants.yml), with every `@generate` placeholder replaced by a
 * random secret (comments and layout kept).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPair, isScalar, parseDocument, visit } from 'yaml';

export const GENERATE = '@generate';

export function generateSecret(): string {
  return randomBytes(18).toString('base64url');
}

/** Replaces `@generate` values in a YAML text; returns the text and how many were replaced. */
export function fillSecrets(text: string, gen: () => string = generateSecret): { text: string; count: number } {
  const doc = parseDocument(text);
  let count = 0;
  visit(doc, {
    Scalar(_key, node) {
      if (isScalar(node) && node.value === GENERATE) {
        node.value = gen();
        count++;
      }
    },
  });
  return { text: count ? doc.toString() : text, count };
}

/**
 * Creates `configDir` from `defaultsDir` if it has no config.yml yet (the *.yml files
 * only; templates stay shipped). Fills secrets in constants.yml. Returns true when it
 * created the dir.
 */
export function initConfigDir(defaultsDir: string, configDir: string): boolean {
  if (existsSync(join(configDir, 'config.yml'))) return false;
  mkdirSync(configDir, { recursive: true });
  for (const f of readdirSync(defaultsDir)) {
    if (f.endsWith('.yml') && !existsSync(join(configDir, f))) copyFileSync(join(defaultsDir, f), join(configDir, f));
  }
  const constants = join(configDir, SECRETS_FILE);
  if (existsSync(constants)) {
    chmodSync(constants, 0o600); // before the secrets are in it
    const r = fillSecrets(readFileSync(constants, 'utf8'));
    if (r.count) writeFileSync(constants, r.text);
  }
  return true;
}

/** The config file holding the generated secrets (readable by root only). */
export const SECRETS_FILE = 'constants.yml';

/**
 * Makes `<configDir>/constants.yml` readable by its owner only (0600), whatever wrote it
 * (a copy, `git clone`, a checkout by rollback or pull). Returns true when it changed the
 * mode, false when it already was private or the file does not exist.
 */
export function protectSecrets(configDir: string): boolean {
  const file = join(configDir, SECRETS_FILE);
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return false;
  }
  if ((mode & 0o077) === 0) return false;
  chmodSync(file, mode & 0o700);
  return true;
}

/**
 * Secrets that a newer release ships as `@generate` in its defaults' constants.yml and
 * an existing config dir does not have yet (e.g. `credentials.replication_password`):
 * generated into `<configDir>/constants.yml` (comments kept, 0600). Returns the key
 * paths added. On a pair, add them on one node and `ngcpcfg push` (both need the same).
 */
export function addMissingSecrets(defaultsDir: string, configDir: string, gen: () => string = generateSecret): string[] {
  const file = join(configDir, SECRETS_FILE);
  const shipped = join(defaultsDir, SECRETS_FILE);
  if (!existsSync(file) || !existsSync(shipped)) return [];
  const want: string[][] = [];
  visit(parseDocument(readFileSync(shipped, 'utf8')), {
    Pair(_k, pair, path) {
      if (isScalar(pair.value) && pair.value.value === GENERATE && isScalar(pair.key)) {
        const keys = path.filter(isPair).map((n) => String(isScalar(n.key) ? n.key.value : n.key));
        want.push([...keys, String(pair.key.value)]);
      }
    },
  });
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const added: string[] = [];
  for (const k of want) {
    if (doc.hasIn(k)) continue;
    doc.setIn(k, gen());
    added.push(k.join('.'));
  }
  if (added.length) {
    chmodSync(file, 0o600);
    writeFileSync(file, doc.toString(), { mode: 0o600 });
  }
  return added;
}
