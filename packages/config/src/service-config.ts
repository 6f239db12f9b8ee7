/**
 * For the daemons: read the config file `ngcpcfg build` rendered for them. pm2 starts
 * each daemon with `NGCP_<NAME>_CONFIG=<root>/etc/ngcp/<name>.yml` (e.g.
 * `NGCP_API_CONFIG`); the file is YAML, the result is deep-frozen.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export function serviceConfigEnvVar(name: string): string {
  return `NGCP_${name.toUpperCase()}_CONFIG`;
}

export function loadServiceConfig<T = Record<string, unknown>>(name: string, env: NodeJS.ProcessEnv = process.env): T {
  const v = serviceConfigEnvVar(name);
  const path = env[v];
  if (!path) throw new Error(`${v} is not set (pm2 sets it to the rendered etc/ngcp/${name}.yml)`);
  return freeze(parse(readFileSync(path, 'utf8')) as T);
}

function freeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) freeze(x);
    Object.freeze(v);
  }
  return v;
}
