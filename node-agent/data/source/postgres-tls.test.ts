/**
 * TLS to the site's PostgreSQL (`--database postgres://…?sslmode=…&sslrootcert=…`): a throw-away server with a
 * certificate from a development CA (`fedmesh certs`, 127.0.0.1 in its names) that refuses the agent's role without
 * TLS (`hostnossl … reject`). verify-full and verify-ca with the CA connect and the server sees an encrypted session;
 * no sslmode is refused naming pg_hba and the fix; another CA is refused as untrusted; a bad or unknown URL
 * parameter is refused before any connection, never dropped. Skipped with a message without PostgreSQL or openssl.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevCertificates } from '../../../client/tools/certs.js';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../../../test/helpers/postgres.js';
import { createReadOnlyRole, createTableSql } from '../../../test/helpers/postgres-omop.js';
import { omopTableAnyVersion } from '../omop/cdm-spec.js';
import { openPostgresSource, parseDatabaseUrl } from './index.js';

const noPg = skipWithoutPostgres('TLS to PostgreSQL');
const noOpenssl = ((): boolean => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return false;
  } catch {
    console.warn('[postgres-tls] SKIPPING: no openssl command to make the test certificates (apt-get install openssl)');
    return true;
  }
})();

const DB = 'tlscdm';
const PASSWORD = 'tls-pw';
const cols = (t: string): string[] => omopTableAnyVersion(t)!.columns.map((c) => c.name);

describe.skipIf(noPg || noOpenssl)('TLS to the site PostgreSQL (sslmode, sslrootcert)', () => {
  let pg: PgCluster;
  let dir: string;
  const url = (query: string): string => `postgres://reader@127.0.0.1:${pg.port}/${DB}${query}`;
  const open = (query: string) => openPostgresSource({ url: url(query), password: PASSWORD, schema: 'cdm', connectTimeoutMs: 5000 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedmesh-pg-tls-'));
    await makeDevCertificates({ outDir: join(dir, 'site'), agents: ['a1'] });
    await makeDevCertificates({ outDir: join(dir, 'other'), agents: ['a1'] });
    pg = await startPostgres({ tls: { certFile: join(dir, 'site', 'coordinator.crt'), keyFile: join(dir, 'site', 'coordinator.key'), requiredFor: ['reader'] } });
    await pg.exec(`CREATE DATABASE ${DB}`);
    await pg.exec(['CREATE SCHEMA cdm', ...['person', 'observation_period', 'condition_occurrence'].map((t) => createTableSql('cdm', t, cols(t)))].join(';\n'), DB);
    await createReadOnlyRole(pg, DB, 'reader', PASSWORD, ['cdm']);
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('verify-full and verify-ca with the site CA connect, and the server sees an encrypted session', async () => {
    for (const mode of ['verify-full', 'verify-ca']) {
      const src = await open(`?sslmode=${mode}&sslrootcert=${encodeURIComponent(join(dir, 'site', 'ca.crt'))}`);
      try {
        const rows = await src.withSession((s) => s.all('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'));
        expect(rows, mode).toEqual([{ ssl: true }]);
      } finally {
        await src.close();
      }
    }
    // require encrypts without checking the certificate (libpq's meaning).
    const src = await open('?sslmode=require');
    try {
      expect(await src.withSession((s) => s.all('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))).toEqual([{ ssl: true }]);
    } finally {
      await src.close();
    }
  });

  it('without TLS the server refuses the role, and the message says how to ask for TLS (negative control)', async () => {
    await expect(open('')).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/role reader may not connect to tlscdm at 127\.0\.0\.1:\d+ \(pg_hba.conf\) without TLS; if the server requires TLS \(hostssl\), add \?sslmode=verify-full/) });
    await expect(open('?sslmode=disable')).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/without TLS/) });
  });

  it('a certificate from another CA, or a missing CA file, is refused naming the certificate', async () => {
    await expect(open(`?sslmode=verify-full&sslrootcert=${encodeURIComponent(join(dir, 'other', 'ca.crt'))}`)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/TLS certificate of 127\.0\.0\.1:\d+ is not trusted/) });
    await expect(open(`?sslmode=verify-full&sslrootcert=${encodeURIComponent(join(dir, 'nowhere.crt'))}`)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/cannot read sslrootcert .*nowhere\.crt.*ENOENT/) });
    // A folder, a device and a file without a certificate: refused naming the file, never read without end.
    writeFileSync(join(dir, 'not-pem.crt'), 'hello');
    for (const [file, why] of [[dir, /not a regular file/], ['/dev/zero', /not a regular file/], [join(dir, 'not-pem.crt'), /holds no PEM certificate/]] as const) {
      await expect(open(`?sslmode=verify-full&sslrootcert=${encodeURIComponent(file)}`), file).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(why) });
    }
  });

  it('PGSSLMODE and PGSSLROOTCERT count when the URL says nothing (the driver would read them only if told nothing)', async () => {
    const env = { PGSSLMODE: 'verify-full', PGSSLROOTCERT: join(dir, 'site', 'ca.crt') };
    expect(parseDatabaseUrl(url(''), env).ssl).toEqual({ mode: 'verify-full', rootCert: join(dir, 'site', 'ca.crt') });
    expect(parseDatabaseUrl(url('?sslmode=require'), env).ssl).toEqual({ mode: 'require' });
    expect(() => parseDatabaseUrl(url(''), { PGSSLMODE: 'prefer' })).toThrow(/PGSSLMODE must be one of .*fall back to an unencrypted connection/);
    const saved = { m: process.env.PGSSLMODE, r: process.env.PGSSLROOTCERT };
    Object.assign(process.env, env);
    try {
      const src = await open('');
      try {
        expect(await src.withSession((s) => s.all('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))).toEqual([{ ssl: true }]);
      } finally {
        await src.close();
      }
    } finally {
      for (const [k, v] of [['PGSSLMODE', saved.m], ['PGSSLROOTCERT', saved.r]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('URL parameters: sslrootcert alone means verify-full; prefer, allow, unknown parameters and a CA without verification are refused, never ignored', () => {
    expect(parseDatabaseUrl('postgres://a@db/cdm?sslrootcert=/etc/ca.pem', {}).ssl).toEqual({ mode: 'verify-full', rootCert: '/etc/ca.pem' });
    expect(parseDatabaseUrl('postgres://a@db/cdm?sslmode=require', {}).ssl).toEqual({ mode: 'require' });
    for (const [q, why] of [
      ['?sslmode=prefer', /fall back to an unencrypted connection/],
      ['?sslmode=allow', /fall back to an unencrypted connection/],
      ['?sslmode=verify', /sslmode must be one of disable, require, verify-ca, verify-full/],
      ['?ssl=true', /unknown URL parameter "ssl"/],
      ['?sslmode=require&sslrootcert=/etc/ca.pem', /sslrootcert is only checked with sslmode=verify-ca or verify-full/],
      ['?sslmode=disable&sslmode=verify-full', /sslmode is given more than once/],
      ['#sslmode=verify-full', /must not have a #fragment/],
    ] as const) {
      expect(() => parseDatabaseUrl(`postgres://a@db/cdm${q}`, {}), q).toThrow(why);
    }
  });
});
