/**
 * Loads a node's configuration: the YAML files of the config dir, layered in the
 * documented precedence (lowest first)
 *
 *   config.yml, network.yml  <  config.pair.<pair>.yml  <  config.node.<node>.yml  <  constants.yml
 *
 * (maps merge key by key, lists and scalars replace), checked file by file against the
 * schema, then merged and checked whole, then checked for meaning (addresses, peers,
 * port clashes). Every problem names the file, the key path and the line; nothing is
 * returned unless all is well. The result is deep-frozen.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { ConfigError, type ConfigIssue } from './errors.js';
import { formatKeyPath, isPlainObject, type KeyPath } from './keypath.js';
import { createConfigAjv, deepFreeze, schemaIssues as validate } from './schema-issues.js';
import { interfaceOfType } from './network.js';
import { listeners, portClashes } from './ports.js';
import { configSchema, INTERFACE_TYPES, partialSchema, type NgcpConfig } from './schema.js';
import { readYamlFile, type YamlSource } from './yaml-source.js';

export const BASE_FILES = ['config.yml', 'network.yml', 'constants.yml'] as const;
export const pairOverlay = (pair: string): string => `config.pair.${pair}.yml`;
export const nodeOverlay = (node: string): string => `config.node.${node}.yml`;

/** Top-level keys a file may hold (network.yml holds the hosts, config.yml everything else). */
const TOP_KEYS: Record<string, (k: string) => boolean> = {
  'config.yml': (k) => k !== 'hosts',
  'network.yml': (k) => k === 'hosts',
};

export interface Origin {
  file: string;
  line?: number;
}

export interface LoadedConfig {
  config: Readonly<NgcpConfig>;
  node: string;
  /** The files used, lowest precedence first. */
  files: string[];
  /** Which file (and line) gave the value at a key path (or its nearest ancestor). */
  origin(path: KeyPath): Origin | undefined;
}

let validators: { full: ValidateFunction; partial: ValidateFunction } | undefined;

function getValidators(): { full: ValidateFunction; partial: ValidateFunction } {
  if (!validators) {
    const ajv = createConfigAjv();
    validators = { full: ajv.compile(configSchema), partial: ajv.compile(partialSchema() as object) };
  }
  return validators;
}

/** Deep merge, b over a: maps merge, everything else replaces. */
export function mergeLayers(a: unknown, b: unknown): unknown {
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? mergeLayers(out[k], v) : v;
    return out;
  }
  return b;
}

export interface LoadOptions {
  /** The config dir (on an appliance /etc/ngcp-config). */
  configDir: string;
  /** This node's name: a host of network.yml (`self`, `sp1`, `sp2`). */
  node: string;
}

export function loadConfig(opts: LoadOptions): LoadedConfig {
  const { configDir, node } = opts;
  const issues: ConfigIssue[] = [];
  const sources = new Map<string, YamlSource>();
  const read = (file: string, required: boolean): void => {
    const path = join(configDir, file);
    if (!required && !existsSync(path)) return;
    if (required && !existsSync(path)) {
      issues.push({ file, path: '', message: 'missing file' });
      return;
    }
    const r = readYamlFile(path, file);
    if (r.ok) sources.set(file, r.source);
    else issues.push(...r.issues);
  };
  for (const f of BASE_FILES) read(f, true);
  if (issues.length) throw new ConfigError('CONFIG_INVALID', issues);

  // which overlays apply depends on this node's entry in network.yml
  const hosts = sources.get('network.yml')!.data.hosts;
  const hostEntry = isPlainObject(hosts) ? hosts[node] : undefined;
  if (!isPlainObject(hostEntry)) {
    const known = isPlainObject(hosts) ? Object.keys(hosts).join(', ') : 'none';
    const loc = sources.get('network.yml')!.locate(['hosts']);
    throw new ConfigError('CONFIG_NODE_UNKNOWN', [
      { file: 'network.yml', line: loc?.line, path: `hosts.${node}`, message: `this node ('${node}') is not a host here (hosts: ${known})` },
    ]);
  }
  const pair = typeof hostEntry.pair === 'string' ? hostEntry.pair : null;
  const order = ['config.yml', 'network.yml'];
  if (pair) {
    read(pairOverlay(pair), false);
    if (sources.has(pairOverlay(pair))) order.push(pairOverlay(pair));
  }
  read(nodeOverlay(node), false);
  if (sources.has(nodeOverlay(node))) order.push(nodeOverlay(node));
  order.push('constants.yml');
  if (issues.length) throw new ConfigError('CONFIG_INVALID', issues);

  // 1. each file on its own: unknown keys, wrong types, bad addresses — with its line
  const v = getValidators();
  for (const file of order) {
    const src = sources.get(file)!;
    const allowed = TOP_KEYS[file];
    if (allowed) {
      for (const k of Object.keys(src.data)) {
        if (!allowed(k)) {
          const loc = src.locate([k]);
          issues.push({ file, line: loc?.line, col: loc?.col, path: k, message: file === 'network.yml' ? 'only `hosts` belongs in network.yml' : 'belongs in network.yml' });
        }
      }
    }
    issues.push(
      ...validate(v.partial, src.data, (path, message) => {
        const loc = src.locate(path);
        return { file, line: loc?.line, col: loc?.col, path: formatKeyPath(path), message };
      }),
    );
  }
  if (issues.length) throw new ConfigError('CONFIG_INVALID', issues);

  // 2. merge, remembering where each value came from
  let merged: unknown = {};
  const prov = new Map<string, YamlSource>();
  const record = (src: YamlSource, value: unknown, path: KeyPath): void => {
    prov.set(formatKeyPath(path), src);
    if (Array.isArray(value)) value.forEach((x, i) => record(src, x, [...path, i]));
    else if (isPlainObject(value)) for (const [k, x] of Object.entries(value)) record(src, x, [...path, k]);
  };
  for (const file of order) {
    const src = sources.get(file)!;
    merged = mergeLayers(merged, src.data);
    record(src, src.data, []);
  }
  const origin = (path: KeyPath): Origin | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const src = prov.get(formatKeyPath(path.slice(0, n)));
      if (src && n > 0) return { file: src.file, line: src.locate(path)?.line };
    }
    return undefined;
  };
  const at = (path: KeyPath, message: string): ConfigIssue => {
    const o = origin(path);
    return { file: o?.file ?? order.join(' + '), line: o?.line, path: formatKeyPath(path), message };
  };

  // 3. the merged tree: everything present
  issues.push(...validate(v.full, merged, at));
  if (issues.length) throw new ConfigError('CONFIG_INVALID', issues);
  const cfg = merged as NgcpConfig;

  // 4. meaning
  const rank = (key: string): number => order.indexOf(origin(key.split('.'))?.file ?? '');
  const describeOrigin = (key: string): string => {
    const o = origin(key.split('.'));
    return o ? `${o.file}${o.line !== undefined ? `:${o.line}` : ''}` : '?';
  };
  issues.push(...semanticIssues(cfg, at, rank, describeOrigin));
  if (issues.length) throw new ConfigError('CONFIG_INVALID', issues);

  return { config: deepFreeze(cfg), node, files: order, origin };
}

function semanticIssues(
  cfg: NgcpConfig,
  at: (path: KeyPath, message: string) => ConfigIssue,
  rank: (key: string) => number,
  originOf: (key: string) => string,
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const [name, host] of Object.entries(cfg.hosts)) {
    const hp = ['hosts', name];
    if (host.peer !== null) {
      const peer = cfg.hosts[host.peer];
      if (host.peer === name) out.push(at([...hp, 'peer'], 'a host cannot be its own peer'));
      else if (!peer) out.push(at([...hp, 'peer'], `no host '${host.peer}' in network.yml`));
      else if (peer.peer !== name) out.push(at([...hp, 'peer'], `'${host.peer}' must name '${name}' as its peer`));
      else if (peer.pair !== host.pair) out.push(at([...hp, 'pair'], `must be the same as ${host.peer}'s pair`));
      if (host.pair === null) out.push(at([...hp, 'pair'], 'a host with a peer must name its pair'));
    }
    for (const t of INTERFACE_TYPES) {
      const withType = Object.entries(host.interfaces).filter(([, i]) => i.type.includes(t));
      const needed = t !== 'ha_int' || host.peer !== null;
      if (withType.length === 0 && needed) out.push(at([...hp, 'interfaces'], `no interface has type ${t}`));
      if (withType.length > 1) out.push(at([...hp, 'interfaces', withType[1]![0], 'type'], `type ${t} is already on interface ${withType[0]![0]}`));
    }
    const ha = interfaceOfType(host, 'ha_int');
    if (host.peer === null && Object.values(host.interfaces).some((i) => i.shared_ip.length > 0)) {
      out.push(at([...hp, 'interfaces'], 'shared_ip needs a pair (peer is null)'));
    }
    if (ha && ha[1].shared_ip.length > 0) out.push(at([...hp, 'interfaces', ha[0], 'shared_ip'], 'the crosslink carries no shared IP'));
  }
  const range = (lo: string[], hi: string[], a: number, b: number): void => {
    if (a > b) out.push(at(hi, `must not be below ${formatKeyPath(lo)} (${b} < ${a})`));
  };
  range(['rtpproxy', 'minport'], ['rtpproxy', 'maxport'], cfg.rtpproxy.minport, cfg.rtpproxy.maxport);
  range(['appserver', 'rtp_min'], ['appserver', 'rtp_max'], cfg.appserver.rtp_min, cfg.appserver.rtp_max);
  range(['proxy', 'min_expires'], ['proxy', 'default_expires'], cfg.proxy.min_expires, cfg.proxy.default_expires);
  range(['proxy', 'default_expires'], ['proxy', 'max_expires'], cfg.proxy.default_expires, cfg.proxy.max_expires);
  if (cfg.heartbeat.deadtime_ms < 2 * cfg.heartbeat.interval_ms) {
    out.push(at(['heartbeat', 'deadtime_ms'], `must be at least twice heartbeat.interval_ms (${cfg.heartbeat.interval_ms})`));
  }
  if (out.length) return out; // port checks need sound hosts
  const seen = new Set<string>();
  for (const name of Object.keys(cfg.hosts)) {
    for (const c of portClashes(listeners(cfg, name))) {
      // report at the key set by the higher-precedence file (most likely the new change)
      const [x, y] = rank(c.first.key) > rank(c.second.key) ? [c.second, c.first] : [c.first, c.second];
      const key = `${x.key}|${y.key}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const what = (l: typeof x): string => (l.port === l.portMax ? `${l.port}/${l.proto}` : `${l.port}-${l.portMax}/${l.proto}`);
      out.push(at(y.key.split('.'), `port clash: ${what(y)} on ${y.ip} (host ${name}) is also used by ${x.key} (${what(x)}, ${originOf(x.key)})`));
    }
  }
  return out;
}
