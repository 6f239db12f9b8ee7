/** A fresh database per test group inside one private MariaDB per file. */
import type { MariaDbInstance } from '@ngcp/testkit';
import { createDb, type Db } from '../src/index.js';

let counter = 0;

export async function freshDb(instance: MariaDbInstance, prefix = 't'): Promise<Db> {
  const name = `${prefix}_${process.pid}_${++counter}`;
  const admin = createDb({ ...instance.connectionConfig(), database: instance.database });
  try {
    await admin.raw(`CREATE DATABASE \`${name}\``);
  } finally {
    await admin.destroy();
  }
  return createDb({ ...instance.connectionConfig(), database: name });
}
