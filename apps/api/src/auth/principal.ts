/** Who is calling, after authentication. */
import type { ApiRole } from '@ngcp/db';

export type Role = ApiRole;

export interface Principal {
  /** an api_users row, or a subscriber logging in with its web credentials (username@domain) */
  kind: 'api_user' | 'subscriber';
  /** api_users.id for kind api_user; undefined for a subscriber's own login */
  apiUserId: number | undefined;
  login: string;
  role: Role;
  /** set for role reseller */
  resellerId: number | null;
  /** set for role subscriber */
  subscriberId: number | null;
}
