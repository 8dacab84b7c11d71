/**
 * Release of a secure aggregate from its summed totals. Shared by the coordinator (SecAgg: it unmasks the sum) and
 * the researcher's client (HE: it decrypts the sum), so both modes release the same way.
 *
 * Mode none: exact values; the minimum cell size cannot be applied per agent inside secure aggregation (the agents'
 * statistics are masked or encrypted), so it is applied to the released TOTALS: groups with fewer rows in total, and
 * histogram bins with a total count below it, are suppressed. distributed-dp: the totals already carry the sum of the
 * contributors' noise shares; values are post-processed only, each with its noise std and a 95% interval.
 */
import { finalizeExact, withholdComplement, type GroupPartial, type KeyValue } from '../../algorithms/aggregate/index.js';
import * as dp from '../../algorithms/dp/index.js';
import type { AggregatePrivacyPlan } from '../job/index.js';
import { describeGuarantee, isFilledLinkage, noisyMoments, DEFAULT_JOB_DELTA, exactResultColumns, measureField, type AggregateJob } from '../job/index.js';
import type { NoisyStatistic, SecureNoisePlan } from './distributed-noise.js';
import type { SecureVectorLayout } from './vector-layout.js';
import { clippingNote } from './secure-max-rows.js';

export interface SecureReleaseInput {
  job: AggregateJob;
  plan: AggregatePrivacyPlan;
  /**
   * The secure layout: its per-agent row bound, and its ring when the built-in secure path summed it (stated in the
   * result). The kind seam's secure sum (jobs/aggregate) states the bound only, as its other kinds do.
   */
  layout: Pick<SecureVectorLayout, 'maxRowsPerAgent'> & Partial<Pick<SecureVectorLayout, 'ring' | 'agents' | 'vectorLength'>>;
  totals: readonly GroupPartial[];
  /** Agents whose contributions are in the totals. */
  contributors: number;
  /** Mode none: the largest minimum cell size among the contributors' policies. */
  minCellSize: number;
  noise?: SecureNoisePlan;
}

export interface SecureRelease {
  columns: string[];
  rows: Record<string, unknown>[];
  suppressed: { group: Record<string, unknown>; suppressedBy: string[] }[];
  privacy: Record<string, unknown>;
  notes: string[];
}

function groupObject(job: AggregateJob, key: readonly KeyValue[]): Record<string, unknown> {
  return Object.fromEntries(job.groupBy.map((g, i) => [g, key[i] ?? null]));
}

export function releaseSecureAggregate(input: SecureReleaseInput): SecureRelease {
  return input.plan.mode === 'none' ? releaseExact(input) : releaseDistributed(input);
}

function releaseExact({ job, totals, minCellSize, contributors, layout }: SecureReleaseInput): SecureRelease {
  const k = BigInt(minCellSize);
  const fields = job.measures.map((m) => measureField(m));
  // Groups no agent has rows in are absent, as in the plaintext job; with no groupBy the one group always exists.
  const observed = job.groupBy.length === 0 ? totals : totals.filter((g) => g.count > 0n);
  const groups = observed.map((g): GroupPartial => {
    if (g.count < k) return { ...g, suppressedBy: ['minCellSize'] };
    return {
      ...g,
      measures: g.measures.map((m) => {
        if (m.kind !== 'histogram') return m;
        // Small bins (and quantile buckets) by their total rows, then the complementary rule against the group's
        // count (red team 30, F2), as each agent applies it in the plain path.
        const bins = m.bins.map((b) => (b !== null && b > 0n && b < k ? null : b));
        const outside = g.count - m.bins.reduce<bigint>((a, b) => a + (b ?? 0n), 0n);
        withholdComplement(bins, m.bins, g.count, m.bins.map((b) => b ?? 0n), [outside], k);
        return { kind: 'histogram', bins };
      }),
    };
  });
  const released = finalizeExact(
    groups,
    job.measures.map((m, i) =>
      m.fn === 'quantile'
        ? { fn: 'quantile', field: fields[i]!, quantiles: m.quantiles, candidates: dp.quantileCandidates(m.bounds[0], m.bounds[1], m.candidates ?? 101) }
        : { fn: m.fn, field: fields[i]! },
    ),
  );
  // Missing values of 1 … k − 1 rows in total: neither <field>_missing nor <field>_n (count − n gives it back).
  for (const r of released.rows) {
    for (const f of fields) {
      const missing = r.values[`${f}_missing`];
      if (typeof missing === 'number' && missing > 0 && missing < minCellSize) {
        r.values[`${f}_missing`] = null;
        if (`${f}_n` in r.values) r.values[`${f}_n`] = null;
      }
    }
  }
  return {
    columns: exactResultColumns(job),
    rows: released.rows.map((r) => ({ ...groupObject(job, r.key), ...r.values })),
    suppressed: released.suppressed.map((s) => ({ group: groupObject(job, s.key), suppressedBy: s.suppressedBy })),
    privacy: { mode: 'none', secure: job.secure, exact: true, minCellSize, contributors, secureMaxRows: layout.maxRowsPerAgent, ...describeRing(layout) },
    notes: [
      `mode none with secure aggregation (${job.secure}): exact sums; no agent's statistics were visible to the coordinator`,
      `the minimum cell size (${minCellSize}, the largest among the contributing agents) is applied to the released totals, not per agent: per-agent suppression is impossible inside secure aggregation; a histogram's released bin of fewest rows is withheld too when its other bins or its values in no bin are of fewer, quantiles leave withheld buckets out, and <name>_missing and <name>_n are null when fewer values are missing`,
      clippingNote(layout.maxRowsPerAgent, 'rows', 'none'),
      ...job.measures.filter((m) => m.fn !== 'count' && m.fn !== 'histogram').map((m) => `${measureField(m)}: values clamped to the declared bounds [${(m as { bounds: number[] }).bounds.join(', ')}]`),
    ],
  };
}

function describeRing(layout: SecureReleaseInput['layout']): { ring?: string } {
  if (!layout.ring) return {};
  return {
    ring:
      layout.ring.kind === 'secagg'
        ? `Z_2^32 limbs (${layout.ring.digitBits}-bit digits, carries exact for ${layout.agents} agents); ${layout.vectorLength} elements`
        : `BFV slots holding ${layout.ring.digitBits}-bit digits; ${layout.vectorLength} slots`,
  };
}

/**
 * The rows of a distributed-dp release from its noisy totals, each value with its noise std and a 95% interval (the
 * delta method for means and variances): post-processing only. Shared by the built-in secure path and the kind seam
 * (jobs/aggregate), which differ in how they state the shares.
 * @param sd the std (grid units) of the summed noise of measure i's statistic
 * @returns the rows, and notes on the values (a sum's grid)
 */
export function distributedRows(job: AggregateJob, plan: AggregatePrivacyPlan, totals: readonly GroupPartial[], sd: (i: number, s: NoisyStatistic) => number): { rows: Record<string, unknown>[]; notes: string[] } {
  const fields = job.measures.map((m) => measureField(m));
  const ci = (v: number, s: number): [number, number] => [v - dp.Z_975 * s, v + dp.Z_975 * s];
  const notes = new Set<string>();
  const rows = totals.map((g) => {
    const values: Record<string, unknown> = {};
    plan.dp!.measures.forEach((mp, i) => {
      const field = fields[i]!;
      const m = g.measures[i]!;
      if (mp.fn === 'count') {
        const v = Number(g.count);
        const s = sd(i, 'rows');
        Object.assign(values, { [field]: v, [`${field}_std`]: s, [`${field}_ci95`]: ci(v, s) });
      } else if (mp.fn === 'histogram' && m.kind === 'histogram') {
        const s = sd(i, 'bin');
        const bins = m.bins.map((b) => Number(b ?? 0n));
        Object.assign(values, { [field]: bins, [`${field}_std`]: s, [`${field}_ci95`]: bins.map((b) => ci(b, s)) });
      } else if (mp.fn === 'sum' && m.kind === 'moments') {
        const v = dp.fromGrid(m.sum, mp.plan.grid);
        const s = sd(i, 'sum') * mp.plan.grid.size;
        notes.add(`${field}: an exact multiple of the grid ${mp.plan.grid.size}`);
        Object.assign(values, { [field]: v, [`${field}_std`]: s, [`${field}_ci95`]: ci(v, s) });
      } else if ((mp.fn === 'mean' || mp.fn === 'variance') && m.kind === 'moments') {
        Object.assign(values, noisyMoments(field, mp.fn, mp.plan, m, { count: sd(i, 'n'), sum: sd(i, 'sum'), sumSq: sd(i, 'sumSq') }));
      }
    });
    return { ...groupObject(job, g.key), ...values };
  });
  return { rows, notes: [...notes] };
}

function releaseDistributed({ job, plan, totals, contributors, noise, layout }: SecureReleaseInput): SecureRelease {
  if (!noise || !plan.dp) throw new TypeError('distributed-dp release needs the noise plan');
  const fields = job.measures.map((m) => measureField(m));
  /** Std (grid units) of the summed shares of `contributors` agents. */
  const sd = (i: number, s: NoisyStatistic): number => {
    const share = noise.measures[i]?.shares[s];
    return share ? Math.sqrt(contributors * dp.noiseDistribution.discreteGaussianVariance(share.plan.shareSigma2Value)) : NaN;
  };
  const { rows, notes } = distributedRows(job, plan, totals, sd);
  const cost = noise.cost;
  const delta = job.privacy.delta && job.privacy.delta > 0 ? job.privacy.delta : DEFAULT_JOB_DELTA;
  const mechanisms = job.measures.map((m, i) => ({
    field: fields[i]!,
    shares: Object.fromEntries(
      Object.entries(noise.measures[i]?.shares ?? {}).map(([s, sh]) => [
        s,
        { distribution: 'discrete-gaussian', shareSigma2: sh.plan.shareSigma2Value, shareStd: Math.sqrt(sh.plan.shareSigma2Value), totalStd: sd(i, s as NoisyStatistic), sensitivity: sh.central.info.sensitivity, rho: Math.max(sh.plan.rho, sh.central.cost.rho) },
      ]),
    ),
  }));
  return {
    columns: [...job.groupBy, ...fields.flatMap((f) => [f, `${f}_std`])],
    rows,
    suppressed: [],
    privacy: {
      mode: 'distributed-dp',
      secure: job.secure,
      requested: plan.dp.requested,
      spent: { rho: cost.rho, epsilon: dp.epsilonAtDelta(cost, delta), delta },
      agents: noise.agents,
      tolerated: noise.tolerated,
      minHonestShares: noise.minHonestShares,
      contributors,
      maxRowsPerPerson: plan.maxRowsPerPerson,
      budgetSplit: plan.dp.budgetSplit,
      mechanisms,
      secureMaxRows: layout.maxRowsPerAgent,
      ...describeRing(layout),
      guarantee: describeGuarantee({
        mode: 'distributed-dp',
        secure: job.secure,
        maxRowsPerPerson: plan.maxRowsPerPerson,
        maxSitesPerPerson: plan.maxSitesPerPerson,
        ...(isFilledLinkage(job.privacy.linkage) ? { linkageSites: job.privacy.linkage.sites.length } : {}),
        mechanism: 'discrete-gaussian noise shares, one per agent, summed inside secure aggregation',
        spent: { rho: cost.rho, epsilon: dp.epsilonAtDelta(cost, delta), delta },
        agents: noise.agents,
        tolerated: noise.tolerated,
      }),
    },
    notes: [
      `distributed-dp with ${job.secure}: each of ${contributors} contributing agents added a discrete Gaussian share before ${job.secure === 'he' ? 'encrypting' : 'masking'}; only the noisy sum was ever decoded. <name>_std is the std of the summed shares, <name>_ci95 its normal-approximation 95% interval`,
      `privacy charged for ${noise.minHonestShares} honest shares (n = ${noise.agents}, tolerating ${noise.tolerated} dropped or colluding agents; Kairouz, Liu & Steinke 2021, Prop. 14), never less than the central cost of the same budget`,
      `each person contributes at most ${plan.maxRowsPerPerson} row(s), chosen at the agent by a keyed hash; values clamped to the declared bounds and snapped to a power-of-two grid before integer noise (contribution bounding bias: persons with more rows weigh less than in the exact all-rows answer; this bias is not in _std or _ci95)`,
      'means and variances: noisy count floored at 1, clamped to the bounds; std by the delta method',
      clippingNote(layout.maxRowsPerAgent, 'rows', 'distributed-dp'),
      ...notes,
    ],
  };
}
