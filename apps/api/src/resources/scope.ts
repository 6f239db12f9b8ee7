/** Row-level visibility: a reseller sees its customers' subscribers, a subscriber only itself. */
import type { Knex } from '@ngcp/db';
import { validationError } from '../errors.js';
import type { Ctx } from './resource.js';

/** Restrict `column` (a subscriber id column) to the subscribers the principal may see. */
export function scopeSubscriberColumn(c: Ctx, qb: Knex.QueryBuilder, column: string): void {
  const p = c.principal;
  if (p.role === 'reseller') {
    qb.whereIn(column, (sub: Knex.QueryBuilder) => {
      sub.select('ss.id').from('subscribers as ss').join('customers as sc', 'sc.id', 'ss.customer_id').where('sc.reseller_id', p.resellerId ?? -1);
    });
  } else if (p.role === 'subscriber') {
    qb.where(column, p.subscriberId ?? -1);
  }
}

/** Restrict a customer id column likewise. */
export function scopeCustomerColumn(c: Ctx, qb: Knex.QueryBuilder, column: string): void {
  const p = c.principal;
  if (p.role === 'reseller') {
    qb.whereIn(column, (sub: Knex.QueryBuilder) => {
      sub.select('sc.id').from('customers as sc').where('sc.reseller_id', p.resellerId ?? -1);
    });
  } else if (p.role === 'subscriber') {
    qb.whereRaw('1 = 0');
  }
}

/** A subscriber id given in input must be visible to the principal (else: 422 "does not exist", no leak). */
export async function assertSubscriberVisible(c: Ctx, subscriberId: number, field = 'subscriber_id'): Promise<void> {
  const qb = c.db('subscribers').where('subscribers.id', subscriberId).first('subscribers.id');
  scopeSubscriberColumn(c, qb, 'subscribers.id');
  if (!(await qb)) throw validationError([{ field, message: 'does not exist' }]);
}

export async function assertCustomerVisible(c: Ctx, customerId: number, field = 'customer_id'): Promise<void> {
  const qb = c.db('customers').where('customers.id', customerId).first('customers.id');
  scopeCustomerColumn(c, qb, 'customers.id');
  if (!(await qb)) throw validationError([{ field, message: 'does not exist' }]);
}
