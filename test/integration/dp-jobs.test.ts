import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

/** Differentially private aggregate jobs end to end: noise, stated std, budgets reserved durably and atomically. */
describe('DP aggregate jobs', () => {
  let mesh: TestMesh;
  let admin: CoordinatorClient;
  const sizes = [400, 300, 300];
  const persons = sizes.flatMap((n, i) => makePersons(n, 100 + i, (i + 1) * 100_000));

  beforeAll(async () => {
    // 100 submissions at once race for the budget below: the running-jobs limit (32 by default) is lifted for it.
    mesh = await startMesh({ agentNames: ['a1', 'a2', 'a3'], maxRunningJobsPerResearcher: 200 });
    let at = 0;
    for (const [i, n] of sizes.entries()) {
      const dir = join(mesh.dir, 'data', `s${i}`);
      await writePersonCsv(dir, persons.slice(at, at + n));
      at += n;
      await mesh.startAgent(`a${i + 1}`, dir, { allowModes: ['none', 'central-dp', 'local-dp'], budgetCap: { epsilon: 1000, delta: 1e-3 } });
    }
    await mesh.waitForAgents(3);
    admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    await admin.setBudget('researcher', { population: 'person' }, 1000, 1e-3);
  });
  afterAll(async () => {
    admin?.close();
    await mesh?.close();
  });

  it('central-dp (the default mode) releases noisy values with their std and 95% interval, close to the truth', async () => {
    const job = await mesh.client.run({
      kind: 'aggregate',
      product: 'person',
      groupBy: ['gender_concept_id'],
      groupKeys: { gender_concept_id: [8507, 8532] },
      measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }, { fn: 'histogram', column: 'year_of_birth', bins: [1930, 1970, 2010] }],
      privacy: { epsilon: 3, delta: 1e-6 },
    });
    expect(job.error).toBeUndefined();
    const privacy = job.result!.privacy as { mode: string; spent: { rho: number; epsilon: number } };
    expect(privacy.mode).toBe('central-dp');
    expect(privacy.spent.epsilon).toBeLessThanOrEqual(3 + 1e-9);
    for (const g of [8507, 8532]) {
      const truth = persons.filter((p) => p.gender_concept_id === g);
      const row = job.result!.rows.find((r) => r.gender_concept_id === g)!;
      const std = row.count_std as number;
      expect(std).toBeGreaterThan(0.5);
      // Tolerance: 6 standard deviations of the stated noise (fails with probability < 1e-8 per value).
      expect(Math.abs((row.count as number) - truth.length)).toBeLessThan(6 * std);
      const [lo, hi] = row.count_ci95 as [number, number];
      expect(lo).toBeLessThan(row.count as number);
      expect(hi).toBeGreaterThan(row.count as number);
      const meanTruth = truth.reduce((s, p) => s + p.year_of_birth, 0) / truth.length;
      expect(Math.abs((row.mean_year_of_birth as number) - meanTruth)).toBeLessThan(6 * (row.mean_year_of_birth_std as number) + 1e-9);
      expect((row.histogram_year_of_birth as number[]).length).toBe(2);
      expect(row.histogram_year_of_birth_std).toBeGreaterThan(0);
    }
  });

  it('quantiles: at the grid resolution in mode none (of the buckets released as cells), chosen by permute-and-flip under central-dp', async () => {
    const measure = { fn: 'quantile', column: 'year_of_birth', bounds: [1930, 2010], quantiles: [0.25, 0.5, 0.75], candidates: 81 };
    // Mode none: every bucket is a cell of at least k persons at each agent (else left out), so the exact answer
    // needs buckets that hold k persons: decades here (9 candidates over 1930..2010, about 40 persons each per agent).
    const exact = await mesh.client.run({ kind: 'aggregate', product: 'person', measures: [{ ...measure, candidates: 9 }], privacy: { mode: 'none' } });
    expect(exact.error).toBeUndefined();
    const sorted = persons.map((p) => p.year_of_birth).sort((a, b) => a - b);
    const truth = [0.25, 0.5, 0.75].map((q) => sorted[Math.floor(q * sorted.length)]!);
    const got = exact.result!.rows[0]!.quantile_year_of_birth as number[];
    // The lower quantile on the grid: the decade that holds the order statistic, or the one next to it when an agent
    // left buckets out (a small edge bucket withholds its released bucket of fewest persons too: red team 30, F2).
    got.forEach((v, i) => expect(Math.abs(v - (1930 + 10 * Math.floor((truth[i]! - 1930) / 10)))).toBeLessThanOrEqual(10));
    const noisy = await mesh.client.run({ kind: 'aggregate', product: 'person', measures: [measure], privacy: { epsilon: 2 } });
    expect(noisy.error).toBeUndefined();
    const dpv = noisy.result!.rows[0]!.quantile_year_of_birth as number[];
    const bounds = noisy.result!.rows[0]!.quantile_year_of_birth_rankErrorBound95 as number[];
    // Tolerance: the stated 95% rank-error bound, converted to years via the data's density (1000 persons over 80 years), ×3.
    dpv.forEach((v, i) => expect(Math.abs(v - truth[i]!)).toBeLessThanOrEqual(3 * (bounds[i]! / (persons.length / 80)) + 1));
    const local = await mesh.client.submitJob({ kind: 'aggregate', product: 'person', measures: [measure], privacy: { mode: 'local-dp', epsilon: 1 } }).catch((e: unknown) => e);
    expect((local as Error).message).toMatch(/measures\[0\]\.fn: quantile needs mode central-dp/);
  });

  it('the released values are noisy: two identical jobs differ (negative control for "no noise")', async () => {
    // ε = 0.1: discrete Laplace of scale 10, P(X = k) ≤ 0.05, so five equal draws happen with probability < 1e-5
    // (at ε = 0.5 and four draws it was about 1 %, and it did flake).
    const spec = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 0.1 } };
    const values = new Set<number>();
    for (let i = 0; i < 5; i++) values.add((await mesh.client.run(spec)).result!.rows[0]!.count as number);
    expect(values.size).toBeGreaterThan(1);
  });

  it('local-dp: each agent noises its own statistics; std grows by √(agents)', async () => {
    const job = await mesh.client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'local-dp', rho: 0.5 } });
    expect(job.error).toBeUndefined();
    const row = job.result!.rows[0]!;
    // σ² = 1/(2ρ) = 1 per agent (rounded up to 20 bits), three agents: std ≈ √3.
    expect(row.count_std as number).toBeCloseTo(Math.sqrt(3), 2);
    expect(Math.abs((row.count as number) - persons.length)).toBeLessThan(6 * (row.count_std as number));
  });

  it('group-by on data-dependent keys uses DP partition selection and needs delta', async () => {
    const err = await mesh.client.submitJob({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { epsilon: 1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FedmeshError);
    expect((err as FedmeshError).message).toMatch(/privacy\.delta: groupBy without public groupKeys uses DP partition selection/);
    const job = await mesh.client.run({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { epsilon: 2, delta: 1e-6 } });
    expect(job.state).toBe('succeeded');
    const sel = (job.result!.privacy as { partitionSelection: { threshold: number; kept: number } }).partitionSelection;
    expect(sel.threshold).toBeGreaterThan(1);
    expect(sel.kept).toBe(2); // both genders have hundreds of persons, far above any threshold
  });

  it('100 concurrent jobs against a budget that fits 10 admit at most 10, and the ledger says so', async () => {
    await admin.setBudget('alice', { population: 'person' }, 10 * 0.3 * (1 + 1e-9), 1e-6);
    const alice = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'alice') });
    try {
      // Pure ε-DP jobs (discrete Laplace) compose additively: ε = 0.3 each, ten fit in 3.0.
      const spec = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 0.3 } };
      const results = await Promise.allSettled(Array.from({ length: 100 }, () => alice.submitJob(spec)));
      const admitted = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(admitted.length).toBe(10);
      expect(refused.every((r) => (r.reason as FedmeshError).code === 'BUDGET_EXHAUSTED')).toBe(true);
      expect((refused[0]!.reason as FedmeshError).details.grpcStatus).toBe('RESOURCE_EXHAUSTED');
      expect((refused[0]!.reason as FedmeshError).message).toMatch(/privacy budget exhausted for researcher alice on population person \(products [^)]*person/);
      await Promise.all(admitted.map((r) => alice.watchJob((r as PromiseFulfilledResult<{ jobId: string }>).value.jobId)));
      const report = await alice.getBudget();
      const e = report.entries.find((x) => x.population === 'person')!;
      expect(e.jobs).toBe(10);
      expect(e.reserved).toBe(0);
      expect(e.spentEpsilon).toBeLessThanOrEqual(e.budgetEpsilon);
    } finally {
      alice.close();
    }
  });

  it('only administrators set budgets; researchers see only their own', async () => {
    const err = await mesh.client.setBudget('researcher', 'person', 99, 1e-6).catch((e: unknown) => e);
    expect((err as FedmeshError).code).toBe('POLICY_DENIED');
    const other = await mesh.client.getBudget('alice').catch((e: unknown) => e);
    expect((other as FedmeshError).code).toBe('POLICY_DENIED');
    const all = await admin.getBudget();
    expect(all.entries.map((e) => e.researcher)).toEqual(expect.arrayContaining(['alice', 'researcher']));
  });
});
