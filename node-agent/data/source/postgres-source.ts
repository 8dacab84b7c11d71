/**
 * The PostgreSQL side of the data-source seam: the agent queries the hospital's own OMOP CDM in place, with no
 * copy, and only aggregates leave it. What a site's DBA can rely on:
 *
 * - **Read-only.** At start the agent refuses a superuser, a role that may INSERT/UPDATE/DELETE/TRUNCATE any table
 *   (or column) of any schema of the database, CREATE in any schema, or CREATE schemas; and a role without the TEMP
 *   privilege. Its only writes are TEMP tables (session-private, gone at disconnect). Every read runs in a READ
 *   ONLY transaction on top.
 * - **Encrypted when asked.** `?sslmode=require|verify-ca|verify-full&sslrootcert=CA.pem` in the URL, as libpq reads
 *   them; `prefer`/`allow` (which fall back to plain text) and unknown parameters are refused, never dropped.
 * - **Bounded.** A small pool (`poolSize`), a statement timeout, and cursors (`FETCH n`) for large intermediate
 *   results, so neither side holds a whole per-person result in memory.
 * - **Clear failures.** Unreachable server, wrong credentials, a missing database, schema, table or column, and a
 *   role that can write each stop the agent at start with a message that names the problem (never the password).
 *   A connection lost mid-task fails that task with AGENT_UNAVAILABLE (retryable); the pool dials again for the
 *   next one.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { FedmeshError } from '../../../common/errors.js';
import { postgresDialect } from '../../sql/index.js';
import { DEFAULT_BATCH_ROWS, type DataSource, type SessionOptions, type SqlParam, type SqlRow, type SqlSession } from './source.js';
import { checkCdmSchema, type CdmCatalogue } from './cdm-check.js';
import { checkPinnedSettings, pinnedStartupOptions } from './session-settings.js';

export interface PostgresSourceOptions {
  /** `postgres://user@host:port/database` — without a password (see `password`). */
  url: string;
  /**
   * The role's password, read by the entry point from a file or `PGPASSWORD`; never part of the URL or the command
   * line. @default undefined (then libpq's passfile, `PGPASSFILE` or ~/.pgpass, is used by the driver)
   */
  password?: string;
  /** The schema holding the CDM tables (`--schema`). */
  schema: string;
  /** The schema holding the vocabulary tables when not `schema` (`--vocabulary-schema`). @default schema */
  vocabularySchema?: string;
  /** Connections at most. @default 4 */
  poolSize?: number;
  /** Longest single statement. @default 600000 (10 min) */
  statementTimeoutMs?: number;
  /** Longest wait for a connection. @default 10000 */
  connectTimeoutMs?: number;
  /** Told of connection-level events (a pooled connection dropped); never given data. */
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

export interface PostgresSource extends DataSource {
  readonly kind: 'postgres';
  /** The OMOP tables found, with their columns (lower case), as checked at start. */
  readonly catalogue: CdmCatalogue;
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const CONNECTION_LOST = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);
const NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNRESET', 'EPIPE']);

/** int8 → bigint, numeric → bigint when integral (sums of BIGINT are numeric in PostgreSQL), dates stay text. */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (v: string) => unknown {
    if (oid === 20) return (v: string) => BigInt(v);
    if (oid === 1700) return (v: string) => (/^-?\d+$/.test(v) ? BigInt(v) : Number(v));
    if (oid === 1082) return (v: string) => v;
    return pg.types.getTypeParser(oid, format ?? 'text') as (v: string) => unknown;
  },
};

/** TLS to the server, as libpq's `sslmode` says it (the modes that fall back to plain text are not offered). */
export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';
const SSL_MODES: readonly SslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];
/** Largest CA file read (`sslrootcert`). */
const MAX_CA_BYTES = 1 << 20;

/**
 * Parses `--database`: a `postgres://` or `postgresql://` URL with user, host, optional port and database, no
 * password (a password in the URL would show in `ps` and in shell history), and optionally libpq's `sslmode`
 * (disable, require, verify-ca, verify-full) and `sslrootcert` (a CA file) as query parameters. Any other query
 * parameter is refused rather than ignored: a DBA's `?sslmode=…` must never be dropped silently.
 * @throws FedmeshError INVALID_ARGUMENT naming `database`
 */
export function parseDatabaseUrl(url: string, env: Readonly<Record<string, string | undefined>> = process.env): { host: string; port: number; user: string; database: string; ssl: { mode: SslMode; rootCert?: string } } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FedmeshError('INVALID_ARGUMENT', 'database: not a URL (expected postgres://user@host:port/database)', { field: 'database' });
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new FedmeshError('INVALID_ARGUMENT', `database: scheme must be postgres:// or postgresql://, got ${u.protocol.slice(0, 20)}`, { field: 'database' });
  }
  if (u.password !== '') {
    throw new FedmeshError('INVALID_ARGUMENT', 'database: the URL must not contain a password (it would show in ps); use --database-password-file, PGPASSWORD or a passfile', { field: 'database' });
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (u.hostname === '' || u.username === '' || database === '') {
    throw new FedmeshError('INVALID_ARGUMENT', 'database: expected postgres://user@host:port/database (user, host and database are required)', { field: 'database' });
  }
  const port = u.port === '' ? 5432 : Number(u.port);
  const bad = (m: string): FedmeshError => new FedmeshError('INVALID_ARGUMENT', `database: ${m}`, { field: 'database' });
  // Nothing of the URL is dropped: a fragment, an unknown or a repeated parameter (libpq takes the last, URL readers
  // the first) is refused.
  if (u.hash !== '') throw bad('the URL must not have a #fragment (put sslmode and sslrootcert after ?)');
  const known = new Set(['sslmode', 'sslrootcert']);
  for (const k of new Set(u.searchParams.keys())) {
    if (!known.has(k)) throw bad(`unknown URL parameter ${JSON.stringify(k.slice(0, 40))} (the agent takes sslmode and sslrootcert)`);
    if (u.searchParams.getAll(k).length > 1) throw bad(`URL parameter ${k} is given more than once`);
  }
  // From the URL, else from libpq's PGSSLMODE / PGSSLROOTCERT (the driver would read them only if told nothing).
  const fromUrl = u.searchParams.has('sslmode') || u.searchParams.has('sslrootcert');
  const rawMode = fromUrl ? u.searchParams.get('sslmode') : env.PGSSLMODE;
  const rootCert = (fromUrl ? u.searchParams.get('sslrootcert') : env.PGSSLROOTCERT) ?? undefined;
  const origin = fromUrl ? 'sslmode' : 'PGSSLMODE';
  const modeText = rawMode ?? (rootCert !== undefined ? 'verify-full' : 'disable');
  if (!(SSL_MODES as readonly string[]).includes(modeText)) {
    const why = modeText === 'allow' || modeText === 'prefer' ? ' (they fall back to an unencrypted connection; say require or verify-full)' : '';
    throw bad(`${origin} must be one of ${SSL_MODES.join(', ')}, got ${JSON.stringify(modeText.slice(0, 20))}${why}`);
  }
  const mode = modeText as SslMode;
  if (rootCert !== undefined && (mode === 'disable' || mode === 'require')) {
    throw bad(`${fromUrl ? 'sslrootcert' : 'PGSSLROOTCERT'} is only checked with sslmode=verify-ca or verify-full (got ${origin}=${mode})`);
  }
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port, user: decodeURIComponent(u.username), database, ssl: { mode, ...(rootCert !== undefined ? { rootCert } : {}) } };
}

/**
 * The driver's `ssl` option for a mode: none; encrypted without checking the certificate (require); checked against
 * the CA (sslrootcert, else Node's default roots) without (verify-ca) or with (verify-full) the host name.
 * @throws FedmeshError FAILED_PRECONDITION naming sslrootcert when the CA file cannot be read
 */
function tlsOptions(ssl: { mode: SslMode; rootCert?: string }): false | ConnectionOptions {
  if (ssl.mode === 'disable') return false;
  if (ssl.mode === 'require') return { rejectUnauthorized: false };
  let ca: string | undefined;
  if (ssl.rootCert !== undefined) {
    const named = JSON.stringify(ssl.rootCert.slice(0, 200));
    let fd: number | undefined;
    try {
      // Opened once, checked to be a regular file of at most 1 MiB, and read at most that far (a FIFO or a device
      // would block or never end).
      fd = openSync(ssl.rootCert, constants.O_RDONLY | constants.O_NONBLOCK);
      const st = fstatSync(fd);
      if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
      if (st.size > MAX_CA_BYTES) throw Object.assign(new Error('too large'), { code: 'larger than 1 MiB' });
      const buf = Buffer.alloc(st.size);
      ca = buf.subarray(0, readSync(fd, buf, 0, st.size, 0)).toString('utf8');
    } catch (e) {
      throw new FedmeshError('FAILED_PRECONDITION', `database: cannot read sslrootcert ${named} (${(e as { code?: string }).code ?? (e as Error).message}; a PEM file of at most 1 MiB)`, { field: 'database', cause: e });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new FedmeshError('FAILED_PRECONDITION', `database: sslrootcert ${named} holds no PEM certificate`, { field: 'database' });
  }
  return { rejectUnauthorized: true, ...(ca !== undefined ? { ca } : {}), ...(ssl.mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}) };
}

function checkSchemaName(name: string, field: string): string {
  if (!IDENT_RE.test(name)) throw new FedmeshError('INVALID_ARGUMENT', `${field}: must be a plain schema name (letters, digits, _), got ${JSON.stringify(name.slice(0, 64))}`, { field });
  return name;
}

/** A start-time connection error as a message naming the problem (the driver's text can echo the password: not used). */
const TLS_TRUST = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE']);

function startError(e: unknown, where: { host: string; port: number; user: string; database: string; ssl: { mode: SslMode } }): FedmeshError {
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  const at = `${where.host}:${where.port}`;
  let message: string;
  const text = err.message ?? '';
  const plain = where.ssl.mode === 'disable';
  // Node's TLS codes and SQLSTATEs first; the server's text (in its own language) only as a hint.
  if (TLS_TRUST.has(code)) message = `database: the TLS certificate of ${at} is not trusted (${code}): check sslrootcert, and with verify-full the host name`;
  else if (code === '' && /does not support SSL/i.test(text)) message = `database: the server at ${at} does not accept TLS connections (drop sslmode, or enable ssl on the server)`;
  else if (NETWORK.has(code) || /timeout expired|Connection terminated due to connection timeout/i.test(err.message ?? '')) message = `database: cannot reach PostgreSQL at ${at} (${code || 'timeout'})`;
  else if (code === '28P01') message = `database: password authentication failed for role ${where.user} at ${at}`;
  else if (code === '28000') message = `database: role ${where.user} may not connect to ${where.database} at ${at} (pg_hba.conf)${plain ? `${/no encryption/i.test(text) ? ' without TLS' : ''}; if the server requires TLS (hostssl), add ?sslmode=verify-full&sslrootcert=CA.pem to --database` : ''}`;
  else if (code === '3D000') message = `database: database ${where.database} does not exist at ${at}`;
  else if (/SASL|password must be a string/i.test(err.message ?? '')) message = `database: the server asks role ${where.user} for a password and none was given (--database-password-file, PGPASSWORD or a passfile)`;
  else message = `database: cannot connect to ${at} as ${where.user} (${code || 'error'})`;
  return new FedmeshError('FAILED_PRECONDITION', message, { field: 'database', cause: e });
}

/** A mid-task error: a lost connection is retryable; anything else is INTERNAL (the text may quote data). */
function taskError(e: unknown): FedmeshError {
  if (e instanceof FedmeshError) return e;
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  if (CONNECTION_LOST.has(code) || NETWORK.has(code) || /Connection terminated|Client has encountered a connection error|not queryable/i.test(err.message ?? '')) {
    return new FedmeshError('AGENT_UNAVAILABLE', 'the PostgreSQL connection was lost during the task; the agent reconnects for the next task', { cause: e });
  }
  if (code === '57014') return new FedmeshError('ROUND_TIMEOUT', 'a PostgreSQL statement hit the statement timeout or was cancelled', { cause: e });
  return new FedmeshError('INTERNAL', 'PostgreSQL query failed', { cause: e });
}

function isConnectionError(e: unknown): boolean {
  return e instanceof FedmeshError && e.code === 'AGENT_UNAVAILABLE';
}

let cursorSeq = 0;

function session(client: pg.PoolClient, signal: AbortSignal | undefined): SqlSession {
  // A cancelled task starts no further statement (the cancel stops the running one).
  const query: typeof client.query = ((...args: Parameters<typeof client.query>) => {
    if (signal?.aborted) throw new FedmeshError('CANCELLED', 'the task was cancelled; no further statement runs on the database');
    return (client.query as (...a: unknown[]) => unknown)(...args);
  }) as typeof client.query;
  const params = (p: readonly SqlParam[] | undefined): unknown[] => (p ? p.map((v) => (typeof v === 'bigint' ? v.toString() : v)) : []);
  const transaction = async <T>(begin: string, fn: () => Promise<T>): Promise<T> => {
    await query(begin);
    try {
      const out = await fn();
      await query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  };
  // Inside snapshot(): the reads share its transaction instead of opening their own.
  let inSnapshot = false;
  const readOnly = <T>(fn: () => Promise<T>): Promise<T> => (inSnapshot ? fn() : transaction('BEGIN TRANSACTION READ ONLY', fn));
  return {
    dialect: postgresDialect,
    async run(sql, p) {
      try {
        await query(sql, params(p));
      } catch (e) {
        throw taskError(e);
      }
    },
    async all(sql, p) {
      try {
        return await readOnly(async () => (await query(sql, params(p))).rows as SqlRow[]);
      } catch (e) {
        throw taskError(e);
      }
    },
    async *stream(sql, p, options) {
      const batch = options?.batchRows ?? DEFAULT_BATCH_ROWS;
      if (!Number.isSafeInteger(batch) || batch < 1) throw new RangeError('options.batchRows must be a positive integer');
      const name = `fedmesh_cursor_${++cursorSeq}`;
      const own = !inSnapshot;
      let open = false;
      let declared = false;
      try {
        if (own) {
          await query('BEGIN TRANSACTION READ ONLY');
          open = true;
        }
        await query(`DECLARE ${name} NO SCROLL CURSOR FOR ${sql}`, params(p));
        declared = true;
        for (;;) {
          const rows = (await query(`FETCH FORWARD ${batch} FROM ${name}`)).rows as SqlRow[];
          if (rows.length > 0) yield rows;
          if (rows.length < batch) break;
        }
        if (own) {
          await query('COMMIT');
          open = false;
        } else {
          await query(`CLOSE ${name}`);
          declared = false;
        }
      } catch (e) {
        throw taskError(e);
      } finally {
        // Broken out of early, or failed: the transaction (and the cursor with it) ends here; inside a snapshot the
        // cursor is closed and the snapshot's own end (COMMIT or ROLLBACK) follows.
        if (open) await client.query('ROLLBACK').catch(() => undefined);
        else if (declared && !own) await client.query(`CLOSE ${name}`).catch(() => undefined);
      }
    },
    async snapshot(fn) {
      if (inSnapshot) return fn();
      try {
        return await transaction('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY', async () => {
          inSnapshot = true;
          try {
            return await fn();
          } finally {
            inSnapshot = false;
          }
        });
      } catch (e) {
        throw e instanceof FedmeshError ? e : taskError(e);
      }
    },
  };
}

/**
 * Makes a session's connection fit for the next task, or says why it must be destroyed instead. A cancel sent for
 * this task may still be in flight when the task ends (the abort fired just as its last statement finished): it is
 * waited for first, so it can only ever hit this task's own cleanup — which then fails and the connection is
 * destroyed — never the next task's statement (a backend ignores a cancel that arrives while it is idle). Then an
 * open transaction (a cursor broken off, a statement cancelled between BEGIN and COMMIT) is rolled back and
 * `DISCARD ALL` drops the task's TEMP tables (its working tables and consent views), cursors, prepared statements
 * and any SET, back to the session's pinned start values. Anything failing on the way destroys the connection.
 */
async function resetForReuse(client: pg.PoolClient, cancelling: Promise<boolean> | undefined, broken: Error | undefined): Promise<Error | undefined> {
  if (cancelling && !(await cancelling)) return broken ?? new Error('the cancel of a statement could not be sent');
  if (broken) return broken;
  try {
    if (client.getTransactionStatus() !== 'I') await client.query('ROLLBACK');
    await client.query('DISCARD ALL');
    // Idle and outside any transaction, or not reused.
    return client.getTransactionStatus() === 'I' ? undefined : new Error('the session is still in a transaction after cleanup');
  } catch (e) {
    return e as Error;
  }
}

/**
 * Connects, checks the role and the CDM (see the module comment) and returns a ready source.
 * @throws FedmeshError INVALID_ARGUMENT for a bad URL or schema name; FAILED_PRECONDITION naming what is wrong
 *   with the server, the credentials, the role or the CDM
 */
export async function openPostgresSource(options: PostgresSourceOptions): Promise<PostgresSource> {
  const where = parseDatabaseUrl(options.url);
  const schema = checkSchemaName(options.schema, 'schema');
  const vocabulary = checkSchemaName(options.vocabularySchema ?? options.schema, 'vocabularySchema');
  const poolSize = options.poolSize ?? 4;
  if (!Number.isSafeInteger(poolSize) || poolSize < 1 || poolSize > 64) throw new RangeError('options.poolSize must be an integer in [1, 64]');
  const statementTimeoutMs = options.statementTimeoutMs ?? 600_000;
  if (!Number.isSafeInteger(statementTimeoutMs) || statementTimeoutMs < 0) throw new RangeError('options.statementTimeoutMs must be a non-negative integer');
  const { ssl, ...at } = where;
  const tls = tlsOptions(ssl);
  const pool = new pg.Pool({
    ...at,
    ssl: tls,
    ...(options.password !== undefined ? { password: options.password } : {}),
    max: poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    application_name: 'fedmesh-agent',
    statement_timeout: statementTimeoutMs,
    // A task that dies between BEGIN and COMMIT must not hold locks (or a snapshot) on the hospital's server.
    idle_in_transaction_session_timeout: 60_000,
    // DateStyle, TimeZone, float digits, search path …: pinned against per-role defaults (session-settings.ts).
    options: pinnedStartupOptions([schema, vocabulary]),
    types: TYPES,
  });
  // An idle pooled connection the server dropped: logged, and the pool dials again when next needed.
  pool.on('error', (e: Error & { code?: string }) => options.log?.('database-connection-lost', { code: e.code ?? e.name }));
  let catalogue: CdmCatalogue;
  try {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw startError(e, where);
    }
    const onError = (): void => undefined; // a drop during the check fails the query itself, which is reported
    client.on('error', onError);
    try {
      await checkPinnedSettings(client, [schema, vocabulary]);
      catalogue = await checkCdmSchema(client, { schema, vocabulary, user: where.user });
    } finally {
      client.off('error', onError);
      client.release();
    }
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  const cancelBackend = async (pid: number): Promise<void> => {
    const c = new pg.Client({ ...at, ssl: tls, ...(options.password !== undefined ? { password: options.password } : {}), connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000, application_name: 'fedmesh-agent-cancel' });
    c.on('error', () => undefined);
    await c.connect();
    try {
      await c.query('SELECT pg_cancel_backend($1)', [pid]);
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  return {
    kind: 'postgres',
    dialect: postgresDialect,
    catalogue,
    async withSession<T>(fn: (s: SqlSession) => Promise<T>, sessionOptions?: SessionOptions): Promise<T> {
      sessionOptions?.signal?.throwIfAborted();
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        throw new FedmeshError('AGENT_UNAVAILABLE', `cannot reach the PostgreSQL database at ${where.host}:${where.port}`, { cause: e });
      }
      let broken: Error | undefined;
      // A checked-out client's errors are not the pool's (it only listens on idle ones): without a listener, a server
      // that drops the connection mid-task would be an unhandled 'error' event and take the agent down.
      const onError = (e: Error & { code?: string }): void => {
        broken ??= e;
        options.log?.('database-connection-lost', { code: e.code ?? e.name });
      };
      client.on('error', onError);
      // Cancelled task: the server cancels the session's running statement (pg_cancel_backend on a short connection
      // of the same role, which may cancel its own backends); the statement then fails with 57014 and so does fn.
      const pid = (client as unknown as { processID?: number }).processID;
      let cancelling: Promise<boolean> | undefined;
      const onAbort = (): void => {
        if (pid === undefined) return;
        options.log?.('database-statement-cancelled', { pid });
        cancelling = cancelBackend(pid).then(
          () => true,
          (e: unknown) => {
            options.log?.('database-cancel-failed', { code: (e as { code?: string }).code ?? 'error' });
            return false;
          },
        );
      };
      sessionOptions?.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        // Aborted while waiting for the connection: the listener came too late to hear it.
        sessionOptions?.signal?.throwIfAborted();
        return await fn(session(client, sessionOptions?.signal));
      } catch (e) {
        if (isConnectionError(e)) broken = e as Error;
        throw e;
      } finally {
        sessionOptions?.signal?.removeEventListener('abort', onAbort);
        broken = await resetForReuse(client, cancelling, broken);
        client.off('error', onError);
        client.release(broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
}
