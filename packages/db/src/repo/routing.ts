/** Call forwards, rewrite rules, NCOS and peering as the proxy needs them. */
import type { Knex } from 'knex';
import type { CallForwardType, NcosLevelRow, NcosPatternRow, PeeringServerRow, RewriteRuleRow } from '../rows.js';

export interface CallForwardDestination { type: 'number' | 'voicemail' | 'uri'; destination: string | null }
export type CallForwardMap = Record<CallForwardType, { ringTimeout: number | null; destinations: CallForwardDestination[] }>;

/** The enabled forwards of a subscriber by type, destinations in order. */
export async function getCallForwards(db: Knex, subscriberId: number): Promise<CallForwardMap> {
  const rows: { type: CallForwardType; destination_type: CallForwardDestination['type']; destination: string | null; ring_timeout: number | null }[] =
    await db('call_forwards').where({ subscriber_id: subscriberId, enabled: true }).orderBy(['type', 'position'])
      .select('type', 'destination_type', 'destination', 'ring_timeout');
  const out: CallForwardMap = {
    cfu: { ringTimeout: null, destinations: [] }, cfb: { ringTimeout: null, destinations: [] },
    cfna: { ringTimeout: null, destinations: [] }, cft: { ringTimeout: null, destinations: [] },
  };
  for (const r of rows) {
    const slot = out[r.type];
    slot.ringTimeout ??= r.ring_timeout;
    slot.destinations.push({ type: r.destination_type, destination: r.destination });
  }
  return out;
}

export interface RewriteRule { direction: 'in' | 'out'; field: 'caller' | 'callee'; match: string; replace: string; priority: number }

/** The enabled rules of a set, in evaluation order. */
export async function getRewriteRules(db: Knex, setId: number): Promise<RewriteRule[]> {
  const rows: RewriteRuleRow[] = await db('rewrite_rules').where({ set_id: setId, enabled: true }).orderBy([{ column: 'priority' }, { column: 'id' }]);
  return rows.map((r) => ({ direction: r.direction, field: r.field, match: r.match_pattern, replace: r.replace_pattern, priority: r.priority }));
}

/**
 * Apply the rules for one direction and field: each matching rule rewrites the value in
 * turn (ECMAScript regex, `$1`… in the replacement). Patterns that do not compile are skipped.
 */
export function applyRewriteRules(rules: readonly RewriteRule[], direction: 'in' | 'out', field: 'caller' | 'callee', value: string): string {
  let v = value;
  for (const r of rules) {
    if (r.direction !== direction || r.field !== field) continue;
    let re: RegExp;
    try {
      re = new RegExp(r.match);
    } catch {
      continue;
    }
    if (re.test(v)) v = v.replace(re, r.replace);
  }
  return v;
}

export interface NcosLevel { id: number; level: string; defaultAction: 'allow' | 'deny'; patterns: { prefix: string; action: 'allow' | 'deny' }[] }

export async function getNcosLevel(db: Knex, id: number): Promise<NcosLevel | undefined> {
  const level: NcosLevelRow | undefined = await db('ncos_levels').where('id', id).first();
  if (!level) return undefined;
  const patterns: NcosPatternRow[] = await db('ncos_patterns').where('level_id', id).orderBy('prefix');
  return { id: level.id, level: level.level, defaultAction: level.default_action, patterns: patterns.map((p) => ({ prefix: p.prefix, action: p.action })) };
}

/** May a subscriber at this level call `callee`? The longest matching prefix decides, else the default. */
export function ncosAllows(level: NcosLevel, callee: string): boolean {
  let best: { prefix: string; action: 'allow' | 'deny' } | undefined;
  for (const p of level.patterns) {
    if (callee.startsWith(p.prefix) && (!best || p.prefix.length > best.prefix.length)) best = p;
  }
  return (best?.action ?? level.defaultAction) === 'allow';
}

export interface PeeringRoute {
  groupId: number;
  groupName: string;
  priority: number;
  calleePrefix: string;
  servers: Pick<PeeringServerRow, 'id' | 'name' | 'host' | 'port' | 'transport' | 'weight' | 'probe'>[];
}

/**
 * The peering groups a call may go to, best first: longest callee prefix, then group
 * priority (1 first). Only enabled rules whose caller/callee patterns match, and only
 * groups with at least one enabled server.
 */
export async function findPeeringRoutes(db: Knex, callee: string, caller: string): Promise<PeeringRoute[]> {
  const rules: { group_id: number; callee_prefix: string; caller_pattern: string | null; callee_pattern: string | null; name: string; priority: number }[] =
    await db('peering_rules as r')
      .join('peering_groups as g', 'g.id', 'r.group_id')
      .where('r.enabled', true)
      // prefixes are digits, '+', '*' or '#' only (validated on write), so no LIKE wildcards
      .whereRaw("? LIKE CONCAT(r.callee_prefix, '%')", [callee])
      .select('r.group_id', 'r.callee_prefix', 'r.caller_pattern', 'r.callee_pattern', 'g.name', 'g.priority');
  const matches = (pattern: string | null, v: string): boolean => {
    if (!pattern) return true;
    try {
      return new RegExp(pattern).test(v);
    } catch {
      return false;
    }
  };
  const best = new Map<number, PeeringRoute>();
  for (const r of rules) {
    if (!matches(r.caller_pattern, caller) || !matches(r.callee_pattern, callee)) continue;
    const prev = best.get(r.group_id);
    if (!prev || r.callee_prefix.length > prev.calleePrefix.length) {
      best.set(r.group_id, { groupId: r.group_id, groupName: r.name, priority: r.priority, calleePrefix: r.callee_prefix, servers: [] });
    }
  }
  if (best.size === 0) return [];
  const servers: PeeringServerRow[] = await db('peering_servers').whereIn('group_id', [...best.keys()]).where('enabled', true).orderBy([{ column: 'weight', order: 'desc' }, { column: 'id' }]);
  for (const s of servers) best.get(s.group_id)?.servers.push({ id: s.id, name: s.name, host: s.host, port: s.port, transport: s.transport, weight: s.weight, probe: s.probe });
  return [...best.values()]
    .filter((g) => g.servers.length > 0)
    .sort((a, b) => b.calleePrefix.length - a.calleePrefix.length || a.priority - b.priority || a.groupId - b.groupId);
}
