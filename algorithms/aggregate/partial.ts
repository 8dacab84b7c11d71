/**
 * The combine algebra of the `aggregate` job. Each agent reduces its rows to exact sufficient statistics per
 * group; the coordinator adds them. Every statistic is an integer (counts, and sums of values snapped to a
 * fixed-point grid 2^-scaleBits), so addition is exact and associative: any split of the rows across any
 * number of agents, combined in any order, gives the pooled statistics bit for bit.
 */
export type KeyValue = string | number | boolean | null;

/** Sufficient statistics of a bounded measure (sum, mean, variance) over the values snapped to the grid. */
export interface MomentPartial {
  kind: 'moments';
  /** Number of non-null values. */
  n: bigint;
  /** Σ v where v = round(clamp(x) · 2^scaleBits). */
  sum: bigint;
  /** Σ q where q = round(c² · 2^sqScaleBits), c the clamped (and, in DP plans, centred) value. */
  sumSq: bigint;
  scaleBits: number;
  /** Grid of the squares. @default 2 × scaleBits */
  sqScaleBits: number;
}

export interface HistogramPartial {
  kind: 'histogram';
  /** Counts per bin; `null` where the agent suppressed a small bin. */
  bins: (bigint | null)[];
}

export interface CountPartial {
  kind: 'count';
}

export type MeasurePartial = MomentPartial | HistogramPartial | CountPartial;

export interface GroupPartial {
  key: KeyValue[];
  /** Rows in the group (after filters). */
  count: bigint;
  /** One entry per measure of the job, in order. */
  measures: MeasurePartial[];
  /** Agents that suppressed this group (below their minimum cell size). */
  suppressedBy: string[];
}

export interface AgentPartial {
  agent: string;
  groups: GroupPartial[];
}

/** A group-key value as read from DuckDB or Arrow: integers as numbers when safe, else text. */
export function toKeyValue(v: unknown): KeyValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return String(v);
}

export function keyId(key: readonly KeyValue[]): string {
  return JSON.stringify(key);
}

/** The same moments on a finer grid (exact: a left shift). @throws RangeError to a coarser one */
export function rescaleMoments(m: MomentPartial, scaleBits: number, sqScaleBits: number): MomentPartial {
  const d = scaleBits - m.scaleBits;
  const dq = sqScaleBits - m.sqScaleBits;
  if (d < 0 || dq < 0) throw new RangeError(`rescale: cannot lower the grid scale`);
  if (d === 0 && dq === 0) return m;
  return { kind: 'moments', n: m.n, sum: m.sum << BigInt(d), sumSq: m.sumSq << BigInt(dq), scaleBits, sqScaleBits };
}

function addMeasure(a: MeasurePartial, b: MeasurePartial, index: number): MeasurePartial {
  if (a.kind !== b.kind) throw new TypeError(`measures[${index}]: cannot add ${a.kind} to ${b.kind}`);
  if (a.kind === 'count') return a;
  if (a.kind === 'moments' && b.kind === 'moments') {
    const s = Math.max(a.scaleBits, b.scaleBits);
    const q = Math.max(a.sqScaleBits, b.sqScaleBits);
    const x = rescaleMoments(a, s, q);
    const y = rescaleMoments(b, s, q);
    return { kind: 'moments', n: x.n + y.n, sum: x.sum + y.sum, sumSq: x.sumSq + y.sumSq, scaleBits: s, sqScaleBits: q };
  }
  if (a.kind === 'histogram' && b.kind === 'histogram') {
    if (a.bins.length !== b.bins.length) throw new TypeError(`measures[${index}]: histogram bin counts differ (${a.bins.length} vs ${b.bins.length})`);
    return { kind: 'histogram', bins: a.bins.map((v, i) => (v === null || b.bins[i] === null ? null : v + b.bins[i]!)) };
  }
  throw new TypeError(`measures[${index}]: mismatched partials`);
}

/**
 * Adds the agents' partials group by group. A group suppressed by any agent stays suppressed as a whole: a
 * partial total would silently under-report, and a researcher must never read a suppressed cell as zero.
 */
export function combinePartials(partials: readonly AgentPartial[]): GroupPartial[] {
  const out = new Map<string, GroupPartial>();
  for (const p of partials) {
    for (const g of p.groups) {
      const id = keyId(g.key);
      const prev = out.get(id);
      if (!prev) {
        out.set(id, { key: [...g.key], count: g.count, measures: [...g.measures], suppressedBy: [...g.suppressedBy] });
        continue;
      }
      if (prev.measures.length !== g.measures.length) throw new TypeError(`group ${id}: agents returned different numbers of measures`);
      prev.count += g.count;
      prev.measures = prev.measures.map((m, i) => addMeasure(m, g.measures[i]!, i));
      for (const a of g.suppressedBy) if (!prev.suppressedBy.includes(a)) prev.suppressedBy.push(a);
    }
  }
  return [...out.values()].sort((a, b) => compareKeys(a.key, b.key));
}

export function compareKeys(a: readonly KeyValue[], b: readonly KeyValue[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}
