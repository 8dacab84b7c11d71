import { describe, expect, it } from 'vitest';
import { INGEST_STATUS_LIMITS } from '../../common/agent-protocol.js';
import type { FolderIngestReport } from './ingest-folder.js';
import { coarsenNoticeText, publicIngestStatus } from './ingest-status.js';

const empty: FolderIngestReport = { files: [], removed: [], formats: [], warnings: [] };

describe('coarsenNoticeText', () => {
  it('coarsens counts like the quality metrics: below k "<k", else two significant figures', () => {
    expect(coarsenNoticeText('3 duplicate person_id values in table person', 10)).toBe('<10 duplicate person_id values in table person');
    expect(coarsenNoticeText('12 duplicate person_id values in table person', 10)).toBe('12 duplicate person_id values in table person');
    expect(coarsenNoticeText('skipped 1234 resources of types not ingested: Claim 1017, Coverage 5', 10))
      .toBe('skipped 1200 resources of types not ingested: Claim 1000, Coverage <10');
  });

  it('drops row and line positions, keeps numbers inside names, and keeps only the first line', () => {
    expect(coarsenNoticeText('column year_of_birth: 2 bad values, expected an integer (first at row 17)', 5)).toBe('column year_of_birth: <5 bad values, expected an integer');
    expect(coarsenNoticeText('Conversion Error: at line 42 something', 5)).toBe('Conversion Error: something');
    expect(coarsenNoticeText('column icd10_code is not in OMOP CDM v5.4 table person; dropped\nperson.csv:3: more', 10))
      .toBe('column icd10_code is not in OMOP CDM v5.4 table person; dropped');
  });

  it('coarsens a count that ends a sentence and a decimal too (it used to pass "3." and "1234.5" through)', () => {
    expect(coarsenNoticeText('duplicate person_id values: 3.', 10)).toBe('duplicate person_id values: <10.');
    expect(coarsenNoticeText('mean row length 1234.5 bytes', 10)).toBe('mean row length 1200 bytes');
    expect(coarsenNoticeText('version v5.4 and icd10_code stay', 10)).toBe('version v5.4 and icd10_code stay');
  });

  it('bounds the length', () => {
    expect(coarsenNoticeText('x'.repeat(5000), 10)).toHaveLength(INGEST_STATUS_LIMITS.maxMessageChars);
  });

  it('refuses a bad k', () => {
    expect(() => coarsenNoticeText('1 row', 0)).toThrow(/minCellSize/);
  });
});

describe('publicIngestStatus', () => {
  it('is ok with nothing to say', () => {
    expect(publicIngestStatus({ report: empty, dataDir: '/data', minCellSize: 10, atMs: 5 })).toEqual({ state: 'ok', failed: [], notices: [], omitted: 0, atMs: 5 });
  });

  it('says an OMOP ingest failed, lists its problems with paths relative to the data folder and no line numbers', () => {
    const report: FolderIngestReport = {
      ...empty,
      formats: [{
        kind: 'omop', action: 'failed',
        error: 'OMOP CDM v5.4 ingest refused (2 problems):\n/data/omop/person.csv:7: column year_of_birth: 1 bad value',
        issues: [
          { file: '/data/omop/person.csv', line: 7, message: 'column year_of_birth: 1 bad value, expected an integer' },
          { file: '/data/omop', message: 'required OMOP table observation_period is missing' },
        ],
      }],
      warnings: [{ file: 'notes.csv', product: 'notes', message: 'no data rows; product notes is served empty' }],
    };
    const s = publicIngestStatus({ report, dataDir: '/data', minCellSize: 10, atMs: 1 });
    expect(s.state).toBe('failed');
    expect(s.failed).toEqual(['omop']);
    expect(s.notices).toEqual([
      { severity: 'error', source: 'omop', message: 'OMOP ingest failed; the agent serves its previous OMOP data, if any: OMOP CDM v5.4 ingest refused (<10 problems):' },
      { severity: 'error', source: 'omop/person.csv', message: 'column year_of_birth: <10 bad value, expected an integer' },
      { severity: 'error', source: 'omop', message: 'required OMOP table observation_period is missing' },
      { severity: 'warning', source: 'notes.csv', message: 'no data rows; product notes is served empty' },
    ]);
    expect(JSON.stringify(s)).not.toContain('/data/');
  });

  it('names a refused plain file as failed', () => {
    const report: FolderIngestReport = { ...empty, files: [{ product: 'labs', file: 'labs.csv', action: 'failed', error: 'schema changed incompatibly', line: 1 }] };
    const s = publicIngestStatus({ report, dataDir: '/data', minCellSize: 10, atMs: 1 });
    expect(s).toMatchObject({ state: 'failed', failed: ['labs.csv'], notices: [{ severity: 'error', source: 'labs.csv' }] });
  });

  it('sends at most maxNotices notices, errors first, and says how many it left out', () => {
    const warnings = Array.from({ length: 30 }, (_, i) => ({ file: `f${i}.csv`, message: 'no data rows' }));
    const report: FolderIngestReport = { ...empty, warnings, files: [{ product: 'x', file: 'x.csv', action: 'failed', error: 'bad' }] };
    const s = publicIngestStatus({ report, dataDir: '/data', minCellSize: 10, atMs: 1, manifestIssues: [{ message: 'fedmesh.products.json: products.x.bounds.y: lo >= hi' }] });
    expect(s.notices).toHaveLength(INGEST_STATUS_LIMITS.maxNotices);
    expect(s.notices[0]!.severity).toBe('error');
    expect(s.omitted).toBe(1 + 30 + 1 - INGEST_STATUS_LIMITS.maxNotices);
  });
});
