/**
 * Privacy spent over time, from the ledger's charges: cumulative ε per population (against its budget), per
 * product and per project, and cumulative δ per population. ε is composed as the ledger composes it — ρ, ε and δ
 * summed over the charges so far, then converted to ε at the budget's δ (`epsilonSpent`) — so a series' last point
 * is the "ε spent" the budget table shows, not a naive sum of each job's ε. Pure.
 */
import { epsilonSpent } from '../../../common/job/index.js';
import { baseSpec, colour, type Chart, type ChartRow } from './charts.js';

export interface SpendCharge {
  atMs: number;
  researcher: string;
  population: string;
  products: string[];
  project?: string | undefined;
  rho: number;
  /** null: the charge is bounded by ρ and δ only (its ε is derived at the budget's δ). */
  epsilon: number | null;
  delta: number;
}

export interface BudgetLine {
  researcher: string;
  population: string;
  epsilon: number;
  delta: number;
}

interface Running {
  rho: number;
  epsilon: number;
  delta: number;
}

/** Cumulative spend of each series in time order: ε at the series' δ and δ, one row per charge. */
function cumulative(charges: readonly SpendCharge[], keysOf: (c: SpendCharge) => { series: string; atDelta: number }[]): ChartRow[] {
  const totals = new Map<string, Running>();
  const rows: ChartRow[] = [];
  for (const c of [...charges].sort((a, b) => a.atMs - b.atMs)) {
    for (const { series, atDelta } of keysOf(c)) {
      const t = totals.get(series) ?? { rho: 0, epsilon: 0, delta: 0 };
      t.rho += c.rho;
      t.epsilon = c.epsilon === null ? Infinity : t.epsilon + c.epsilon;
      t.delta += c.delta;
      totals.set(series, t);
      rows.push({ time: new Date(c.atMs).toISOString(), series, epsilon: Number(epsilonSpent(t, atDelta).toPrecision(12)), delta: Number(t.delta.toPrecision(12)) });
    }
  }
  return rows;
}

function lineChart(id: string, title: string, field: 'epsilon' | 'delta', legend: string, rows: ChartRow[], limits: ChartRow[]): Chart {
  const x = { field: 'time', type: 'temporal', title: 'charged at' };
  const color = { field: 'series', type: 'nominal', scale: colour, title: legend };
  const layer: Record<string, unknown>[] = [{ data: { values: rows }, mark: { type: 'line', interpolate: 'step-after', point: true }, encoding: { x, y: { field, type: 'quantitative', title: field === 'epsilon' ? 'cumulative ε spent' : 'cumulative δ spent' }, color } }];
  // The budget of each series as a dashed line: how close the spend is to being refused.
  if (limits.length > 0) layer.push({ data: { values: limits }, mark: { type: 'rule', strokeDash: [5, 4] }, encoding: { y: { field: 'budget', type: 'quantitative' }, color } });
  return { id, title, rows, spec: baseSpec(title, { width: 520, height: 240, layer }) };
}

/**
 * The Budget page's charts. `showResearcher` (administrators) prefixes each series with whose budget it is.
 * @param defaultDelta δ at which a project's ε is stated (projects have no budget of their own yet)
 */
export function budgetHistoryCharts(charges: readonly SpendCharge[], budgets: readonly BudgetLine[], opts: { defaultDelta: number; showResearcher: boolean }): Chart[] {
  if (charges.length === 0) return [];
  const who = (c: { researcher: string }, name: string): string => (opts.showResearcher ? `${c.researcher} · ${name}` : name);
  const budgetOf = (researcher: string, population: string): BudgetLine | undefined => budgets.find((b) => b.researcher === researcher && b.population === population);
  const deltaOf = (c: SpendCharge): number => budgetOf(c.researcher, c.population)?.delta ?? opts.defaultDelta;

  const byPopulation = cumulative(charges, (c) => [{ series: who(c, c.population), atDelta: deltaOf(c) }]);
  const shown = new Set(byPopulation.map((r) => String(r.series)));
  const epsLimits = budgets.filter((b) => shown.has(who(b, b.population))).map((b) => ({ series: who(b, b.population), budget: b.epsilon }));
  const deltaLimits = budgets.filter((b) => shown.has(who(b, b.population))).map((b) => ({ series: who(b, b.population), budget: b.delta }));
  const out = [lineChart('spend-population', 'ε spent over time, per population (dashed: its budget)', 'epsilon', 'population', byPopulation, epsLimits)];
  out.push(lineChart('spend-product', 'ε spent over time, per product', 'epsilon', 'product', cumulative(charges, (c) => c.products.map((p) => ({ series: who(c, p), atDelta: deltaOf(c) }))), []));
  const withProject = charges.filter((c) => c.project !== undefined);
  if (withProject.length > 0) out.push(lineChart('spend-project', `ε spent over time, per project (at δ = ${opts.defaultDelta})`, 'epsilon', 'project', cumulative(withProject, (c) => [{ series: who(c, c.project!), atDelta: opts.defaultDelta }]), []));
  out.push(lineChart('spend-delta', 'δ spent over time, per population (dashed: its budget)', 'delta', 'population', byPopulation, deltaLimits));
  return out;
}
