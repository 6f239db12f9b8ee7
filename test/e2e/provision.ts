/** The e2e platform data: one domain and its subscribers, made through the real REST API. */
import type { ApiClient, Subscriber } from './api.js';

export const DOMAIN = 'e2e.test';

export interface Sub {
  user: string;
  password: string;
  number: string;
  aor: string;
  id: number;
}

/** alice and bob call each other; carol is the NATed one; dave never registers (480). */
export const SUBSCRIBERS = [
  { user: 'alice', password: 'alice-Pw-4311001', number: '4311001' },
  { user: 'bob', password: 'bob-Pw-4311002', number: '4311002' },
  { user: 'carol', password: 'carol-Pw-4311003', number: '4311003' },
  { user: 'dave', password: 'dave-Pw-4311004', number: '4311004' },
] as const;
export type SubName = (typeof SUBSCRIBERS)[number]['user'];

export async function provision(api: ApiClient): Promise<Record<SubName, Sub>> {
  await api.createDomain(DOMAIN);
  const out = {} as Record<SubName, Sub>;
  for (const s of SUBSCRIBERS) {
    const created: Subscriber = await api.createSubscriber({ domain: DOMAIN, username: s.user, password: s.password, primary_number: s.number });
    out[s.user] = { ...s, aor: `${s.user}@${DOMAIN}`, id: created.id };
  }
  return out;
}
