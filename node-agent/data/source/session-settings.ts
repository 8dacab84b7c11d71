/**
 * The session settings every pooled PostgreSQL connection of the agent is pinned to. A site's DBA may give the
 * agent's role or database its own defaults (`ALTER ROLE agent SET DateStyle = 'SQL, DMY'`, a local `TimeZone`,
 * `extra_float_digits = 0`, a `search_path` with a writable schema first); none of them may change an answer:
 *
 * - `DateStyle=ISO,YMD`: dates print as `2024-01-05` (the keyed hash of contribution bounding hashes their text, the
 *   driver keeps DATE values as that text, and group keys of dates are that text).
 * - `TimeZone=UTC`: `now()`, timestamptz values and their text do not move with the server's or role's zone.
 * - `extra_float_digits=3`: doubles print in their shortest exact form (not rounded to 15 digits), so text forms of
 *   values are the same numbers DuckDB sees.
 * - `IntervalStyle=iso_8601`: no builder prints intervals today; pinned so none can come to depend on a role default.
 * - `standard_conforming_strings=on`: a backslash in a string literal the builders write is a plain character.
 * - `search_path=pg_catalog,<cdm>,<vocabulary>`: built-in functions and operators (md5, least, …) resolve in
 *   pg_catalog before anything in the CDM schemas, and nothing else is on the path. The session's TEMP schema is
 *   still searched first for tables (PostgreSQL does so for relations whenever pg_temp is not listed): the agent's
 *   consent scope and working tables are TEMP objects there, private to the session; functions are never looked up
 *   in it.
 *
 * They are sent in the startup packet (`options`), so they bind from the first statement, take precedence over
 * per-role and per-database settings (PostgreSQL applies client-supplied values over `ALTER ROLE … SET`), and survive
 * `DISCARD ALL` (which resets to the session's start values). A connection pooler that drops startup options would
 * silently lose them: `checkPinnedSettings` verifies them at start.
 */
import type pg from 'pg';
import { FedmeshError } from '../../../common/errors.js';

/** Setting → the value pinned, in the form `current_setting()` reports it. */
export const PINNED_SETTINGS: Readonly<Record<string, string>> = {
  DateStyle: 'ISO, YMD',
  TimeZone: 'UTC',
  extra_float_digits: '3',
  IntervalStyle: 'iso_8601',
  standard_conforming_strings: 'on',
};

/** The search path for the CDM and vocabulary schemas: pg_catalog first, then those (quoted; names pre-checked). */
export function pinnedSearchPath(schemas: readonly string[]): string {
  return ['pg_catalog', ...new Set(schemas)].map((s) => (s === 'pg_catalog' ? s : `"${s}"`)).join(', ');
}

/**
 * The libpq `options` startup parameter that pins them. Values carry no spaces (libpq splits `options` on
 * whitespace): `ISO,YMD` is what the server reports as `ISO, YMD`.
 */
export function pinnedStartupOptions(schemas: readonly string[]): string {
  const values: Record<string, string> = { ...PINNED_SETTINGS, DateStyle: 'ISO,YMD', search_path: pinnedSearchPath(schemas).replace(/ /g, '') };
  return Object.entries(values)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
}

/**
 * Checks that a connection runs with the pinned settings (a pooler between the agent and the server may drop
 * startup options).
 * @throws FedmeshError FAILED_PRECONDITION naming the setting that is not pinned
 */
export async function checkPinnedSettings(client: pg.ClientBase, schemas: readonly string[]): Promise<void> {
  const names = [...Object.keys(PINNED_SETTINGS), 'search_path'];
  const row = (await client.query<Record<string, string>>(`SELECT ${names.map((n, i) => `current_setting('${n}') AS s${i}`).join(', ')}`)).rows[0] ?? {};
  const want: Record<string, string> = { ...PINNED_SETTINGS, search_path: pinnedSearchPath(schemas) };
  // search_path comes back as sent (quotes, spacing); compare it without either.
  const norm = (n: string, v: string): string => (n === 'search_path' ? v.replace(/["\s]/g, '') : v);
  names.forEach((n, i) => {
    const got = String(row[`s${i}`] ?? '');
    const expected = want[n]!;
    if (norm(n, got) !== norm(n, expected)) {
      throw new FedmeshError('FAILED_PRECONDITION', `database: the session setting ${n} is ${JSON.stringify(got.slice(0, 60))}, not the pinned ${JSON.stringify(expected)}; a connection pooler between the agent and PostgreSQL may drop startup options (connect the agent to the server directly, or let the pooler pass "options")`, { field: 'database' });
    }
  });
}
