/**
 * Cox under DP without a database: the per-bin increments the agents send in the DP modes, added up again by the
 * coordinator, give the same fit as the cumulative sums of mode none (the transform is exact post-processing);
 * with central-dp noise at a large ε the fit stays close, at a small ε it does not.
 */
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { compileKindJob, privacyModeOf, type AgentKindContext, type CompiledKindJob, type RoundRecord } from '../../common/kinds/index.js';
import { coxDesign } from '../../node-agent/analytics/cox.js';
import { coxAgentKind } from './agent.js';
import { coxKind, replayCox, type CoxJobSpec, type CoxPlan, type CoxRoundInput } from './kind.js';
import { clampBeta, coxColumnCentres } from './privacy.js';

const base = {
  kind: 'survival',
  target: { name: 't', entry: { domain: 'condition', concepts: { include: [{ conceptId: 1 }] } } },
  outcome: { domain: 'death', conceptIds: [] },
  timeGrid: { binDays: 10, maxDays: 40 },
  model: 'cox',
  covariates: [
    { name: 'age', source: 'age', type: 'numeric', bounds: [20, 90] },
    { name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' },
  ],
};

function design(job: CompiledKindJob<CoxJobSpec, CoxPlan>, offset: number) {
  // Older persons have their event earlier (a clear positive age effect); every fourth person is censored.
  const n = 20_000;
  const age = Array.from({ length: n }, (_, i) => 20 + ((i * 13 + offset) % 70));
  return coxDesign(
    {
      days: Array.from({ length: n }, (_, i) => Math.max(0, Math.min(40, Math.round(40 - age[i]! / 2.5 + ((i * 7 + offset) % 15))))),
      event: Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 0 : 1)),
      age,
      gender: Array.from({ length: n }, (_, i) => (i % 2 ? 8532 : 8507)),
    },
    job.spec.covariates,
    false,
  );
}

const ctx = (data: unknown): AgentKindContext =>
  ({ conn: undefined as never, jobId: 'j', round: 0, product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' }, salt: 's', policy: { minCellSize: 3 }, jobState: new Map([['data', data]]) }) as AgentKindContext;

/** The round loop over three agents, with the job's privacy mode at agent and coordinator. */
async function fit(raw: Record<string, unknown>, seed: string, withNoise = true): Promise<{ beta: number[]; job: CompiledKindJob<CoxJobSpec, CoxPlan> }> {
  const job = compileKindJob(coxKind, raw) as CompiledKindJob<CoxJobSpec, CoxPlan>;
  const mode = privacyModeOf(job);
  const rng = createSeededRng(seed);
  const agents = [0, 5, 11].map((o) => design(job, o));
  const history: RoundRecord<CoxRoundInput>[] = [];
  for (let r = 0; r < job.maxRounds; r++) {
    const input = coxKind.nextRound(job, history);
    if (input === undefined) break;
    const layout = coxKind.layout(job, r);
    const noise = mode.roundNoise(job, layout, { agents: 3 });
    const local = async (d: unknown) => {
      const v = await coxAgentKind.localStep(ctx(d), job, input, new AbortController().signal);
      return withNoise ? mode.atAgent(v, noise, layout, rng) : v;
    };
    const vectors = await Promise.all(agents.map(local));
    const sum = { values: Float64Array.from(vectors[0]!.values, (v, i) => v + vectors[1]!.values[i]! + vectors[2]!.values[i]!) };
    const released = withNoise ? mode.atCoordinator(sum, noise, layout, rng) : sum;
    history.push({ round: r, input, answered: ['a', 'b', 'c'], released: Array.from(released.values), noiseStd: noise.map((n) => n.std) });
  }
  return { beta: replayCox(job.plan, history).beta, job };
}

describe('survival-cox under DP', () => {
  it('per-bin increments added up at the coordinator give the mode-none fit exactly (noise left out: tolerance 1e-9); negative control: sent as cumulative sums they do not', async () => {
    const exact = (await fit({ ...base, privacy: { mode: 'none' } }, 'x')).beta;
    const dp = (await fit({ ...base, privacy: { mode: 'central-dp', rho: 1 } }, 'x', false)).beta;
    expect(dp.every((b, j) => Math.abs(b - exact[j]!) < 1e-9)).toBe(true);
    // The same DP job whose agents skip the differencing (a plan without sensitivity at the agent) is another fit.
    const job = compileKindJob(coxKind, { ...base, privacy: { mode: 'central-dp', rho: 1 } }) as CompiledKindJob<CoxJobSpec, CoxPlan>;
    const wrong = { ...job, plan: { ...job.plan, sensitivity: null } };
    const agents = [0, 5, 11].map((o) => design(job, o));
    const history: RoundRecord<CoxRoundInput>[] = [];
    for (let r = 0; r < 6; r++) {
      const input = coxKind.nextRound(job, history);
      if (input === undefined) break;
      const vs = await Promise.all(agents.map((d) => coxAgentKind.localStep(ctx(d), wrong, input, new AbortController().signal)));
      history.push({ round: r, input, answered: ['a', 'b', 'c'], released: Array.from(vs[0]!.values, (v, i) => v + vs[1]!.values[i]! + vs[2]!.values[i]!), noiseStd: [] });
    }
    const off = replayCox(job.plan, history).beta;
    expect(off.every((b, j) => Math.abs(b - exact[j]!) < 1e-9)).toBe(false);
  });

  it('central-dp noise: at ρ = 5000 the fit is within 0.05 of the exact one (60 000 persons, seeded), at ρ = 0.01 it is further off', async () => {
    const exact = (await fit({ ...base, privacy: { mode: 'none' } }, 'x')).beta;
    const err = async (rho: number): Promise<number> => Math.max(...(await fit({ ...base, privacy: { mode: 'central-dp', rho } }, `dp-${rho}`)).beta.map((b, j) => Math.abs(b - exact[j]!)));
    const loud = await err(5000);
    expect(loud).toBeLessThan(0.05);
    expect(await err(0.01)).toBeGreaterThan(loud);
  });

  it('local-dp and distributed-dp run the same loop (noise at the agents) and give finite estimates', async () => {
    for (const mode of ['local-dp', 'distributed-dp']) {
      const { beta } = await fit({ ...base, secure: 'secagg', privacy: { mode, rho: 5000 } }, mode);
      expect(beta.every((b) => Number.isFinite(b)), mode).toBe(true);
    }
  });

  it('β is scaled into the public ball Σ h_j|β_j| ≤ η around the centred covariates', () => {
    const job = compileKindJob(coxKind, { ...base, privacy: { mode: 'central-dp', rho: 1 } }) as CompiledKindJob<CoxJobSpec, CoxPlan>;
    const { centre, halfWidth } = coxColumnCentres(job.spec.covariates);
    expect(centre).toEqual([55, 0.5]);
    expect(halfWidth).toEqual([35, 0.5]);
    expect(clampBeta([0.01, 0.2], halfWidth, 5)).toEqual([0.01, 0.2]);
    const big = clampBeta([1, 1], halfWidth, 5);
    expect(big[0]! * 35 + big[1]! * 0.5).toBeCloseTo(5, 12);
  });
});
