import { LINKAGE_UNIT, linkageNote } from './linkage.js';
import type { PrivacyMode } from './spec.js';

/**
 * Persons are assumed to be at no more than this many sites. Contribution bounding is per agent, so a person at m
 * sites contributes up to m × maxRowsPerPerson rows to a federated answer; the guarantee below holds for a person
 * across sites only while this public assumption holds. Every DP result states it.
 */
export const DEFAULT_MAX_SITES_PER_PERSON = 1;

/** What a DP result promises, in words a researcher can put in a paper (stated in every DP result's privacy block). */
export interface DpGuarantee {
  /** The privacy unit whose presence or absence is hidden. */
  unit: string;
  /** Rows one person may contribute at one site (k), enforced by the agent. */
  maxRowsPerPerson: number;
  /** The public assumption on how many sites hold one person (sensitivity is stated for it); 1 with linkage bounding. */
  maxSitesPerPerson: number;
  /**
   * Linkage-bounded jobs only (absent otherwise, where `unit` states the maxSitesPerPerson assumption): how the
   * sites' linkage key bounds a person across sites (each counted at one site; common/job/linkage.ts) and its cost.
   */
  crossSite?: string;
  /** Present with `crossSite`: the cross-site bound comes from the linkage key, not from an assumption. */
  crossSiteBound?: 'linkage-key';
  mechanism: string;
  /** ε at `delta` (null when no finite ε can be stated), and the zCDP ρ that jobs compose by. */
  epsilon: number | null;
  delta: number;
  rho: number;
  /** Composition: how this cost adds to the others in the same budget. */
  composition: string;
  /** Agents that may collude with the coordinator (or drop out) while the guarantee holds. */
  colluders: string;
  /** What the coordinator sees on the way to this result. */
  coordinatorSees: string;
}

export interface GuaranteeInput {
  mode: Exclude<PrivacyMode, 'none'>;
  secure?: 'secagg' | 'he';
  maxRowsPerPerson: number;
  maxSitesPerPerson?: number;
  /** Linkage-bounded job (privacy.linkage): the number of sites of its partition. */
  linkageSites?: number;
  mechanism: string;
  spent: { epsilon: number | null; delta: number; rho: number };
  /** distributed-dp: agents asked and agents tolerated. */
  agents?: number;
  tolerated?: number;
}

/** The guarantee of a DP release, from public parameters only. */
export function describeGuarantee(g: GuaranteeInput): DpGuarantee {
  const sites = g.maxSitesPerPerson ?? DEFAULT_MAX_SITES_PER_PERSON;
  const linked = g.linkageSites !== undefined;
  const unit = linked
    ? LINKAGE_UNIT
    : sites === 1
      ? 'a person: all of their rows at a site (at most k, chosen by the agent); this covers the person across the mesh only under the public assumption that each person is at 1 site'
      : `a person across sites: at most k rows at each of at most ${sites} sites (a public assumption the sensitivity is scaled for)`;
  return {
    unit,
    maxRowsPerPerson: g.maxRowsPerPerson,
    maxSitesPerPerson: linked ? 1 : sites,
    ...(linked ? { crossSite: linkageNote(g.linkageSites!), crossSiteBound: 'linkage-key' as const } : {}),
    mechanism: g.mechanism,
    epsilon: g.spent.epsilon,
    delta: g.spent.delta,
    rho: g.spent.rho,
    composition: 'jobs compose in zCDP: their ρ add up and the total is converted to ε at the budget\'s δ, so ε of several jobs adds up to less than their sum',
    colluders: colluders(g),
    coordinatorSees: coordinatorSees(g),
  };
}

function colluders(g: GuaranteeInput): string {
  if (g.mode === 'central-dp') return 'none needed: agents trust the coordinator, which adds the noise';
  if (g.mode === 'local-dp') return 'any number: each agent noises its own answer, so the coordinator and other agents together learn only noisy answers';
  const n = g.agents ?? 0;
  const t = g.tolerated ?? 0;
  const base = `${t} of ${n} agents may drop out or collude with the coordinator (charged for ${n - t} honest noise shares)`;
  if (t > 0) return base;
  return (
    `${base}; with tolerated = 0 (the default ⌊(n−1)/3⌋ is 0 for n ≤ 3) every share is needed: each agent that colludes with the ` +
    `coordinator or drops out removes its share, and c of n colluders leave ρ·n/(n−c) (e.g. 1.5ρ at n = 3, c = 1) — ` +
    'set privacy.tolerated to buy protection against them'
  );
}

function coordinatorSees(g: GuaranteeInput): string {
  if (g.mode === 'central-dp') return "each agent's exact bounded partial aggregates (never rows); only the noisy release leaves it";
  if (g.mode === 'local-dp') return "only each agent's already-noisy answer";
  if (g.secure === 'he') {
    return "only ciphertexts of the agents' noisy partials (and, on the kind seam, the decoded totals): no single agent's value. The key holder (the researcher's client for the original kinds, the first agent by name on the kind seam) decrypts the sum digit by digit, so for a statistic wider than one digit it also sees how the agents' values carry between digits (how many are below zero, among others: README, threat model)";
  }
  return "only the sum over agents of their noisy masked partials, each statistic unmasked as one integer: no single agent's value, and not how their values carry between the statistic's limbs";
}

/**
 * One line naming the mechanisms of a release, whatever shape its mechanism entries have (noise, sum, distribution,
 * per-statistic shares or a named selection mechanism), e.g. "discrete-gaussian (count, mean) + partition selection".
 */
export function summariseMechanisms(mechanisms: readonly Record<string, unknown>[], extra: string[] = []): string {
  const byName = new Map<string, string[]>();
  for (const m of mechanisms) {
    const label = String(m.field ?? m.block ?? '');
    for (const name of distributionsOf(m)) {
      const list = byName.get(name) ?? [];
      if (label && !list.includes(label)) list.push(label);
      byName.set(name, list);
    }
  }
  const parts = [...byName].map(([name, labels]) => (labels.length > 0 ? `${name} (${labels.join(', ')})` : name));
  return [...parts, ...extra].join(' + ') || 'none';
}

function distributionsOf(m: Record<string, unknown>): string[] {
  const names: string[] = [];
  const push = (v: unknown): void => {
    if (typeof v === 'string' && !names.includes(v)) names.push(v);
  };
  for (const key of ['noise', 'count', 'sum', 'sumSquares']) push((m[key] as { distribution?: unknown } | undefined)?.distribution);
  push(m.distribution);
  push(m.mechanism);
  if (m.shares && typeof m.shares === 'object') for (const s of Object.values(m.shares as Record<string, { distribution?: unknown }>)) push(s?.distribution);
  return names;
}
