import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { makePersons, writePersonCsv, type PersonRow } from '../helpers/person-data.js';

const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');

function fedmesh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', XDG_CONFIG_HOME: join(tmpdir(), 'fedmesh-no-config') };
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => res({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }));
  });
}

/** RFC 4180 reader for the test (quotes, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else if (ch !== '\r') field += ch;
  }
  return rows;
}

const EDGES = [1930, 1960, 1990, 2010];

describe('--format table|json|csv|parquet|arrow and --out (issue 14 #9)', () => {
  let mesh: TestMesh;
  let dir: string;
  let conn: string[];
  let persons: PersonRow[];
  // Independently computed on the pooled rows: persons by gender, and the histogram of year_of_birth per gender.
  const expected = new Map<number, { count: number; bins: number[] }>();
  const job = (): string[] => ['query', ...conn, '--product', 'person', '--count', '--group-by', 'gender_concept_id', '--histogram', `year_of_birth:${EDGES.join(',')}`, '--privacy', 'none'];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-cli-formats-'));
    mesh = await startMesh({ agentNames: ['a1', 'a2'] });
    const a = makePersons(400, 11);
    const b = makePersons(300, 12, 10_000);
    persons = [...a, ...b];
    await writePersonCsv(join(dir, 'a1'), a);
    await writePersonCsv(join(dir, 'a2'), b);
    await mesh.startAgent('a1', join(dir, 'a1'));
    await mesh.startAgent('a2', join(dir, 'a2'));
    await mesh.waitForAgents(2);
    conn = ['--coordinator', `127.0.0.1:${mesh.server.port}`, '--tls-dir', mesh.tlsDir];
    for (const p of persons) {
      const e = expected.get(p.gender_concept_id) ?? { count: 0, bins: [0, 0, 0] };
      e.count++;
      const i = EDGES.findIndex((lo, k) => k < EDGES.length - 1 && p.year_of_birth >= lo && p.year_of_birth < EDGES[k + 1]!);
      if (i >= 0) e.bins[i]!++;
      expected.set(p.gender_concept_id, e);
    }
  }, 60_000);
  afterAll(async () => {
    await mesh?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const binCols = ['[1930, 1960)', '[1960, 1990)', '[1990, 2010)'].map((l) => `histogram_year_of_birth ${l}`);

  it('csv to stdout: one column per histogram bin, named by its edges; numbers equal the pooled data', async () => {
    const r = await fedmesh([...job(), '--format', 'csv']);
    expect(r.code, r.stderr).toBe(0);
    const [head, ...rows] = parseCsv(r.stdout);
    expect(head).toEqual(['gender_concept_id', 'count', ...binCols]);
    expect(rows.length).toBe(expected.size);
    for (const row of rows) {
      const e = expected.get(Number(row[0]))!;
      expect(Number(row[1])).toBe(e.count);
      expect(row.slice(2).map(Number)).toEqual(e.bins);
    }
  });

  it('arrow (--out) and parquet (--out) round-trip to the same table', async () => {
    const arrowFile = join(dir, 'r.arrow');
    const pq = join(dir, 'r.parquet');
    expect((await fedmesh([...job(), '--format', 'arrow', '--out', arrowFile])).code).toBe(0);
    expect((await fedmesh([...job(), '--format', 'parquet', '--out', pq])).code).toBe(0);
    const t = tableFromIPC(await readFile(arrowFile));
    expect(t.schema.fields.map((f) => f.name)).toEqual(['gender_concept_id', 'count', ...binCols]);
    const arrowRows = t.toArray().map((r) => r.toJSON() as Record<string, number>);
    const inst = await DuckDBInstance.create(':memory:');
    const c = await inst.connect();
    const pqRows = (await c.runAndReadAll(`SELECT * FROM read_parquet('${pq}') ORDER BY gender_concept_id`)).getRowObjectsJS() as Record<string, number>[];
    c.closeSync();
    inst.closeSync();
    expect(pqRows.length).toBe(expected.size);
    for (const rows of [arrowRows, pqRows]) {
      for (const row of rows) {
        const e = expected.get(Number(row.gender_concept_id))!;
        expect(Number(row.count)).toBe(e.count);
        expect(binCols.map((b) => Number(row[b]))).toEqual(e.bins);
      }
    }
  });

  it('json (--out) parses; table prints the bin edges', async () => {
    const f = join(dir, 'r.json');
    expect((await fedmesh([...job(), '--format', 'json', '--out', f])).code).toBe(0);
    const j = JSON.parse(await readFile(f, 'utf8')) as { rows: { gender_concept_id: number; count: number }[] };
    expect(j.rows.reduce((a, r) => a + r.count, 0)).toBe(persons.length);
    const t = await fedmesh(job());
    expect(t.stdout).toContain('histogram_year_of_birth cells: [1930, 1960) [1960, 1990) [1990, 2010)');
  });

  it('parquet without --out is a usage error', async () => {
    const r = await fedmesh([...job(), '--format', 'parquet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--format parquet needs --out FILE');
  });

  it('jobs shows kind, product, mode and ε; jobs --format csv has them as columns', async () => {
    expect((await fedmesh(['query', ...conn, '--product', 'person', '--count', '--privacy', 'central-dp', '--epsilon', '0.25'])).code).toBe(0);
    const t = await fedmesh(['jobs', ...conn]);
    expect(t.stdout).toMatch(/aggregate\s+│?\s*person\s+│?\s*central-dp\s+│?\s*ε 0\.25/);
    const [head, ...rows] = parseCsv((await fedmesh(['jobs', ...conn, '--format', 'csv'])).stdout);
    expect(head!.slice(0, 5)).toEqual(['job', 'kind', 'product', 'mode', 'epsilon']);
    expect(rows.some((r) => r[1] === 'aggregate' && r[2] === 'person' && r[3] === 'central-dp' && r[4] === '0.25')).toBe(true);
  });

  it('agents, catalog and jobs fit a 120-column terminal', async () => {
    for (const cmd of ['agents', 'catalog', 'jobs']) {
      const r = await fedmesh([cmd, ...conn]);
      expect(r.code, r.stderr).toBe(0);
      const widest = Math.max(...r.stdout.split('\n').map((l) => [...l].length));
      expect(widest, cmd).toBeLessThanOrEqual(120);
    }
  });
});
