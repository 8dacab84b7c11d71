/**
 * Engine errors quote row values (red team 16): none reaches a researcher through the ingest status published with
 * the agent's registration, nor the agent's own log. Each case fails without its fix:
 * - a FHIR MedicationRequest with a supply of 2 987 654 321 days made the FHIR → OMOP mapping's integer cast fail,
 *   and DuckDB's message, naming the value, was published (rounded to 3000000000) as the FHIR ingest's error;
 * - a ragged consent.csv line was logged whole (a person id, their decision, free text);
 * - `describeReadError` left unquoted values in cast and overflow errors.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { ConsentScopes } from '../policy/consent-context.js';
import { ingestDataFolder } from './ingest-folder.js';
import { publicIngestStatus } from './ingest-status.js';
import { describeReadError } from './read-error.js';

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'fedmesh-engine-text-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('engine error texts', () => {
  it('a FHIR supply out of the INTEGER range loads (its end date falls back to the start) and no value is published; control: a normal supply is kept', async () => {
    await withDir(async (dir) => {
      const request = (id: string, days: number) => ({ resourceType: 'MedicationRequest', id, status: 'active', intent: 'order', subject: { reference: 'Patient/p-1' }, authoredOn: '2020-01-01', medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '1191' }] }, dispenseRequest: { expectedSupplyDuration: { value: days, unit: 'days' } } });
      const lines = [{ resourceType: 'Patient', id: 'p-1', gender: 'female', birthDate: '1970-01-01' }, request('m-1', 2987654321), request('m-2', 30)];
      await writeFile(join(dir, 'data.ndjson'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
      const inst = await DuckDBInstance.create(':memory:');
      const conn = await inst.connect();
      try {
        const report = await ingestDataFolder(conn, dir);
        const status = publicIngestStatus({ report, dataDir: dir, minCellSize: 10, atMs: 0 });
        expect(JSON.stringify(report.formats)).not.toMatch(/298765|3000000000|Conversion/);
        expect(JSON.stringify(status)).not.toMatch(/298765|3000000000|Conversion/);
        expect(report.formats.find((f) => f.kind === 'fhir')?.action).toBe('loaded');
        const rows = (await (await conn.runAndReadAll('SELECT days_supply FROM drug_exposure ORDER BY days_supply NULLS FIRST')).getRowObjectsJS()).map((r) => r['days_supply']);
        expect(rows).toEqual([30n, 2987654321n]);
      } finally {
        conn.closeSync();
        inst.closeSync();
      }
    });
  });

  it('a ragged consent.csv line is not logged (the load still fails closed, naming the line)', async () => {
    await withDir(async (dir) => {
      const good = Array.from({ length: 30_000 }, (_, i) => `${1000 + i},HRESCH,permit,2020-01-01,2030-01-01`).join('\n');
      await writeFile(join(dir, 'consent.csv'), `person_id,purpose,decision,start,end\n${good}\n4242,HRESCH,deny,2021-02-03,2030-01-01,PATIENT-JANE-DOE\n`);
      const inst = await DuckDBInstance.create(':memory:');
      const conn = await inst.connect();
      const logged: string[] = [];
      try {
        const scopes = new ConsentScopes(dir, (event, fields) => logged.push(`${event} ${JSON.stringify(fields)}`));
        await scopes.reload(conn, () => []);
      } finally {
        conn.closeSync();
        inst.closeSync();
      }
      const failed = logged.filter((l) => l.startsWith('consent-load-failed'));
      expect(failed, logged.join('\n')).toHaveLength(1);
      expect(failed[0]).not.toMatch(/4242|JANE|2021-02-03/);
    });
  });

  it('describeReadError drops unquoted values from cast and overflow errors; control: a column name and the line stay', () => {
    const cast = describeReadError(new Error("Conversion Error: Type DOUBLE with value 2987654320.0 can't be cast because the value is out of range for the destination type INT32"));
    expect(cast.message).not.toContain('2987654320');
    expect(cast.message).toContain('INT32');
    const overflow = describeReadError(new Error('Out of Range Error: Overflow in multiplication of INT64 (123456789 * 1000)!'));
    expect(overflow.message).not.toMatch(/123456789/);
    for (const raw of ["Conversion Error: Type INT32 with value 5877000-04-07 can't be cast because the value is out of range for the destination type DATE", 'Conversion Error: Date out of range: 2021-2-31']) {
      expect(describeReadError(new Error(raw)).message).not.toMatch(/04-07|2021-2-31/);
    }
    const csv = describeReadError(new Error('Invalid Input Error: CSV Error on Line: 17\nOriginal Line: 4242,JANE\nError when converting column "year_of_birth". Could not convert string "19x1" to \'INTEGER\''));
    expect(csv.line).toBe(17);
    expect(csv.message).toContain('column "year_of_birth"');
    expect(csv.message).not.toMatch(/4242|JANE|19x1/);
  });
});
