import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/tools/synth/index.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const diabetes = {
  name: 'type 2 diabetes',
  entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' },
  observation: { priorDays: 0, postDays: 0 },
  inclusionRules: [{ name: 'age 40+', type: 'age', min: 40 }],
};

/** Cohort-level jobs (cohort, survival) summed by secure aggregation: SecAgg and HE, modes none and distributed-dp. */
describe('secure aggregation in cohort-level jobs', () => {
  let mesh: TestMesh;
  const sites = ['s1', 's2', 's3'];

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: sites });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 3, persons: 600, seed: 11, format: 'parquet' });
    const policy = { allowModes: ['none' as const, 'central-dp' as const, 'distributed-dp' as const], minCellSize: 1, budgetCap: { epsilon: 1e4, delta: 1e-3 } };
    for (const [i, s] of synth.sites.entries()) await mesh.startAgent(sites[i]!, s.dir, policy);
    await mesh.waitForAgents(3, 60_000);
    const admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    await admin.setBudget('researcher', { population: 'person' }, 1e4, 1e-3);
    admin.close();
  }, 120_000);
  afterAll(async () => mesh?.close());

  const cohort = { kind: 'cohort', definition: diabetes, privacy: { mode: 'none' }, agents: sites };
  const survival = { kind: 'survival', target: diabetes, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 180, maxDays: 3650 }, strata: 'gender', privacy: { mode: 'none' }, agents: sites };

  it('secagg cohort in mode none equals the plaintext job exactly', async () => {
    const plain = await mesh.client.run(cohort);
    const secure = await mesh.client.run({ ...cohort, secure: 'secagg' });
    expect(plain.error).toBeUndefined();
    expect(secure.error).toBeUndefined();
    expect(secure.agents.answered).toEqual(sites);
    const p = plain.result!.summary!;
    const s = secure.result!.summary!;
    expect(s.count).toBeGreaterThan(20);
    for (const k of ['count', 'entries', 'byAgeBand', 'byGender', 'attrition']) expect(s[k], k).toEqual(p[k]);
    expect(secure.result!.rows).toEqual(plain.result!.rows);
    expect(s.byAgent).toBeUndefined(); // no per-agent counts exist in a secure job
    expect(secure.result!.privacy).toMatchObject({ mode: 'none', secure: 'secagg', exact: true, minCellSize: 1, contributors: 3 });
  });

  it('secagg Kaplan–Meier in mode none equals the plaintext curves and log-rank test exactly', async () => {
    const plain = await mesh.client.run(survival);
    const secure = await mesh.client.run({ ...survival, secure: 'secagg' });
    expect(secure.error).toBeUndefined();
    expect((secure.result!.summary!.curves as unknown[]).length).toBeGreaterThanOrEqual(2);
    expect(secure.result!.summary!.curves).toEqual(plain.result!.summary!.curves);
    expect(secure.result!.summary!.logRank).toEqual(plain.result!.summary!.logRank);
    expect(secure.result!.rows).toEqual(plain.result!.rows);
  });

  it('secagg Kaplan–Meier in distributed-dp: noisy counts with their std, charged for n − tolerated shares', async () => {
    const r = await mesh.client.run({ ...survival, strata: 'none', timeGrid: { binDays: 365, maxDays: 3650 }, privacy: { mode: 'distributed-dp', rho: 0.5 }, secure: 'secagg' });
    expect(r.error).toBeUndefined();
    // On the kind seam (jobs/survival-km) the statement is the seam's: the job's ρ, and the shares it was charged for.
    const privacy = r.result!.privacy as { mode: string; tolerated: number; rho: number; guarantee: { rho: number; colluders: string } };
    expect(privacy).toMatchObject({ mode: 'distributed-dp', secure: 'secagg', tolerated: 0 });
    expect(privacy.rho).toBeLessThanOrEqual(0.5 + 1e-12);
    expect(privacy.guarantee.rho).toBeLessThanOrEqual(0.5 + 1e-12);
    expect(privacy.guarantee.colluders).toMatch(/charged for 3 honest noise shares/);
    expect(r.result!.rows.length).toBe(1);
    expect(r.result!.rows[0]!.persons_std as number).toBeGreaterThan(Math.sqrt(2) * 0.99);
    expect(r.result!.summary!.endpoints_std as number).toBeGreaterThan(Math.sqrt(2) * 0.99);
    const curve = (r.result!.summary!.curves as { survival: number[] }[])[0]!;
    expect(curve.survival[0]).toBeLessThanOrEqual(1);
    // Every released cell carries the std of the summed shares: central σ² = 1/(2 · 0.25) = 2 per block.
    expect(r.result!.notes.join(' ')).toMatch(/_std/);
    const mechanisms = (r.result!.privacy as { mechanisms: { block: string; totalStd: number }[] }).mechanisms;
    expect(mechanisms.map((m) => m.block)).toEqual(['initialAtRisk', 'endpoints']);
    for (const m of mechanisms) expect(m.totalStd).toBeGreaterThan(Math.sqrt(2) * 0.99);
  });

  it('distributed-dp cohort: every count carries count_std', async () => {
    const r = await mesh.client.run({ ...cohort, privacy: { mode: 'distributed-dp', rho: 1 }, secure: 'secagg' });
    expect(r.error).toBeUndefined();
    const s = r.result!.summary!;
    expect(typeof s.count).toBe('number');
    expect(s.count_std as number).toBeGreaterThan(0);
    expect(s.entries).toBeUndefined();
    for (const b of s.byAgeBand as Record<string, unknown>[]) expect(b.count_std as number).toBeGreaterThan(0);
  });

  it('he cohort in mode none: the client decrypts counts equal to the plaintext job', async () => {
    const plain = await mesh.client.run(cohort);
    const secure = await mesh.client.run({ ...cohort, secure: 'he' }, undefined, { keyDir: join(mesh.dir, 'researcher-keys') });
    expect(secure.error).toBeUndefined();
    const p = plain.result!.summary!;
    const s = secure.result!.summary!;
    for (const k of ['count', 'entries', 'byAgeBand', 'byGender', 'attrition']) expect(s[k], k).toEqual(p[k]);
    expect(secure.result!.privacy).toMatchObject({ mode: 'none', secure: 'he', exact: true, decryptedBy: 'researcher client' });
    const stored = await mesh.coordinator.getJob({ name: 'admin', isAdmin: true }, secure.jobId);
    expect(stored.result!.rows).toEqual([]);
    expect(stored.resultCiphertexts!.length).toBeGreaterThan(0);
  });

  it('a secure cohort-level job whose per-agent counts exceed secureMaxRows clips them to it instead of refusing', async () => {
    const plain = await mesh.client.run(cohort);
    // A researcher-chosen bound is distributed-dp only; mode none takes the agents' agreed one (the default here).
    const none = (await mesh.client.submitJob({ ...cohort, secure: 'secagg', secureMaxRows: 5 }).catch((e: unknown) => e)) as Error;
    expect(none.message).toMatch(/secureMaxRows: 5 is not the agreed 16777216: in mode none/);
    const r = await mesh.client.run({ ...cohort, secure: 'secagg', secureMaxRows: 5, privacy: { mode: 'distributed-dp', rho: 0.5 } });
    // Negative control: the old code failed this job as soon as one agent's count passed 5.
    expect(r.error).toBeUndefined();
    const perAgent = plain.result!.summary!.byAgent as { agent: string; persons: number }[];
    expect(perAgent.map((a) => a.agent).sort()).toEqual(sites);
    expect(perAgent.some((a) => a.persons > 50)).toBe(true);
    const std = Math.max(...(r.result!.privacy as { mechanisms: { totalStd: number }[] }).mechanisms.map((m) => m.totalStd));
    expect(Math.abs((r.result!.summary!.count as number) - perAgent.reduce((s, a) => s + Math.min(a.persons, 5), 0))).toBeLessThan(6 * std);
    expect(r.result!.notes.join(' ')).toMatch(/secureMaxRows 5: every agent clips/);
  });
});
