/** Test helpers: a config dir in a temp dir, made from the shipped defaults. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initConfigDir } from './init.js';

export const DEFAULTS_DIR = resolve(import.meta.dirname, '../../../ngcp-config');
export const TEMPLATES_DIR = join(DEFAULTS_DIR, 'templates');

export interface TempConfig {
  dir: string;
  root: string;
  configDir: string;
  write(file: string, text: string): void;
  cleanup(): void;
}

export function tempConfig(): TempConfig {
  const dir = mkdtempSync(join(tmpdir(), 'ngcp-config-test-'));
  const root = join(dir, 'root');
  const configDir = join(root, 'etc/ngcp-config');
  initConfigDir(DEFAULTS_DIR, configDir);
  return {
    dir,
    root,
    configDir,
    write: (file, text) => writeFileSync(join(configDir, file), text),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
