/**
 * A throw-away PostgreSQL cluster for tests and the postgres benchmark (Debian's `postgresql` package, 15 preferred) in a temporary data
 * directory on a free loopback port, started with `pg_ctl -w` (it waits for readiness itself, no sleeps) and
 * stopped with `stop()`, which every caller runs in `afterAll`/`finally`. `initdb` refuses to run as root, so as
 * root the cluster is owned by and run as the `postgres` OS user (`runuser -u postgres --`); otherwise as the
 * current user. The superuser has a random password and connects over TCP with SCRAM, like a real site.
 *
 * `postgresBinDir()` is undefined when no binaries are found: callers then skip with a visible message
 * (`skipWithoutPostgres`).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** The PostgreSQL server binaries (initdb, pg_ctl), newest Debian version first; or `PG_BIN_DIR`. */
export function postgresBinDir(): string | undefined {
  const fromEnv = process.env.PG_BIN_DIR;
  if (fromEnv && existsSync(join(fromEnv, 'initdb'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  // 15 is what the conformance tests target; any other installed version still serves.
  const chosen = versions.includes('15') ? '15' : versions[0];
  return chosen === undefined ? undefined : join(root, chosen, 'bin');
}

/** Whether tests needing a server can run; logs why not, once per caller. */
export function skipWithoutPostgres(what: string): boolean {
  const bin = postgresBinDir();
  if (bin === undefined) console.warn(`[postgres] SKIPPING ${what}: no PostgreSQL server binaries (apt-get install postgresql)`);
  return bin === undefined;
}

/** A server certificate and key (PEM) for TLS, and the roles refused over TCP without it. */
export interface PgTlsOptions {
  certFile: string;
  keyFile: string;
  /** Roles that may connect over TCP only with TLS (`hostnossl … reject`). @default none */
  requiredFor?: string[];
}

export interface PgCluster {
  readonly host: string;
  readonly port: number;
  readonly adminUser: string;
  readonly adminPassword: string;
  readonly dataDir: string;
  /** `postgres://user:password@127.0.0.1:port/db` — tests only (the agent never takes a password in a URL). */
  url(database?: string, user?: string, password?: string): string;
  /** A connected client as the superuser; the caller ends it. */
  admin(database?: string): Promise<pg.Client>;
  /** Runs `sql` (several statements allowed) as the superuser. */
  exec(sql: string, database?: string): Promise<void>;
  /** Loads a CSV file (header row) into an existing table with `psql \copy` (client side). */
  copyCsv(database: string, table: string, file: string): Promise<void>;
  /** Stops the server (fast shutdown) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

interface RunAs {
  cmd(bin: string, args: string[]): [string, string[]];
}

function runAs(): RunAs {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root) return { cmd: (bin, args) => [bin, args] };
  return { cmd: (bin, args) => ['runuser', ['-u', 'postgres', '--', bin, ...args]] };
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (!(typeof process.getuid === 'function' && process.getuid() === 0)) return undefined;
  // /etc/passwd rather than a package: name:x:uid:gid:...
  for (const l of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = l.split(':');
    if (f[0] === 'postgres' && f[2] !== undefined && f[3] !== undefined) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error('running as root needs the postgres OS user (from the postgresql package) to run initdb');
}

/**
 * Starts a fresh cluster. Options: `port` (default a free one), `settings` appended to postgresql.conf.
 * @throws Error when the binaries are missing or the server does not start (the log is in the message)
 */
export async function startPostgres(opts: { settings?: Record<string, string>; tls?: PgTlsOptions } = {}): Promise<PgCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('no PostgreSQL server binaries found');
  const as = runAs();
  const ids = postgresIds();
  const base = mkdtempSync(join(tmpdir(), 'fedmesh-pg-'));
  const dataDir = join(base, 'data');
  const pwFile = join(base, 'pw');
  const logFile = join(base, 'server.log');
  const adminUser = 'fedmesh_admin';
  const adminPassword = randomBytes(12).toString('hex');
  writeFileSync(pwFile, adminPassword, { mode: 0o600 });
  if (ids) {
    chownSync(base, ids.uid, ids.gid);
    chownSync(pwFile, ids.uid, ids.gid);
  }
  const exec = async (b: string, args: string[]): Promise<void> => {
    const [c, a] = as.cmd(join(bin, b), args);
    await run(c, a, { cwd: base, maxBuffer: 16 * 1024 * 1024 });
  };
  await exec('initdb', ['-D', dataDir, '-U', adminUser, '--pwfile', pwFile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  rmSync(pwFile);
  const tlsSettings: Record<string, string> = {};
  if (opts.tls) {
    // The server's key must belong to its OS user and be readable by it alone, or PostgreSQL refuses to start.
    for (const [from, to, mode] of [[opts.tls.certFile, 'server.crt', 0o644], [opts.tls.keyFile, 'server.key', 0o600]] as const) {
      copyFileSync(from, join(dataDir, to));
      chmodSync(join(dataDir, to), mode);
      if (ids) chownSync(join(dataDir, to), ids.uid, ids.gid);
    }
    Object.assign(tlsSettings, { ssl: 'on', ssl_cert_file: `'server.crt'`, ssl_key_file: `'server.key'` });
    // Roles that may connect over TCP only with TLS: matched before initdb's `host all all` lines.
    const hba = join(dataDir, 'pg_hba.conf');
    const reject = (opts.tls.requiredFor ?? []).map((r) => `hostnossl all ${r} 127.0.0.1/32 reject`);
    writeFileSync(hba, [...reject, readFileSync(hba, 'utf8')].join('\n'));
  }
  let started = false;
  let port = 0;
  // A free port can be taken between the probe and the bind: try a few.
  for (let attempt = 0; attempt < 5 && !started; attempt++) {
    port = await freePort();
    const conf = [
      `port = ${port}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = '${base}'`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      ...Object.entries({ ...tlsSettings, ...(opts.settings ?? {}) }).map(([k, v]) => `${k} = ${v}`),
    ].join('\n');
    writeFileSync(join(dataDir, 'postgresql.auto.conf'), `${conf}\n`);
    if (ids) chownSync(join(dataDir, 'postgresql.auto.conf'), ids.uid, ids.gid);
    try {
      await exec('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start']);
      started = true;
    } catch (e) {
      if (attempt === 4) {
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
        rmSync(base, { recursive: true, force: true });
        throw new Error(`postgres did not start: ${(e as Error).message}\n${log}`, { cause: e });
      }
    }
  }
  let stopped = false;
  const cluster: PgCluster = {
    host: '127.0.0.1',
    port,
    adminUser,
    adminPassword,
    dataDir,
    url: (database = 'postgres', user = adminUser, password = adminPassword) =>
      `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    async admin(database = 'postgres') {
      const c = new pg.Client({ host: '127.0.0.1', port, user: adminUser, password: adminPassword, database });
      await c.connect();
      return c;
    },
    async exec(sql, database) {
      const c = await cluster.admin(database);
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    },
    async copyCsv(database, table, file) {
      await new Promise<void>((resolve, reject) => {
        const p = spawn('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', adminUser, '-d', database, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `\\copy ${table} FROM '${file.replace(/'/g, "''")}' WITH (FORMAT csv, HEADER true)`], {
          env: { ...process.env, PGPASSWORD: adminPassword },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let err = '';
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('error', reject);
        p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`psql \\copy ${table} failed: ${err.slice(0, 1000)}`))));
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await exec('pg_ctl', ['-D', dataDir, '-w', '-t', '60', '-m', 'fast', 'stop']);
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    },
  };
  return cluster;
}

/** The OS user the helper runs the server as (for messages). */
export function postgresOsUser(): string {
  return typeof process.getuid === 'function' && process.getuid() === 0 ? 'postgres' : userInfo().username;
}
