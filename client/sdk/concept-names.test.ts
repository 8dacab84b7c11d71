import { describe, expect, it } from 'vitest';
import type { JobView } from './types.js';
import { truncateName, withConceptNames } from './concept-names.js';
import { fitNameColumn, jobToJson, renderJob } from '../cli/format/render.js';
import { resultTable } from './result-table.js';

const LONG = `Gastrointestinal hemorrhage ${'of a very long vocabulary name '.repeat(8)}end`;

function view(kind: string, spec: unknown, result: Partial<NonNullable<JobView['result']>>): JobView {
  return {
    jobId: 'j',
    state: 'succeeded',
    kind,
    researcher: 'alice',
    createdAtMs: 0,
    finishedAtMs: 0,
    agents: { asked: ['a1'], answered: ['a1'], missing: [] },
    result: { columns: [], rows: [], suppressed: [], privacy: { mode: 'none', minCellSize: 10 }, notes: [], agentErrors: {}, ...result },
    error: undefined,
    spec,
  };
}

const aggregate = (names?: Record<string, string>): JobView =>
  view('aggregate', { kind: 'aggregate', groupBy: ['condition_concept_id'] }, {
    columns: ['condition_concept_id', 'count'],
    rows: [{ condition_concept_id: 192671, count: 479 }, { condition_concept_id: 4000001, count: 12 }],
    ...(names ? { conceptNames: names } : {}),
  });

const characterize = (names?: Record<string, string>): JobView =>
  view('characterize', { kind: 'characterize' }, {
    columns: ['count', 'entries'],
    rows: [{ count: 479, entries: 479 }],
    summary: {
      count: 479,
      byAgeBand: [{ band: '0-17', count: 0 }],
      byGender: [{ gender_concept_id: 8507, gender: 'male', count: 250 }, { gender_concept_id: 8532, gender: 'female', count: 229 }],
      conditions: [{ concept_id: 192671, persons: 479, prevalence: 1 }, { concept_id: 4000001, persons: null, prevalence: null }],
      drugs: [],
    },
    ...(names ? { conceptNames: names } : {}),
  });

describe('concept names beside concept ids in what the researcher sees', () => {
  it('aggregate: a <x>_concept_name column right after each <x>_concept_id group column, null where unnamed', () => {
    const j = withConceptNames(aggregate({ 192671: 'Gastrointestinal hemorrhage' }));
    expect(j.result!.columns).toEqual(['condition_concept_id', 'condition_concept_name', 'count']);
    expect(j.result!.rows).toEqual([
      { condition_concept_id: 192671, condition_concept_name: 'Gastrointestinal hemorrhage', count: 479 },
      { condition_concept_id: 4000001, condition_concept_name: null, count: 12 },
    ]);
    expect(withConceptNames(j)).toEqual(j); // idempotent
    // Negative control: without names (no vocabulary anywhere) the result is exactly what came.
    const bare = aggregate();
    expect(withConceptNames(bare)).toBe(bare);
    expect(resultTable(bare).columns).toEqual(['condition_concept_id', 'count']);
  });

  it('aggregate CSV/JSON carry the name; the text table shows id and name side by side', () => {
    const j = aggregate({ 192671: 'Gastrointestinal hemorrhage' });
    expect(resultTable(j).rows[0]).toEqual({ condition_concept_id: 192671, condition_concept_name: 'Gastrointestinal hemorrhage', count: 479 });
    expect((jobToJson(j).rows as Record<string, unknown>[])[0]!.condition_concept_name).toBe('Gastrointestinal hemorrhage');
    expect(jobToJson(j).conceptNames).toEqual({ 192671: 'Gastrointestinal hemorrhage' });
    const line = renderJob(j, false).split('\n').find((l) => l.includes('192671'))!;
    expect(line).toMatch(/192671\s*│\s*Gastrointestinal hemorrhage\s*│\s*479/);
  });

  it('characterize: the cohort CSV concept_name column is filled for conditions and genders (it was empty)', () => {
    const t = resultTable(characterize({ 192671: 'Gastrointestinal hemorrhage', 8507: 'MALE', 8532: 'FEMALE' }));
    const cond = t.rows.find((r) => r.section === 'conditions' && r.concept_id === 192671)!;
    expect(cond).toMatchObject({ label: 'Gastrointestinal hemorrhage', concept_name: 'Gastrointestinal hemorrhage', persons: 479 });
    expect(t.rows.find((r) => r.section === 'conditions' && r.concept_id === 4000001)).toMatchObject({ concept_name: null, persons: null });
    expect(t.rows.find((r) => r.section === 'gender' && r.label === 'male')).toMatchObject({ concept_id: 8507, concept_name: 'MALE' });
    // Negative control: no names → the concept_name of a condition stays empty.
    expect(resultTable(characterize()).rows.find((r) => r.section === 'conditions')!.concept_name).toBeNull();
  });

  it('characterize text: concept_id and name side by side; a long name is cut with … and every line fits 120 columns', () => {
    const out = renderJob(characterize({ 192671: LONG, 8507: 'MALE' }), false);
    const line = out.split('\n').find((l) => l.includes('192671'))!;
    expect(line).toContain('Gastrointestinal hemorrhage');
    expect(line).toContain('…');
    expect(line).not.toContain('end');
    for (const l of out.split('\n')) expect([...l].length, l).toBeLessThanOrEqual(120);
    expect(out).toMatch(/male\s*│\s*8507\s*│\s*MALE/);
    // Without names the table keeps its old three columns.
    expect(renderJob(characterize(), false)).toMatch(/concept_id\s*│\s*persons\s*│\s*prevalence/);
  });

  it('contingency: names of concept levels on rows, a legend for columns, and name columns in the flat table', () => {
    const j = view('contingency', { kind: 'contingency', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [8527, 8516] }, {
      columns: ['gender_concept_id', '8527', '8516'],
      rows: [{ gender_concept_id: 8507, 8527: 20, 8516: 11 }, { gender_concept_id: 8532, 8527: 25, 8516: null }],
      summary: { table: [[20, 11], [25, null]], rowLevels: [8507, 8532], colLevels: [8527, 8516] },
      conceptNames: { 8507: 'MALE', 8532: 'FEMALE', 8527: 'White' },
    });
    const text = renderJob(j, false);
    expect(text).toContain('8507 MALE');
    expect(text).toContain('columns: 8527 = White, 8516 = —');
    const flat = resultTable(j);
    expect(flat.columns).toEqual(['row', 'row_name', 'column', 'column_name', 'persons']);
    expect(flat.rows[0]).toEqual({ row: 8507, row_name: 'MALE', column: 8527, column_name: 'White', persons: 20 });
    expect((jobToJson(j).rows as Record<string, unknown>[])[0]).toMatchObject({ gender_concept_id: 8507, gender_concept_name: 'MALE' });
  });

  it('truncateName and fitNameColumn', () => {
    expect(truncateName('abcdef', 4)).toBe('abc…');
    expect(truncateName('abc', 4)).toBe('abc');
    const rows = fitNameColumn(['concept_id', 'name', 'persons'], [[1, 'x'.repeat(500), 3]], 1);
    expect(rows[0]![1]!.length).toBe(120 - (10 + 2) - (7 + 2) - 4 - 2);
    expect(rows[0]![1]!.endsWith('…')).toBe(true);
  });
});
