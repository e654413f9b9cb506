// PostgreSQL: each parameterised statement runs as a named prepared statement of its connection (postgres-dialect.ts),
// so the server parses and plans a text once per connection; statements without parameters (migrations, scripts of
// several commands) keep the simple protocol; `pgPreparedStatements: false` turns it off (poolers in transaction mode).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, sql } from 'kysely';
import { createPostgresDialect } from '../../src/platform/storage/postgres/postgres-dialect.ts';
import { PG_SKIP_REASON, pgTestUrl, type PgTestDatabase } from '../helpers/pg.ts';

const pgDb: PgTestDatabase | undefined = await pgTestUrl();

describe('PostgreSQL prepared statements', { skip: pgDb ? false : PG_SKIP_REASON }, () => {
  const opened: Kysely<unknown>[] = [];
  /** One connection, so that pg_prepared_statements (per session) is the pool's. */
  const open = (preparedStatements?: boolean) => {
    const db = new Kysely<unknown>({ dialect: createPostgresDialect(pgDb!.url, { poolSize: 1, ...(preparedStatements === undefined ? {} : { preparedStatements }) }).dialect });
    opened.push(db);
    return db;
  };
  const prepared = async (db: Kysely<unknown>) =>
    (await sql<{ statement: string }>`select statement from pg_prepared_statements order by prepare_time`.execute(db)).rows.map((r) => r.statement);

  before(async () => {
    await sql`create table prep_t (id int primary key, v text)`.execute(open(false));
  });
  after(async () => {
    for (const db of opened) await db.destroy();
    await pgDb?.drop();
  });

  it('prepares a parameterised text once per connection and runs it again by name', async () => {
    const db = open();
    for (let i = 1; i <= 3; i++) await sql`insert into prep_t (id, v) values (${i}, ${`v${i}`})`.execute(db);
    const got = await sql<{ v: string }>`select v from prep_t where id = ${2}`.execute(db);
    assert.deepEqual(got.rows, [{ v: 'v2' }]);
    assert.deepEqual(await prepared(db), ['insert into prep_t (id, v) values ($1, $2)', 'select v from prep_t where id = $1'], 'one statement per text');
  });

  it('keeps the simple protocol for statements without parameters: a script of several commands runs', async () => {
    const db = open();
    await sql`insert into prep_t (id, v) values (10, 'a'); update prep_t set v = 'b' where id = 10`.execute(db);
    const got = await sql<{ v: string }>`select v from prep_t where id = ${10}`.execute(db);
    assert.deepEqual(got.rows, [{ v: 'b' }]);
    assert.deepEqual(await prepared(db), ['select v from prep_t where id = $1']);
  });

  it('an error in a prepared statement fails that query alone; the statement is usable after', async () => {
    const db = open();
    await assert.rejects(sql`insert into prep_t (id, v) values (${1}, ${'dup'})`.execute(db), /duplicate key/);
    await sql`insert into prep_t (id, v) values (${20}, ${'ok'})`.execute(db);
    const got = await sql<{ n: string }>`select count(*) as n from prep_t where id = ${20}`.execute(db);
    assert.equal(got.rows[0]!.n, '1');
  });

  it('prepares nothing when turned off', async () => {
    const db = open(false);
    await sql`select v from prep_t where id = ${1}`.execute(db);
    assert.deepEqual(await prepared(db), []);
  });
});
