/**
 * Mode none, one aggregate job: no figure in the result may give back a count of 1 … k − 1 persons (red team 30).
 * - F1: quantiles at (i + 0.5)/n listed every value of a k-person group, and the values of a withheld histogram bin,
 *   because quantile buckets were never checked: now every bucket is a cell (withheld below k, complementary rule),
 *   and the quantiles are of the values in the released buckets.
 * - F2: count − Σ released bins gave a withheld bin back, and `<field>_missing` a count of 3 missing values: now the
 *   smallest released bin is withheld too when a withheld part is small, and a sum, mean or variance is null (with
 *   its `_n`, `_missing`) when 1 … k − 1 persons' values are missing or sit at one of its bounds (red team 31: sum and
 *   mean together, or narrow bounds, were counts), or hold one of at most 3 distinct values of the group (red team
 *   32, D1: a 0/1 column's sum is its number of ones); a histogram and a quantile of one column are refused.
 * Each case has a control on data where nothing is small, so the checks are not vacuous. One agent, k = 10; a fresh
 * mesh per case (each attack is one job, so the differencing guard plays no part).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writePersonCsv, type PersonRow } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

// 10 "targets" of gender 8507 born 1941 … 1950 (a cell of exactly k); 20 of gender 8532 born 1960 … 1964 (4 a year)
// plus 3 born 1991 … 1993 and 3 with a missing bmi; 20 of gender 0 born 1950 or 1960 (10 each), none missing.
const rows: PersonRow[] = [
  ...[1943, 1941, 1950, 1947, 1944, 1949, 1942, 1946, 1948, 1945].map((y, i) => ({ person_id: i + 1, gender_concept_id: 8507, year_of_birth: y, bmi: 20 + i })),
  ...Array.from({ length: 20 }, (_, i) => ({ person_id: 100 + i, gender_concept_id: 8532, year_of_birth: 1960 + (i % 5), bmi: 25 })),
  ...[1991, 1992, 1993].map((y, i) => ({ person_id: 500 + i, gender_concept_id: 8532, year_of_birth: y, bmi: 30 })),
  ...[1965, 1966, 1967].map((y, i) => ({ person_id: 600 + i, gender_concept_id: 8532, year_of_birth: y, bmi: null })),
  ...Array.from({ length: 20 }, (_, i) => ({ person_id: 700 + i, gender_concept_id: 0, year_of_birth: i < 10 ? 1950 : 1960, bmi: 22 })),
];

let mesh: TestMesh | undefined;
async function run(spec: Record<string, unknown>, data: PersonRow[] = rows): Promise<Record<string, unknown>> {
  mesh = await startMesh({ agentNames: ['a1'] });
  const dir = join(mesh.dir, 'data', 'site-1');
  await writePersonCsv(dir, data);
  await mesh.startAgent('a1', dir);
  await mesh.waitForAgents(1);
  const job = await mesh.client.run({ kind: 'aggregate', product: 'person', privacy: { mode: 'none' }, ...spec });
  expect(job.error, job.error?.message).toBeUndefined();
  return job.result!.rows[0] as Record<string, unknown>;
}
afterEach(async () => {
  await mesh?.close();
  mesh = undefined;
});
const gender = (g: number) => [{ column: 'gender_concept_id', op: '=', value: g }];
const everyDecile = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

describe('mode none aggregate: no small count by quantiles or subtraction (red team 30, F1 and F2)', () => {
  it('F1: quantiles of a k-person group of distinct years are null, not its sorted values', async () => {
    const r = await run({ where: gender(8507), measures: [{ fn: 'count' }, { fn: 'quantile', column: 'year_of_birth', bounds: [1900, 2000], candidates: 101, quantiles: everyDecile }] });
    expect(r.count).toBe(10);
    expect(r.quantile_year_of_birth).toBeNull();
  }, 60_000);

  it('F1 control: a group whose years are buckets of at least k persons gets its quantiles', async () => {
    const r = await run({ where: gender(0), measures: [{ fn: 'quantile', column: 'year_of_birth', bounds: [1900, 2000], candidates: 101, quantiles: [0.25, 0.75] }] });
    expect(r.quantile_year_of_birth).toEqual([1950, 1960]);
    expect(r.quantile_year_of_birth_missing).toBe(0);
  }, 60_000);

  it('F1: quantiles at every 26th never name the 3 persons of the 1990s (their buckets are withheld)', async () => {
    const qs = Array.from({ length: 20 }, (_, i) => (i + 7) / 26);
    const r = await run({ where: gender(8532), measures: [{ fn: 'quantile', column: 'year_of_birth', bounds: [1900, 2000], candidates: 101, quantiles: qs }] });
    const v = r.quantile_year_of_birth as number[] | null;
    expect(v === null || v.every((y) => y < 1990)).toBe(true);
  }, 60_000);

  it('F2: count − Σ released bins is not the 3 persons of a withheld bin (the other bin is withheld too)', async () => {
    const r = await run({ where: gender(8532), measures: [{ fn: 'count' }, { fn: 'histogram', column: 'year_of_birth', bins: [1900, 1980, 2100] }] });
    const hist = r.histogram_year_of_birth as (number | null)[];
    const released = hist.reduce<number>((s, b) => s + (b ?? 0), 0);
    expect(r.count).toBe(26);
    expect(hist).toEqual([null, null]);
    expect((r.count as number) - released).not.toBe(3);
  }, 60_000);

  it('red team 31, F2: 3 persons above the last edge withhold the one bin (the persons below it are readable elsewhere); control: edges around everyone', async () => {
    const r = await run({ where: gender(8532), measures: [{ fn: 'histogram', column: 'year_of_birth', bins: [1963, 1980] }] });
    expect(r.histogram_year_of_birth).toEqual([null]);
    await mesh!.close();
    const c = await run({ where: gender(8532), measures: [{ fn: 'histogram', column: 'year_of_birth', bins: [1900, 2100] }] });
    expect(c.histogram_year_of_birth).toEqual([26]);
  }, 90_000);

  it('F2 control: a histogram with no small bin is released whole and adds up to the count', async () => {
    const r = await run({ where: gender(0), measures: [{ fn: 'count' }, { fn: 'histogram', column: 'year_of_birth', bins: [1900, 1955, 2100] }] });
    expect(r.histogram_year_of_birth).toEqual([10, 10]);
  }, 60_000);

  it('F2: 3 persons with a missing bmi: the mean and the sum of bmi are null with their _n and _missing (count − sum/mean gave 3); control: a group with none missing', async () => {
    const r = await run({ where: gender(8532), measures: [{ fn: 'count' }, { fn: 'mean', column: 'bmi', bounds: [10, 50] }, { fn: 'sum', column: 'bmi', bounds: [10, 50] }] });
    expect(r.count).toBe(26);
    expect([r.mean_bmi, r.mean_bmi_n, r.mean_bmi_missing, r.sum_bmi]).toEqual([null, null, null, null]);
    await mesh!.close();
    const c = await run({ where: gender(0), measures: [{ fn: 'count' }, { fn: 'mean', column: 'bmi', bounds: [10, 50] }, { fn: 'sum', column: 'bmi', bounds: [10, 50] }] });
    expect(c.mean_bmi).toBe(22);
    expect(c.sum_bmi).toBe(440);
    expect(c.mean_bmi_missing).toBe(0);
    expect(c.mean_bmi_n).toBe(20);
  }, 90_000);

  it('red team 31, F3: narrow bounds do not make a mean or a sum a count of the 3 persons born in the 1990s; control: wide bounds', async () => {
    // mean over [1980, 1981] is 1980 + (persons ≥ 1981)/26, sum over [1979, 1980] is 1979·26 + (persons ≥ 1980).
    const r = await run({ where: gender(8532), measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1980, 1981] }, { fn: 'sum', column: 'year_of_birth', bounds: [1979, 1980] }] });
    expect(r.count).toBe(26);
    expect(r.mean_year_of_birth).toBeNull();
    expect(r.sum_year_of_birth).toBeNull();
    await mesh!.close();
    const c = await run({ where: gender(8532), measures: [{ fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }] });
    expect(typeof c.mean_year_of_birth).toBe('number');
  }, 90_000);

  it('red team 32, D1: a column of few values makes its mean a count (bmi 25 for 20 persons, 30 for 3): withheld; control: two values of 10 persons each', async () => {
    // mean = (20·25 + 3·30)/23 gives the 3 persons of bmi 30 back, though none is missing or at a bound of [10, 50].
    const notMissing = [...gender(8532), { column: 'bmi', op: 'is not null' }];
    const r = await run({ where: notMissing, measures: [{ fn: 'count' }, { fn: 'mean', column: 'bmi', bounds: [10, 50] }, { fn: 'sum', column: 'bmi', bounds: [10, 50] }, { fn: 'variance', column: 'bmi', bounds: [10, 50] }] });
    expect(r.count).toBe(23);
    expect([r.mean_bmi, r.mean_bmi_n, r.sum_bmi, r.variance_bmi]).toEqual([null, null, null, null]);
    await mesh!.close();
    const c = await run({ where: gender(0), measures: [{ fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }, { fn: 'sum', column: 'year_of_birth', bounds: [1900, 2030] }] });
    expect(c.mean_year_of_birth).toBe(1955);
    expect(c.sum_year_of_birth).toBe(39_100);
    await mesh!.close();
    // Red team 38, F2: values apart by less than the sums' grid (2^-16) are one value there, and so one class here.
    const near = rows.map((r) => (r.person_id >= 500 && r.person_id < 503 ? { ...r, bmi: 30 + (r.person_id - 500) * 1e-9 } : r));
    const n = await run({ where: notMissing, measures: [{ fn: 'sum', column: 'bmi', bounds: [10, 50] }] }, near);
    expect(n.sum_bmi).toBeNull();
  }, 90_000);

  it('red team 38, F1: a second cut-point on the column splits it into few-valued parts; each part is checked (bmi 20, 21, 22 for 10 persons each, 23 for 2); control: 12 at 23', async () => {
    const fourValues = (at23: number): PersonRow[] => [
      ...[20, 21, 22].flatMap((bmi, v) => Array.from({ length: 10 }, (_, j) => ({ person_id: 1000 + 10 * v + j, gender_concept_id: 8532, year_of_birth: 1960, bmi }))),
      ...Array.from({ length: at23 }, (_, j) => ({ person_id: 2000 + j, gender_concept_id: 8532, year_of_birth: 1960, bmi: 23 })),
    ];
    // A: a histogram edge at 20.5 leaves 21, 22, 23 in the upper bin, whose n, Σx and Σx² give the 2 persons at 23.
    const a = await run({ measures: [{ fn: 'variance', column: 'bmi', bounds: [10, 50] }, { fn: 'mean', column: 'bmi', bounds: [10, 50] }, { fn: 'histogram', column: 'bmi', bins: [10, 20.5, 50] }] }, fourValues(2));
    expect([a.variance_bmi, a.mean_bmi]).toEqual([null, null]);
    await mesh!.close();
    // C: sum over [10, 50] minus 32 × mean over [10, 22] is the 2 persons at 23 (the part above 22 holds 22 and 23).
    const c = await run({ measures: [{ fn: 'sum', column: 'bmi', bounds: [10, 50] }, { fn: 'mean', column: 'bmi', bounds: [10, 22] }] }, fourValues(2));
    expect(c.sum_bmi).toBeNull();
    await mesh!.close();
    // Control: 12 persons at 23, every part's classes at least k: both released, as exact figures.
    const ok = await run({ measures: [{ fn: 'sum', column: 'bmi', bounds: [10, 50] }, { fn: 'mean', column: 'bmi', bounds: [10, 22] }] }, fourValues(12));
    expect(ok.sum_bmi).toBe(630 + 12 * 23);
    expect(ok.mean_bmi).toBeCloseTo(894 / 42, 9);
  }, 90_000);

  it('red team 39: two clamps, a variance and a histogram together are one system of equations (bmi 12, 22, 23, 24 for 10 persons each, 25 for 2: withheld); control: a quantile adds no equation (a mean with a median is released)', async () => {
    const five: PersonRow[] = [
      ...[12, 22, 23, 24].flatMap((bmi, v) => Array.from({ length: 10 }, (_, j) => ({ person_id: 3000 + 10 * v + j, gender_concept_id: 8532, year_of_birth: 1960, bmi }))),
      ...[1, 2].map((j) => ({ person_id: 3100 + j, gender_concept_id: 8532, year_of_birth: 1960, bmi: 25 })),
    ];
    // n, Σx and Σx² over [10, 50], Σ over [10, 22] and the lower bin's count: five equations for five values.
    const r = await run({ measures: [{ fn: 'count' }, { fn: 'sum', column: 'bmi', bounds: [10, 50] }, { fn: 'variance', column: 'bmi', bounds: [10, 50] }, { fn: 'mean', column: 'bmi', bounds: [10, 22] }, { fn: 'histogram', column: 'bmi', bins: [10, 23.5, 50] }] }, five);
    expect([r.sum_bmi, r.variance_bmi]).toEqual([null, null]);
    await mesh!.close();
    // Control: 400 persons born 1940–1979 (10 a year) and 1 in 1920; a quantile's 101 candidates are not parts.
    const years: PersonRow[] = [...Array.from({ length: 400 }, (_, j) => ({ person_id: 4000 + j, gender_concept_id: 8532, year_of_birth: 1940 + (j % 40), bmi: 25 })), { person_id: 4999, gender_concept_id: 8532, year_of_birth: 1920, bmi: 25 }];
    const c = await run({ measures: [{ fn: 'mean', column: 'year_of_birth', bounds: [1900, 2000] }, { fn: 'quantile', column: 'year_of_birth', bounds: [1900, 2000], quantiles: [0.5], candidates: 101 }] }, years);
    expect(c.mean_year_of_birth).toBeCloseTo((400 * 1959.5 + 1920) / 401, 9);
  }, 90_000);

  it('red team 40: a clamp part with histogram bins inside it is one system too (the 2 persons at 37 above a mean bound of 30: withheld); a 1 000-bin histogram with a mean of its column runs', async () => {
    const spread: PersonRow[] = [
      ...[11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28, 29, 31, 36, 45].flatMap((bmi, v) => Array.from({ length: 10 }, (_, j) => ({ person_id: 5000 + 10 * v + j, gender_concept_id: 8532, year_of_birth: 1960, bmi }))),
      ...[1, 2].map((j) => ({ person_id: 5900 + j, gender_concept_id: 8532, year_of_birth: 1960, bmi: 37 })),
    ];
    // sum − n × mean over [10, 30] isolates Σ(x − 30) above 30; the bins 30–35, 35–40, 40–50 count its parts.
    const r = await run({ measures: [{ fn: 'count' }, { fn: 'sum', column: 'bmi', bounds: [10, 50] }, { fn: 'mean', column: 'bmi', bounds: [10, 30] }, { fn: 'histogram', column: 'bmi', bins: [10, 30, 35, 40, 50] }] }, spread);
    expect(r.count).toBe(212);
    expect(r.sum_bmi).toBeNull();
    await mesh!.close();
    // Control for the query's shape: 999 edges inside the mean's bounds (DuckDB's expression depth limit is 1 000).
    const edges = Array.from({ length: 1001 }, (_, e) => e / 10);
    const big = await run({ measures: [{ fn: 'mean', column: 'bmi', bounds: [0, 100] }, { fn: 'histogram', column: 'bmi', bins: edges }] });
    expect(typeof big.mean_bmi === 'number' || big.mean_bmi === null).toBe(true);
  }, 90_000);

  it('red team 31, F2: a histogram and a quantile of one column are refused in mode none (their overlap gave 3 back)', async () => {
    mesh = await startMesh({ agentNames: ['a1'] });
    const dir = join(mesh.dir, 'data', 'site-1');
    await writePersonCsv(dir, rows);
    await mesh.startAgent('a1', dir);
    await mesh.waitForAgents(1);
    const spec = { kind: 'aggregate', product: 'person', where: gender(8532), measures: [{ fn: 'count' }, { fn: 'histogram', column: 'year_of_birth', bins: [1963, 1980] }, { fn: 'quantile', column: 'year_of_birth', bounds: [1900, 2026], candidates: 3, quantiles: [0.44, 0.46, 0.47] }], privacy: { mode: 'none' } };
    const refused = await mesh.client.run(spec).then((j) => j.error, (e: Error) => e);
    expect(refused?.message).toMatch(/measures\[2\].*one histogram or one quantile/);
    // Control: the quantile alone runs.
    const alone = await mesh.client.run({ ...spec, measures: [spec.measures[2]!] });
    expect(alone.error).toBeUndefined();
  }, 90_000);
  it('secagg: inside a secure sum the mean of a group with 3 missing values cannot be withheld alone, so the job is refused naming the measure; control: a group with none missing', async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2', 'a3'] });
    for (const [i, name] of ['a1', 'a2', 'a3'].entries()) {
      const dir = join(mesh.dir, 'data', `site-${i + 1}`);
      await writePersonCsv(dir, rows.map((r) => ({ ...r, person_id: r.person_id + 10_000 * i })));
      await mesh.startAgent(name, dir);
    }
    await mesh.waitForAgents(3);
    const spec = (g: number) => ({ kind: 'aggregate', product: 'person', where: gender(g), measures: [{ fn: 'count' }, { fn: 'mean', column: 'bmi', bounds: [10, 50] }], privacy: { mode: 'none' }, secure: 'secagg' });
    const refused = await mesh.client.run(spec(8532)).then((j) => j.error, (e: Error) => e);
    expect(refused?.message).toMatch(/measures\[1\].*missing, at a bound/);
    // Few values (red team 32, D1): without the missing ones, the group's bmi is 25 (20 persons) or 30 (3 persons).
    const few = await mesh.client.run({ ...spec(8532), where: [...gender(8532), { column: 'bmi', op: 'is not null' }] }).then((j) => j.error, (e: Error) => e);
    expect(few?.message).toMatch(/measures\[1\].*one of its few values \(at most 3 distinct\)/);
    const ok = await mesh.client.run(spec(0));
    expect(ok.error, ok.error?.message).toBeUndefined();
    expect(ok.result!.rows[0]).toMatchObject({ count: 60, mean_bmi: 22 });
    // A histogram's values in no bin: the totals give only missing + below + above, so the agent refuses when one of
    // them is small (3 missing bmi; 3 born after the last edge of 1980); a quantile's missing values likewise.
    const hist = (g: number, column: string, bins: number[]) => ({ ...spec(g), measures: [{ fn: 'count' }, { fn: 'histogram', column, bins }] });
    const missing = await mesh.client.run(hist(8532, 'bmi', [10, 60])).then((j) => j.error, (e: Error) => e);
    expect(missing?.message).toMatch(/measures\[1\].*missing, below the first edge or above the last/);
    const above = await mesh.client.run(hist(8532, 'year_of_birth', [1900, 1980])).then((j) => j.error, (e: Error) => e);
    expect(above?.message).toMatch(/measures\[1\].*missing, below the first edge or above the last/);
    const quantile = await mesh.client.run({ ...spec(8532), measures: [{ fn: 'quantile', column: 'bmi', bounds: [10, 50], quantiles: [0.5] }] }).then((j) => j.error, (e: Error) => e);
    expect(quantile?.message).toMatch(/measures\[0\].*values are missing; inside a secure sum/);
    // Controls: edges around every year; a quantile of a column none misses.
    const around = await mesh.client.run(hist(8532, 'year_of_birth', [1900, 2100]));
    expect(around.error, around.error?.message).toBeUndefined();
    expect(around.result!.rows[0]).toMatchObject({ count: 78, histogram_year_of_birth: [78] });
    const q = await mesh.client.run({ ...spec(0), measures: [{ fn: 'quantile', column: 'year_of_birth', bounds: [1900, 2000], quantiles: [0.5] }] });
    expect(q.error, q.error?.message).toBeUndefined();
  }, 180_000);
});
