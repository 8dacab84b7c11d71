/**
 * Issue 14 item 12: ingest warnings are kept with the data they are about (so an unchanged folder still reports
 * them after a restart), and every entry of the data folder is either read or refused with a warning: symlinks to
 * files are followed; loops, links to folders or devices and oversized files are refused, never a crash.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAgentDatabase } from './database.js';
import { ingestTabularFolder } from './ingest.js';
import { ingestDataFolder, type FolderIngestReport } from './ingest-folder.js';
import { listProducts } from './products.js';

let dir: string;
let data: string;
let state: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedmesh-ingest-warn-'));
  data = join(dir, 'data');
  state = join(dir, 'state');
  await mkdir(data, { recursive: true });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One agent start over `data`: ingest, list the products, close (as a restart does). */
async function start(maxFileBytes?: number): Promise<{ report: FolderIngestReport; products: string[] }> {
  const db = await openAgentDatabase(state);
  try {
    return await db.withConnection(async (conn) => {
      const report = await ingestDataFolder(conn, data, maxFileBytes === undefined ? {} : { maxFileBytes });
      return { report, products: (await listProducts(conn)).map((p) => p.name).sort() };
    });
  } finally {
    db.close();
  }
}

const PERSON = 'person_id,gender_concept_id,year_of_birth,race_concept_id,ethnicity_concept_id\n1,8507,1950,0,0\n1,8532,1960,0,0\n2,8532,1970,0,0\n';
const PERIOD = 'observation_period_id,person_id,observation_period_start_date,observation_period_end_date,period_type_concept_id\n1,1,2000-01-01,2010-01-01,0\n2,2,2001-01-01,2011-01-01,0\n';

describe('ingest warnings', () => {
  it('reports duplicate ids and tables created empty, and still reports them after a restart with unchanged files', async () => {
    await mkdir(join(data, 'omop'));
    await writeFile(join(data, 'omop', 'person.csv'), PERSON);
    await writeFile(join(data, 'omop', 'observation_period.csv'), PERIOD);
    await writeFile(join(data, 'empty.csv'), 'a,b\n');
    const first = await start();
    const messages = (r: FolderIngestReport): string[] => r.warnings.map((w) => `${w.file}: ${w.message}`);
    expect(messages(first.report)).toEqual(expect.arrayContaining([
      'omop/person.csv: 1 duplicate person_id value in table person',
      'omop: table condition_occurrence not supplied; created empty',
      'empty.csv: no data rows; product empty is served empty',
    ]));
    // Negative control for the persistence: the second start loads nothing (everything is unchanged)...
    const second = await start();
    expect(second.report.formats).toEqual([{ kind: 'omop', action: 'unchanged' }]);
    expect(second.report.files.every((f) => f.action === 'unchanged')).toBe(true);
    // ...and reports the same warnings about the data it serves.
    expect(messages(second.report).sort()).toEqual(messages(first.report).sort());
    // A removed file takes its warnings with it.
    await rm(join(data, 'empty.csv'));
    const third = await start();
    expect(third.products).not.toContain('empty');
    expect(messages(third.report).some((m) => m.startsWith('empty.csv'))).toBe(false);
  });
});

describe('entries of the data folder that are not plain files', () => {
  it('follows a link to a file outside the folder; refuses a loop, a link to a folder, a device and an oversized file with a warning', async () => {
    const elsewhere = join(dir, 'elsewhere');
    await mkdir(join(elsewhere, 'sub'), { recursive: true });
    await writeFile(join(elsewhere, 'labs.csv'), 'sample,value\ns1,10\ns2,20\n');
    await writeFile(join(elsewhere, 'sub', 'inner.csv'), 'x\n1\n');
    await symlink(join(elsewhere, 'labs.csv'), join(data, 'labs.csv'));
    await symlink(join(data, 'loop_b.csv'), join(data, 'loop_a.csv'));
    await symlink(join(data, 'loop_a.csv'), join(data, 'loop_b.csv'));
    await symlink(join(elsewhere, 'sub'), join(data, 'linked_dir'));
    await symlink(data, join(data, 'self'));
    if (existsSync('/dev/null')) await symlink('/dev/null', join(data, 'null.csv'));
    await writeFile(join(data, 'big.csv'), `v\n${'1\n'.repeat(100)}`);
    const r = await start(150);
    expect(r.products).toEqual(['labs']);
    const why = Object.fromEntries(r.report.warnings.map((w) => [w.file, w.message]));
    expect(why['loop_a.csv']).toMatch(/symbolic link loop/);
    expect(why['loop_b.csv']).toMatch(/symbolic link loop/);
    expect(why['linked_dir']).toMatch(/symbolic link to a folder/);
    expect(why['self']).toMatch(/symbolic link to a folder/);
    if (existsSync('/dev/null')) expect(why['null.csv']).toMatch(/not a regular file/);
    expect(why['big.csv']).toMatch(/larger than the 150 bytes/);
    // Control: the same big file is served under the default bound.
    expect((await start()).products).toEqual(['big', 'labs']);
  });

  it('ingestTabularFolder without a file list follows a symlinked file (it used to list regular files only)', async () => {
    const elsewhere = join(dir, 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, 'labs.csv'), 'sample,value\ns1,10\n');
    await symlink(join(elsewhere, 'labs.csv'), join(data, 'labs.csv'));
    await symlink(join(data, 'nowhere.csv'), join(data, 'dangling.csv'));
    const inst = await DuckDBInstance.create(':memory:');
    try {
      const conn = await inst.connect();
      const r = await ingestTabularFolder(conn, data);
      expect(r.files).toEqual([{ product: 'labs', file: 'labs.csv', action: 'loaded', rows: 1 }]);
      expect(r.warnings).toEqual([{ file: 'dangling.csv', message: 'symbolic link to nothing (dangling); not followed' }]);
      conn.closeSync();
    } finally {
      inst.closeSync();
    }
  });
});

describe('a data file whose name makes no product, or a folder too deep, is reported (red team 41, B F5)', () => {
  const csv = `pid,los_days\n${Array.from({ length: 20 }, (_, i) => `${i},${i % 9}`).join('\n')}\n`;
  it.each(['2024_visits.csv', `${'a'.repeat(70)}.csv`, '_fedmesh_x.parquet'])('%s: named in the warnings with the rule; control.csv beside it is served', async (name) => {
    await writeFile(join(data, name), csv);
    await writeFile(join(data, 'control.csv'), csv);
    const { report, products } = await start();
    expect(products).toEqual(['control']);
    const w = report.warnings.find((x) => x.file.endsWith(name));
    expect(w?.message).toMatch(/not loaded: .*this name does not make one/);
  });
  it('files more than four folders down: the folder is named as not searched; control: four down is read', async () => {
    await mkdir(join(data, 'a', 'b', 'c', 'd', 'e'), { recursive: true });
    await writeFile(join(data, 'a', 'b', 'c', 'd', 'four.csv'), csv);
    await writeFile(join(data, 'a', 'b', 'c', 'd', 'e', 'five.csv'), csv);
    const { report, products } = await start();
    expect(products).toContain('four');
    expect(products).not.toContain('five');
    expect(report.warnings.find((x) => x.file.endsWith(join('d', 'e')))?.message).toMatch(/not searched: folders more than 4 levels/);
  });
});
