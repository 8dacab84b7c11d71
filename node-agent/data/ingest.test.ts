import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingestTabularFolder } from './ingest.js';
import { listProducts } from './products.js';

describe('tabular ingest', () => {
  let dir: string;
  let inst: DuckDBInstance;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-ingest-'));
    inst = await DuckDBInstance.create(':memory:');
  });
  afterEach(async () => {
    inst.closeSync();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads each CSV as a product, reloads only changed files', async () => {
    const conn = await inst.connect();
    await writeFile(join(dir, 'Person.csv'), 'person_id,year_of_birth\n1,1950\n2,1960\n');
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    let r = await ingestTabularFolder(conn, dir);
    expect(r.files).toEqual([{ product: 'person', file: 'Person.csv', action: 'loaded', rows: 2 }]);
    const products = await listProducts(conn);
    expect(products.map((p) => [p.name, p.privacyUnit, p.columns.map((c) => `${c.name}:${c.type}`)])).toEqual([['person', 'person_id', ['person_id:BIGINT', 'year_of_birth:BIGINT']]]);

    r = await ingestTabularFolder(conn, dir);
    expect(r.files[0]!.action).toBe('unchanged');

    await writeFile(join(dir, 'Person.csv'), 'person_id,year_of_birth\n1,1950\n2,1960\n3,1970\n');
    r = await ingestTabularFolder(conn, dir);
    expect(r.files[0]).toMatchObject({ action: 'loaded', rows: 3 });

    conn.closeSync();
  });

  it('a parquet file whose bytes are garbage is reported and the previous product survives', async () => {
    const conn = await inst.connect();
    await conn.run(`COPY (SELECT range AS person_id FROM range(5)) TO '${join(dir, 'visits.parquet')}' (FORMAT parquet)`);
    let r = await ingestTabularFolder(conn, dir);
    expect(r.files[0]).toMatchObject({ product: 'visits', action: 'loaded', rows: 5 });
    await writeFile(join(dir, 'visits.parquet'), 'this is not parquet at all');
    r = await ingestTabularFolder(conn, dir);
    expect(r.files[0]!.action).toBe('failed');
    expect(r.files[0]!.error).toBeTruthy();
    const n = (await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM visits')).getRowObjectsJS()[0]!.n;
    expect(n).toBe(5);
    conn.closeSync();
  });

  it('a removed file removes its product', async () => {
    const conn = await inst.connect();
    await writeFile(join(dir, 'a.csv'), 'x\n1\n');
    await ingestTabularFolder(conn, dir);
    await rm(join(dir, 'a.csv'));
    const r = await ingestTabularFolder(conn, dir);
    expect(r.removed).toEqual(['a']);
    expect(await listProducts(conn)).toEqual([]);
    conn.closeSync();
  });
});
