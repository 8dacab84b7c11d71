import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentDataOptions, readPasswordFile } from './agent-database.js';

const dir = mkdtempSync(join(tmpdir(), 'fedmesh-agent-db-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const URL = 'postgres://agent@db.example:5432/omop';

describe('fedmesh agent --database options', () => {
  it('--data alone is the DuckDB agent; --database flags without --database are refused by name', () => {
    expect(agentDataOptions({ data: 'd' }, {})).toEqual({ dataDir: 'd' });
    expect(() => agentDataOptions({}, {})).toThrow('--data <dir> is required (or --database postgres://… with --schema)');
    expect(() => agentDataOptions({ data: 'd', schema: 'cdm' }, {})).toThrow('--schema needs --database');
    expect(() => agentDataOptions({ data: 'd', databasePasswordFile: 'f' }, {})).toThrow('--database-password-file needs --database');
  });

  it('--database needs --schema, takes PGPASSWORD, and defaults the data folder to STATE/data (created)', () => {
    expect(() => agentDataOptions({ database: URL, state: dir }, {})).toThrow('--schema <name> is required with --database');
    const o = agentDataOptions({ database: URL, schema: 'cdm', vocabularySchema: 'vocab', state: dir }, { PGPASSWORD: 'from-env' });
    expect(o).toEqual({ dataDir: join(dir, 'data'), database: { url: URL, schema: 'cdm', vocabularySchema: 'vocab', password: 'from-env' } });
    expect(existsSync(join(dir, 'data'))).toBe(true);
    // No password anywhere: the driver's passfile lookup decides.
    expect(agentDataOptions({ database: URL, schema: 'cdm', data: 'd' }, {}).database).toEqual({ url: URL, schema: 'cdm' });
  });

  it('--database-pool-size and --database-statement-timeout-ms bound what the agent holds on the server, naming the flag when wrong', () => {
    expect(agentDataOptions({ database: URL, schema: 'cdm', data: 'd', databasePoolSize: '2', databaseStatementTimeoutMs: '0' }, {}).database).toEqual({ url: URL, schema: 'cdm', poolSize: 2, statementTimeoutMs: 0 });
    for (const bad of ['0', '65', '1.5', 'x', '-1']) expect(() => agentDataOptions({ database: URL, schema: 'cdm', data: 'd', databasePoolSize: bad }, {})).toThrow(/^--database-pool-size must be an integer from 1 to 64/);
    expect(() => agentDataOptions({ database: URL, schema: 'cdm', data: 'd', databaseStatementTimeoutMs: '1e3' }, {})).toThrow(/^--database-statement-timeout-ms must be an integer from 0 to 86400000/);
    expect(() => agentDataOptions({ data: 'd', databasePoolSize: '2' }, {})).toThrow('--database-pool-size needs --database');
  });

  it('the URL is checked with the same environment: PGSSLMODE=prefer is refused naming it', () => {
    expect(() => agentDataOptions({ database: URL, schema: 'cdm', data: 'd' }, { PGSSLMODE: 'prefer' })).toThrow(/^--database: PGSSLMODE must be one of/);
  });

  it('refuses a password in the URL and a URL that is not postgres://, naming --database', () => {
    expect(() => agentDataOptions({ database: 'postgres://agent:secret@db/omop', schema: 'cdm', data: 'd' }, {})).toThrow(/^--database: the URL must not contain a password/);
    expect(() => agentDataOptions({ database: 'mysql://agent@db/omop', schema: 'cdm', data: 'd' }, {})).toThrow(/^--database: scheme must be postgres/);
  });

  it('password file: first line, mode 600 only, bounded, named in every error; it wins over PGPASSWORD', () => {
    const ok = join(dir, 'pw');
    writeFileSync(ok, 's3cret\nignored\n', { mode: 0o600 });
    expect(readPasswordFile(ok)).toBe('s3cret');
    expect(agentDataOptions({ database: URL, schema: 'cdm', data: 'd', databasePasswordFile: ok }, { PGPASSWORD: 'env' }).database?.password).toBe('s3cret');
    const loose = join(dir, 'loose');
    writeFileSync(loose, 's3cret');
    chmodSync(loose, 0o640);
    expect(() => readPasswordFile(loose)).toThrow(/--database-password-file: .* may be read by group or others \(mode 640\); chmod 600 it/);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n', { mode: 0o600 });
    expect(() => readPasswordFile(empty)).toThrow(/is empty/);
    const big = join(dir, 'big');
    writeFileSync(big, 'x'.repeat(5000), { mode: 0o600 });
    expect(() => readPasswordFile(big)).toThrow(/larger than 4096 bytes/);
    expect(() => readPasswordFile(join(dir, 'missing'))).toThrow(/--database-password-file: cannot read .*ENOENT/);
  });
});
