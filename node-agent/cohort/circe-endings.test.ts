/**
 * How cohort entries end, one construct per test on hand-made fixtures: date offset (capped at the observation
 * end), custom drug era, censoring events, era collapse with pad, censor window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { circe, conceptSet, runAndRead } from './test-circe.js';
import { omopDbWith } from './test-omop.js';
import type { TestDb } from './test-omop.js';

const MALE = 8507;
const sets = [conceptSet(0, [100]), conceptSet(1, [500]), conceptSet(2, [700])];
const condition = { ConditionOccurrence: { CodesetId: 0 } };
const dateOffset = (field: 'StartDate' | 'EndDate', offset: number) => ({
  EndStrategy: { DateOffset: { DateField: field, Offset: offset } },
});

describe('end strategies, censoring, collapse, censor window', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await omopDbWith({
      concept: [
        [100, 'condition', null],
        [500, 'drug', null],
        [501, 'drug source', null],
        [700, 'procedure', null],
      ],
      person: [1, 2, 3, 4].map((p) => [p, MALE, 1970, 0, 0]),
      observation_period: [
        [1, 1, '2020-01-01', '2020-12-31'],
        [2, 2, '2020-01-01', '2020-12-31'],
        [3, 3, '2020-01-01', '2020-03-31'],
        [4, 4, '2020-01-01', '2020-12-31'],
      ],
      condition_occurrence: [
        [1, 1, 100, '2020-01-01', '2020-01-03', null, 0],
        [2, 1, 100, '2020-01-10', null, null, 0],
        [3, 1, 100, '2020-02-01', null, null, 0],
        [4, 3, 100, '2020-03-28', null, null, 0],
      ],
      drug_exposure: [
        [1, 2, 500, '2020-01-01', '2020-01-10', null, null, 0],
        [2, 2, 0, '2020-01-20', '2020-01-30', null, null, 500], // matched through drug_source_concept_id
        [3, 4, 500, '2020-12-01', '2020-12-20', null, null, 0],
        [4, 4, 500, '2020-12-25', null, 30, null, 0],
      ],
      procedure_occurrence: [
        [1, 1, 700, '2020-01-12', null],
        [2, 1, 700, '2019-12-01', null],
      ],
    });
  });
  afterAll(() => db.close());

  it('DateOffset from the start date, capped at the observation period end', async () => {
    const { rows } = await runAndRead(db.conn, circe(sets, [condition], dateOffset('StartDate', 5)));
    expect(rows).toEqual([
      [1, '2020-01-01', '2020-01-06'],
      [1, '2020-01-10', '2020-01-15'],
      [1, '2020-02-01', '2020-02-06'],
      [3, '2020-03-28', '2020-03-31'],
    ]);
  });

  it('DateOffset from the end date (missing condition end = start + 1); touching entries merge', async () => {
    const { rows } = await runAndRead(db.conn, circe(sets, [condition], dateOffset('EndDate', 7)));
    // 01-01 ends 01-03 + 7 = 01-10, the day the next entry starts (01-11 + 7 = 01-18).
    expect(rows).toEqual([
      [1, '2020-01-01', '2020-01-18'],
      [1, '2020-02-01', '2020-02-09'],
      [3, '2020-03-28', '2020-03-31'],
    ]);
  });

  it('collapses entries into eras when they are at most EraPad days apart', async () => {
    const pad = async (n: number) =>
      (await runAndRead(db.conn, circe(sets, [condition], { ...dateOffset('StartDate', 5), CollapseSettings: { CollapseType: 'ERA', EraPad: n } }))).rows.filter(
        (r) => r[0] === 1,
      );
    // Entries 01-01..01-06, 01-10..01-15, 02-01..02-06: the first gap is 4 days.
    expect(await pad(3)).toHaveLength(3);
    expect(await pad(4)).toEqual([
      [1, '2020-01-01', '2020-01-15'],
      [1, '2020-02-01', '2020-02-06'],
    ]);
    expect(await pad(17)).toEqual([[1, '2020-01-01', '2020-02-06']]);
  });

  it('overlapping entries always merge, even with EraPad 0', async () => {
    const { rows } = await runAndRead(db.conn, circe(sets, [condition], dateOffset('StartDate', 22)));
    expect(rows.filter((r) => r[0] === 1)).toEqual([[1, '2020-01-01', '2020-02-23']]);
  });

  it('a censoring event ends the entry at its start date; earlier ones are ignored', async () => {
    const { rows } = await runAndRead(
      db.conn,
      circe(sets, [condition], { CensoringCriteria: [{ ProcedureOccurrence: { CodesetId: 2 } }] }, { limit: 'First' }),
    );
    expect(rows).toEqual([
      [1, '2020-01-01', '2020-01-12'],
      [3, '2020-03-28', '2020-03-31'],
    ]);
  });

  it('CensorWindow clips entries and drops those left empty', async () => {
    const { rows } = await runAndRead(
      db.conn,
      circe(sets, [condition], { ...dateOffset('StartDate', 5), CensorWindow: { StartDate: '2020-01-04', EndDate: '2020-01-31' } }),
    );
    expect(rows).toEqual([
      [1, '2020-01-04', '2020-01-06'],
      [1, '2020-01-10', '2020-01-15'],
    ]);
  });

  describe('CustomEra (drug era of a codeset around the index date)', () => {
    const drugEntry = { DrugExposure: { CodesetId: 1 } };
    const customEra = (o: Record<string, unknown>) => ({ EndStrategy: { CustomEra: { DrugCodesetId: 1, ...o } } });
    const endFor = async (person: number, o: Record<string, unknown>) =>
      (await runAndRead(db.conn, circe(sets, [drugEntry], customEra(o), { limit: 'First' }))).rows.filter((r) => r[0] === person);

    // Person 2: exposures 01-01..01-10 and (by source concept) 01-20..01-30, a 10-day gap.
    it('merges exposures within GapDays', async () => {
      expect(await endFor(2, { GapDays: 15, Offset: 0 })).toEqual([[2, '2020-01-01', '2020-01-30']]);
    });
    it('keeps them apart beyond GapDays', async () => {
      expect(await endFor(2, { GapDays: 5, Offset: 0 })).toEqual([[2, '2020-01-01', '2020-01-10']]);
    });
    it('adds Offset to the era end (and, as Circe, to the padding)', async () => {
      expect(await endFor(2, { GapDays: 5, Offset: 3 })).toEqual([[2, '2020-01-01', '2020-01-13']]);
      expect(await endFor(2, { GapDays: 5, Offset: 6 })).toEqual([[2, '2020-01-01', '2020-02-05']]);
    });
    it('DaysSupplyOverride replaces each exposure length', async () => {
      expect(await endFor(2, { GapDays: 0, Offset: 0, DaysSupplyOverride: 3 })).toEqual([[2, '2020-01-01', '2020-01-04']]);
    });
    it('is capped at the observation period end', async () => {
      // Person 4: 12-01..12-20 and 12-25 + 30 days supply → era past 12-31.
      expect(await endFor(4, { GapDays: 10, Offset: 0 })).toEqual([[4, '2020-12-01', '2020-12-31']]);
    });
    it('falls back to the observation end when the index is in no era', async () => {
      const { rows } = await runAndRead(db.conn, circe(sets, [condition], customEra({ GapDays: 0 }), { limit: 'First' }));
      expect(rows).toEqual([
        [1, '2020-01-01', '2020-12-31'],
        [3, '2020-03-28', '2020-03-31'],
      ]);
    });
  });
});
