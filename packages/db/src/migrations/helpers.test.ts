import knexFactory from 'knex';
import { describe, expect, it } from 'vitest';
import { fk, foldAlters, innodb, unique } from './helpers.js';

const k = knexFactory({ client: 'mysql2' });

describe('foldAlters', () => {
  it('folds foreign keys, unique keys and indexes into the CREATE TABLE', () => {
    const sqls = k.schema.createTable('t', (t) => {
      innodb(t);
      t.increments('id');
      fk(t, 't', 'domain_id', 'domains.id');
      t.string('name', 10);
      unique(t, 't', 'name', ['domain_id', 'name']);
      t.index(['name'], 'ix_t_name');
    }).toSQL().map((s) => s.sql);
    expect(sqls.length).toBe(4);
    const [one, ...rest] = foldAlters('t', sqls);
    expect(rest).toEqual([]);
    expect(one).toContain('constraint `fk_t_domain_id` foreign key (`domain_id`) references `domains` (`id`) on delete RESTRICT');
    expect(one).toContain('unique key `uq_t_name`(`domain_id`, `name`)');
    expect(one).toContain('index `ix_t_name`(`name`)');
    expect(one).toMatch(/\) default character set utf8mb4 collate utf8mb4_unicode_ci engine = InnoDB$/);
  });
  it('leaves unknown statements alone', () => {
    expect(foldAlters('t', ['create table `t` (`a` int) default character set utf8mb4', 'alter table `t` modify `a` int'])).toEqual([
      'create table `t` (`a` int) default character set utf8mb4', 'alter table `t` modify `a` int',
    ]);
    expect(foldAlters('t', ['something else', 'alter table `t` add index `i`(`a`)'])).toEqual(['something else', 'alter table `t` add index `i`(`a`)']);
  });
});
