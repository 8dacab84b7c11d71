/**
 * Issue 8 item 12: no silent data loss at ingest. Each sequence runs over an agent database file that is closed
 * and opened again between steps, as an agent restart does.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OMOP_PARQUET_ROWS, writeOmopParquet } from '../../test/helpers/omop-parquet.js';
import { openAgentDatabase } from './database.js';
import { ingestDataFolder, type FolderIngestReport } from './ingest-folder.js';
import { listProducts } from './products.js';

let dir: string;
let data: string;
let state: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedmesh-ingest-folder-'));
  data = join(dir, 'data');
  state = join(dir, 'state');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Served {
  report: FolderIngestReport;
  /** product → "col:TYPE,…" */
  schemas: Record<string, string>;
  rows: Record<string, number>;
}

/** One agent start: open the database, ingest the folder, read what is served, close. */
async function start(): Promise<Served> {
  const db = await openAgentDatabase(state);
  try {
    return await db.withConnection(async (conn) => {
      const report = await ingestDataFolder(conn, data);
      const schemas: Record<string, string> = {};
      const rows: Record<string, number> = {};
      for (const p of await listProducts(conn)) {
        schemas[p.name] = p.columns.map((c) => `${c.name}:${c.type}`).join(',');
        rows[p.name] = Number((await conn.runAndReadAll(`SELECT count(*) AS n FROM "${p.name}"`)).getRowObjectsJS()[0]!.n);
      }
      return { report, schemas, rows };
    });
  } finally {
    db.close();
  }
}

/** Deterministic bytes that are not a CSV (no Math.random in this code base, even for tests). */
function garbage(n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = 12345;
  for (let i = 0; i < n; i += 1) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('plain CSV files: a bad overwrite is reported by name and line, the previous version stays served', () => {
  const LABS = 'sample,value\ns1,10\ns2,20\ns3,30\n';

  it('a CSV overwritten with a 5,000-field line does not become a 5,000-column product', async () => {
    await writeFile(join(data, 'labs.csv'), LABS).catch(async () => {
      await import('node:fs/promises').then((f) => f.mkdir(data, { recursive: true }));
      await writeFile(join(data, 'labs.csv'), LABS);
    });
    const first = await start();
    expect(first.schemas.labs).toBe('sample:VARCHAR,value:BIGINT');
    expect(first.rows.labs).toBe(3);

    const wide = `${Array.from({ length: 5000 }, (_, i) => `f${i}`).join(',')}\n${Array.from({ length: 5000 }, (_, i) => i).join(',')}\n`;
    await writeFile(join(data, 'labs.csv'), wide);
    const second = await start();
    const f = second.report.files.find((x) => x.file === 'labs.csv')!;
    expect(f).toMatchObject({ product: 'labs', action: 'failed', line: 1 });
    expect(f.error).toMatch(/5000 columns, more than the 1000/);
    expect(second.schemas.labs).toBe('sample:VARCHAR,value:BIGINT');
    expect(second.rows.labs).toBe(3);

    // Fewer columns than the cap, but the served ones are gone: an incompatible schema change.
    await writeFile(join(data, 'labs.csv'), 'a;b;c\n1;2;3\n');
    const third = await start();
    const g = third.report.files.find((x) => x.file === 'labs.csv')!;
    expect(g).toMatchObject({ action: 'failed', line: 1 });
    expect(g.error).toMatch(/schema changed incompatibly \(column sample removed; column value removed\); product labs keeps serving its previous version/);
    expect(third.rows.labs).toBe(3);

    // Binary garbage: DuckDB cannot even find a dialect.
    writeFileSync(join(data, 'labs.csv'), garbage(200_000));
    const fourth = await start();
    expect(fourth.report.files.find((x) => x.file === 'labs.csv')).toMatchObject({ action: 'failed' });
    expect(fourth.rows.labs).toBe(3);

    // Repaired, with a new column: compatible, loaded.
    await writeFile(join(data, 'labs.csv'), 'sample,value,unit\ns1,10,mg\ns2,20,mg\ns3,30,mg\ns4,40,mg\n');
    const fifth = await start();
    expect(fifth.report.files.find((x) => x.file === 'labs.csv')).toMatchObject({ action: 'loaded', rows: 4 });
    expect(fifth.schemas.labs).toBe('sample:VARCHAR,value:BIGINT,unit:VARCHAR');
  });

  it('a retyped column is refused; a row that does not parse is reported by line without its content', async () => {
    await import('node:fs/promises').then((f) => f.mkdir(data, { recursive: true }));
    await writeFile(join(data, 'labs.csv'), LABS);
    await start();

    await writeFile(join(data, 'labs.csv'), 'sample,value\ns1,high\ns2,low\n');
    const retyped = (await start()).report.files[0]!;
    expect(retyped).toMatchObject({ action: 'failed', line: 1 });
    expect(retyped.error).toMatch(/column value changed type BIGINT → VARCHAR/);

    // A bad value far past DuckDB's type-sniffing sample: DuckDB names the line; the value stays out of the report.
    let late = 'sample,value\n';
    for (let i = 0; i < 30_000; i += 1) late += `s${i},${i}\n`;
    late += 'secret-sample,secret-value\n';
    await writeFile(join(data, 'labs.csv'), late);
    const conversion = await start();
    const c = conversion.report.files[0]!;
    expect(c).toMatchObject({ action: 'failed', line: 30_002 });
    expect(c.error).toMatch(/column "value"/);
    expect(c.error).not.toMatch(/secret/);
    expect(conversion.rows.labs).toBe(3);

    // A ragged record (one field too many): the line is found even where DuckDB's sniffer names none.
    await writeFile(join(data, 'labs.csv'), 'sample,value\ns1,10\ns2,20,secret\ns3,30\n');
    const ragged = await start();
    const r = ragged.report.files[0]!;
    expect(r).toMatchObject({ action: 'failed', line: 3 });
    expect(r.error).not.toMatch(/secret/);
    expect(ragged.schemas.labs).toBe('sample:VARCHAR,value:BIGINT');
    expect(ragged.rows.labs).toBe(3);
  });
});

describe('an OMOP CDM in Parquet: a damaged file refuses the whole set, the repaired folder serves everything', () => {
  it('truncated person.parquet keeps every CDM table served across restarts, and its repair loads them all again', async () => {
    const files = await writeOmopParquet(data);
    const good = readFileSync(files.person!);
    const first = await start();
    expect(first.report.formats).toEqual([expect.objectContaining({ kind: 'omop 5.4', action: 'loaded' })]);
    for (const [t, n] of Object.entries(OMOP_PARQUET_ROWS)) expect(first.rows[t]).toBe(n);
    const cdmSchemas = first.schemas;

    writeFileSync(files.person!, good.subarray(0, Math.floor(good.length / 2)));
    for (let restart = 0; restart < 2; restart += 1) {
      const broken = await start();
      expect(broken.report.formats).toHaveLength(1);
      const f = broken.report.formats[0]!;
      expect(f).toMatchObject({ kind: 'omop', action: 'failed' });
      expect(f.error).toMatch(/person\.parquet: could not be read/);
      expect(f.error).toMatch(/refused \(1 problem\)/);
      // No CDM file became a plain table; every table keeps its CDM schema and rows.
      expect(broken.report.files).toEqual([]);
      expect(broken.schemas).toEqual(cdmSchemas);
      for (const [t, n] of Object.entries(OMOP_PARQUET_ROWS)) expect(broken.rows[t]).toBe(n);
    }

    writeFileSync(files.person!, good);
    // A new mtime and size, as after a restore: the set loads again, whole.
    const repaired = await start();
    expect(repaired.report.formats).toEqual([expect.objectContaining({ kind: 'omop 5.4', action: 'loaded' })]);
    expect(repaired.report.removed).toEqual([]);
    expect(repaired.schemas).toEqual(cdmSchemas);
    for (const t of ['condition_occurrence', 'measurement', 'drug_exposure', 'observation_period', 'concept']) expect(repaired.rows[t]).toBe(OMOP_PARQUET_ROWS[t]);
  });

  it('a CDM file overwritten by garbage refuses the set instead of emptying its table', async () => {
    const files = await writeOmopParquet(data);
    await start();
    writeFileSync(files.measurement!, garbage(10_000));
    const after = await start();
    expect(after.report.formats[0]).toMatchObject({ kind: 'omop', action: 'failed' });
    expect(after.report.formats[0]!.error).toMatch(/measurement\.parquet/);
    expect(after.rows.measurement).toBe(OMOP_PARQUET_ROWS.measurement);
  });

  it('a CDM file recognised by its header (not its name) stays in the set when it breaks', async () => {
    const files = await writeOmopParquet(data);
    // `patients.parquet` is the person table only by its columns.
    const { rename } = await import('node:fs/promises');
    await rename(files.person!, join(data, 'patients.parquet'));
    const first = await start();
    expect(first.report.formats[0]).toMatchObject({ kind: 'omop 5.4', action: 'loaded' });
    expect(first.rows.person).toBe(OMOP_PARQUET_ROWS.person);

    writeFileSync(join(data, 'patients.parquet'), garbage(5000));
    const broken = await start();
    expect(broken.report.formats[0]).toMatchObject({ kind: 'omop', action: 'failed' });
    expect(broken.report.formats[0]!.error).toMatch(/patients\.parquet: could not be read/);
    expect(broken.report.files).toEqual([]);
    expect(broken.rows.person).toBe(OMOP_PARQUET_ROWS.person);
    expect(broken.rows.condition_occurrence).toBe(OMOP_PARQUET_ROWS.condition_occurrence);
  });

  it('a plain file may not replace a table the CDM set serves', async () => {
    await writeOmopParquet(join(data, 'cdm'));
    await writeFile(join(data, 'measurement.csv'), 'x,y\n1,2\n');
    const r = await start();
    expect(r.report.files).toEqual([expect.objectContaining({ product: 'measurement', action: 'failed', error: expect.stringMatching(/provided by the OMOP files/) })]);
    expect(r.rows.measurement).toBe(OMOP_PARQUET_ROWS.measurement);
  });
});

describe('FHIR bundles beside a concept.csv (issue 14 item 7)', () => {
  const SNOMED = 'http://snomed.info/sct';
  const bundle = {
    resourceType: 'Bundle', type: 'transaction', entry: [
      { fullUrl: 'urn:uuid:p-1', resource: { resourceType: 'Patient', id: 'p-1', gender: 'female', birthDate: '1980-04-02' } },
      { fullUrl: 'urn:uuid:c-1', resource: { resourceType: 'Condition', id: 'c-1', code: { coding: [{ system: SNOMED, code: '74474003' }] },
        subject: { reference: 'urn:uuid:p-1' }, onsetDateTime: '2020-01-05' } },
    ],
  };
  const CONCEPT = 'concept_id,concept_name,domain_id,vocabulary_id,concept_class_id,standard_concept,concept_code\n192671,GI hemorrhage,Condition,SNOMED,Clinical Finding,S,74474003\n';

  async function conditionIds(): Promise<unknown[]> {
    const db = await openAgentDatabase(state);
    try {
      return await db.withConnection(async (conn) =>
        (await conn.runAndReadAll('SELECT condition_concept_id FROM condition_occurrence')).getRowObjectsJS().map((r) => r.condition_concept_id));
    } finally {
      db.close();
    }
  }

  it('the first ingest maps concept ids as an ingest after restart does (it used to give concept id 0 first)', async () => {
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'bundle.json'), JSON.stringify(bundle));
    await writeFile(join(data, 'concept.csv'), CONCEPT);
    await start();
    const first = await conditionIds();
    await start();
    const afterRestart = await conditionIds();
    expect(first).toEqual([192671n]);
    expect(afterRestart).toEqual(first);
    // Negative control: without the vocabulary the id is 0 — and removing concept.csv maps again, whatever came before.
    await rm(join(data, 'concept.csv'));
    await start();
    expect(await conditionIds()).toEqual([0n]);
  });
});

describe('symbolic links in the data folder (issue 14 item 12)', () => {
  it('a symlinked CSV is served like a regular file, and a dangling link is skipped', async () => {
    const elsewhere = join(dir, 'elsewhere');
    await mkdir(elsewhere, { recursive: true });
    await mkdir(data, { recursive: true });
    await writeFile(join(elsewhere, 'labs.csv'), 'sample,value\ns1,10\ns2,20\n');
    await symlink(join(elsewhere, 'labs.csv'), join(data, 'labs.csv'));
    await symlink(join(elsewhere, 'missing.csv'), join(data, 'gone.csv'));
    const served = await start();
    expect(served.rows.labs).toBe(2);
    expect(served.rows.gone).toBeUndefined();
    // Control: a regular file beside it is served too.
    await writeFile(join(data, 'plain.csv'), 'a\n1\n');
    expect((await start()).rows).toMatchObject({ labs: 2, plain: 1 });
  });
});
