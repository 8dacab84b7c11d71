/**
 * `fedmesh agent --database postgres://user@host:port/db --schema cdm [--vocabulary-schema vocab]
 * [--database-password-file FILE]`: the agent serves the OMOP CDM of a site's PostgreSQL in place. Validated here,
 * once, with messages that name the flag. The password never comes from the command line (it would show in `ps`
 * and in shell history): from a file only its owner can read, else `PGPASSWORD`, else libpq's passfile
 * (`PGPASSFILE`, ~/.pgpass), which the driver reads itself.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isFedmeshError, quote } from '../../../common/errors.js';
import type { AgentOptions } from '../../../node-agent/index.js';
import { parseDatabaseUrl } from '../../../node-agent/data/source/index.js';

export interface AgentDatabaseFlags {
  data?: string;
  state?: string;
  database?: string;
  schema?: string;
  vocabularySchema?: string;
  databasePasswordFile?: string;
  databasePoolSize?: string;
  databaseStatementTimeoutMs?: string;
}

/** An integer flag within [min, max]. @throws RangeError naming the flag */
function intFlag(v: string, flag: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new RangeError(`${flag} must be an integer from ${min} to ${max}, got ${quote(v)}`);
  return n;
}

/** The longest password file read (a password, not a document). */
const MAX_PASSWORD_FILE_BYTES = 4096;

/**
 * The agent's data options: `--data DIR` alone (DuckDB over the folder), or `--database` with `--schema` (the data
 * folder, optional then, holds only consent records and the product manifest; default `<state>/data`, created).
 * @throws RangeError naming the flag
 */
export function agentDataOptions(flags: AgentDatabaseFlags, env: Readonly<Record<string, string | undefined>>): Pick<AgentOptions, 'dataDir' | 'database'> {
  if (flags.database === undefined) {
    for (const [flag, v] of [['--schema', flags.schema], ['--vocabulary-schema', flags.vocabularySchema], ['--database-password-file', flags.databasePasswordFile], ['--database-pool-size', flags.databasePoolSize], ['--database-statement-timeout-ms', flags.databaseStatementTimeoutMs]] as const) {
      if (v !== undefined) throw new RangeError(`${flag} needs --database`);
    }
    if (flags.data === undefined) throw new RangeError('--data <dir> is required (or --database postgres://… with --schema)');
    return { dataDir: flags.data };
  }
  try {
    parseDatabaseUrl(flags.database, env);
  } catch (e) {
    throw new RangeError(`--${isFedmeshError(e) ? e.message : 'database: not a postgres:// URL'}`, { cause: e });
  }
  if (flags.schema === undefined) throw new RangeError('--schema <name> is required with --database (the schema holding the CDM tables)');
  const password = flags.databasePasswordFile !== undefined ? readPasswordFile(flags.databasePasswordFile) : env.PGPASSWORD;
  let dataDir = flags.data;
  if (dataDir === undefined) {
    if (flags.state === undefined) throw new RangeError('--state <dir> is required');
    dataDir = join(flags.state, 'data');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  }
  return {
    dataDir,
    database: {
      url: flags.database,
      schema: flags.schema,
      ...(flags.vocabularySchema !== undefined ? { vocabularySchema: flags.vocabularySchema } : {}),
      ...(password !== undefined && password !== '' ? { password } : {}),
      // The connections the agent may hold on the site's server, and its longest statement (0: no limit).
      ...(flags.databasePoolSize !== undefined ? { poolSize: intFlag(flags.databasePoolSize, '--database-pool-size', 1, 64) } : {}),
      ...(flags.databaseStatementTimeoutMs !== undefined ? { statementTimeoutMs: intFlag(flags.databaseStatementTimeoutMs, '--database-statement-timeout-ms', 0, 86_400_000) } : {}),
    },
  };
}

/**
 * Reads the password from its file: the first line, at most 4 KiB, refused when group or others may read the file
 * (the rule libpq applies to ~/.pgpass).
 * @throws RangeError naming --database-password-file
 */
export function readPasswordFile(file: string): string {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new RangeError(`--database-password-file: cannot read ${quote(file, 200)}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
  }
  if (!st.isFile()) throw new RangeError(`--database-password-file: ${quote(file, 200)} is not a file`);
  if (st.size > MAX_PASSWORD_FILE_BYTES) throw new RangeError(`--database-password-file: ${quote(file, 200)} is larger than ${MAX_PASSWORD_FILE_BYTES} bytes`);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new RangeError(`--database-password-file: ${quote(file, 200)} may be read by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const line = readFileSync(file, 'utf8').split(/\r?\n/, 1)[0] ?? '';
  if (line === '') throw new RangeError(`--database-password-file: ${quote(file, 200)} is empty`);
  return line;
}
