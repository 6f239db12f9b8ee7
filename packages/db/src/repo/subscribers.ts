/** Lookups the proxy does on every REGISTER/INVITE: credentials by AoR, subscriber by number. */
import type { Knex } from 'knex';
import type { Status } from '../rows.js';

export interface SubscriberCredentials {
  subscriberId: number;
  uuid: string;
  username: string;
  domain: string;
  /** realm = domain */
  ha1Md5: string;
  ha1Sha256: string;
  status: Status;
  customerId: number | null;
}

/** Digest credentials of `username@domain`, or undefined. Status is returned, not filtered: the caller decides. */
export async function findSubscriberCredentials(db: Knex, username: string, domain: string): Promise<SubscriberCredentials | undefined> {
  const row = await db('subscribers as s')
    .join('domains as d', 'd.id', 's.domain_id')
    .where({ 's.username': username, 'd.domain': domain })
    .first('s.id', 's.uuid', 's.username', 'd.domain', 's.ha1_md5', 's.ha1_sha256', 's.status', 's.customer_id');
  if (!row) return undefined;
  return {
    subscriberId: row.id, uuid: row.uuid, username: row.username, domain: row.domain,
    ha1Md5: row.ha1_md5, ha1Sha256: row.ha1_sha256, status: row.status, customerId: row.customer_id,
  };
}

export interface NumberTarget {
  numberId: number;
  e164: string;
  isPrimary: boolean;
  /** undefined when the number is not assigned */
  subscriber?: { id: number; uuid: string; username: string; domain: string; status: Status; customerId: number | null };
}

/** Normalise a number to the stored form: digits only, no leading '+'. */
export function normalizeE164(n: string): string {
  return n.startsWith('+') ? n.slice(1) : n;
}

/** Who a dialled E.164 number belongs to (primary number or alias). */
export async function lookupNumber(db: Knex, e164: string): Promise<NumberTarget | undefined> {
  const row = await db('numbers as n')
    .leftJoin('subscribers as s', 's.id', 'n.subscriber_id')
    .leftJoin('domains as d', 'd.id', 's.domain_id')
    .where('n.e164', normalizeE164(e164))
    .first('n.id', 'n.e164', 'n.is_primary', 's.id as sid', 's.uuid', 's.username', 'd.domain', 's.status', 's.customer_id');
  if (!row) return undefined;
  const target: NumberTarget = { numberId: row.id, e164: row.e164, isPrimary: row.is_primary === 1 };
  if (row.sid != null) {
    target.subscriber = { id: row.sid, uuid: row.uuid, username: row.username, domain: row.domain, status: row.status, customerId: row.customer_id };
  }
  return target;
}

/** The numbers of a subscriber, primary first. */
export async function subscriberNumbers(db: Knex, subscriberId: number): Promise<{ e164: string; isPrimary: boolean }[]> {
  const rows: { e164: string; is_primary: number }[] = await db('numbers')
    .where('subscriber_id', subscriberId)
    .orderBy([{ column: 'is_primary', order: 'desc' }, { column: 'e164' }])
    .select('e164', 'is_primary');
  return rows.map((r) => ({ e164: r.e164, isPrimary: r.is_primary === 1 }));
}

/** Is `domain` served by the platform? */
export async function domainExists(db: Knex, domain: string): Promise<boolean> {
  return (await db('domains').where('domain', domain).first('id')) !== undefined;
}
