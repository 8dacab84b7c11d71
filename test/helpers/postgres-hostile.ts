/**
 * Test support: the per-role defaults a site's DBA might give the agent's role, each of which would change an answer
 * if the agent did not pin its sessions (node-agent/data/source/session-settings.ts): day-first dates, a zone 12¾ h
 * off UTC, doubles rounded to 15 digits, SQL-standard intervals, non-standard string literals, and a search path
 * that puts `public` first, where a `md5(text)` function shadows the built-in the keyed hash of contribution bounding
 * uses.
 */
import pg from 'pg';
import type { PgCluster } from './postgres.js';

/** What a raw connection of the role sees under these defaults (the negative control of the pinning tests). */
export const HOSTILE_EXPECTED = {
  date: '05/01/2024', // DATE '2024-01-05' as text under DateStyle 'SQL, DMY'
  double: '0.3', // 0.1 + 0.2 under extra_float_digits = 0 (pinned: 0.30000000000000004)
  md5: 'shadowed',
  zone: 'Pacific/Chatham',
};

/** The probe both a raw connection and the agent's pinned session run. */
export const ROLE_VIEW_SQL = `SELECT CAST(DATE '2024-01-05' AS TEXT) AS date, CAST(0.1::float8 + 0.2::float8 AS TEXT) AS double, md5('x') AS md5, current_setting('TimeZone') AS zone`;

/** Sets the defaults on `role` in `database` (and the shadowing function); the role must exist. */
export async function setHostileRoleDefaults(cluster: PgCluster, database: string, role: string): Promise<void> {
  await cluster.exec(
    [
      `CREATE OR REPLACE FUNCTION public.md5(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'shadowed'::text $$`,
      `GRANT USAGE ON SCHEMA public TO "${role}"`,
      `ALTER ROLE "${role}" IN DATABASE "${database}" SET DateStyle = 'SQL, DMY'`,
      `ALTER ROLE "${role}" IN DATABASE "${database}" SET TimeZone = 'Pacific/Chatham'`,
      `ALTER ROLE "${role}" IN DATABASE "${database}" SET extra_float_digits = 0`,
      `ALTER ROLE "${role}" IN DATABASE "${database}" SET IntervalStyle = 'sql_standard'`,
      `ALTER ROLE "${role}" IN DATABASE "${database}" SET search_path = public, pg_catalog`,
    ].join(';\n'),
    database,
  );
}

/** What a plain connection of `role` (no pinning) reports: date text, double text, md5 and the zone. */
export async function rawRoleView(cluster: PgCluster, database: string, role: string, password: string): Promise<{ date: string; double: string; md5: string; zone: string }> {
  const c = new pg.Client({ host: cluster.host, port: cluster.port, user: role, password, database });
  await c.connect();
  try {
    return (await c.query(ROLE_VIEW_SQL)).rows[0] as { date: string; double: string; md5: string; zone: string };
  } finally {
    await c.end();
  }
}
