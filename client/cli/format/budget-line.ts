import { epsilonFromRho, rhoForEpsilonDelta } from '../../../algorithms/dp/index.js';
import type { BudgetEntryView } from '../../sdk/types.js';

function fmt(n: number): string {
  return Number.isFinite(n) ? (Math.round(n * 1e4) / 1e4).toString() : '∞';
}

/**
 * The remaining budget in the unit jobs compose by. Costs add up in zCDP (ρ), and ρ converts to ε by a concave
 * function, so the ε "remaining" (budget ε minus ε of the spend) understates what a next job may spend: with ε = 1
 * budget and ε 0.73 spent, a further ε = 1 job can still fit. Remaining ρ is what is really left, and the largest
 * next job is stated at the budget's δ. When approximate mechanisms have used part of δ the figures are upper
 * bounds (the ledger decides at admission).
 */
export function remainingBudget(e: BudgetEntryView): { rho: number; nextJobEpsilon: number; exact: boolean } {
  const budgetRho = rhoForEpsilonDelta(e.budgetEpsilon, e.budgetDelta);
  const rho = Math.max(0, budgetRho - e.spentRho);
  return { rho, nextJobEpsilon: rho > 0 ? epsilonFromRho(rho, e.budgetDelta) : 0, exact: e.spentDelta === 0 };
}

/** Products named next to a population before the rest is counted (a mesh may serve hundreds). */
const MAX_PRODUCTS_SHOWN = 8;

/** The products a population covers, as shown next to it. */
export function covers(e: Pick<BudgetEntryView, 'products'>): string {
  const n = e.products.length;
  if (n === 0) return '';
  const shown = e.products.slice(0, MAX_PRODUCTS_SHOWN).join(', ');
  return ` (covers ${shown}${n > MAX_PRODUCTS_SHOWN ? ` and ${n - MAX_PRODUCTS_SHOWN} more` : ''})`;
}

/** One line of `fedmesh budget`: the population and its products, the budget, the spend and what is left in ρ and as a next job's ε. */
export function budgetLine(e: BudgetEntryView): string {
  if (e.project) return projectBudgetLine(e);
  const left = remainingBudget(e);
  return (
    `${e.researcher} × population ${e.population}${covers(e)}: budget ε=${e.budgetEpsilon} δ=${e.budgetDelta}${e.explicit ? '' : ' (default)'}; ` +
    `spent ρ=${fmt(e.spentRho)} (ε=${fmt(e.spentEpsilon)} at δ=${e.budgetDelta}) in ${e.jobs} job(s); ` +
    `remaining ρ=${fmt(left.rho)}: the next job may spend up to ε=${fmt(left.nextJobEpsilon)} at δ=${e.budgetDelta}${left.exact ? '' : ' (at most; part of δ is used)'}`
  );
}

/** A project's line: its budget on the population (if set), spent by all its researchers' jobs together. */
export function projectBudgetLine(e: BudgetEntryView): string {
  const who = `${e.jobs} job(s) of ${e.researchers} researcher(s)`;
  if (!e.explicit) return `project ${e.project} × population ${e.population}: no project budget set (its researchers' own budgets apply); spent ρ=${fmt(e.spentRho)} in ${who}`;
  const left = remainingBudget(e);
  return (
    `project ${e.project} × population ${e.population}: budget ε=${e.budgetEpsilon} δ=${e.budgetDelta} shared by every researcher of the project; ` +
    `spent ρ=${fmt(e.spentRho)} (ε=${fmt(e.spentEpsilon)} at δ=${e.budgetDelta}) in ${who}; remaining ρ=${fmt(left.rho)}: the next job may spend up to ε=${fmt(left.nextJobEpsilon)}`
  );
}

/** What `fedmesh budget set` prints: the population set (and, when a product named it, that mapping). */
export function budgetSetLine(e: BudgetEntryView): string {
  if (e.project) return projectBudgetLine(e);
  const left = remainingBudget(e);
  const mapped = e.mappedFromProduct ? `product ${e.mappedFromProduct} belongs to population ${e.population}: its budget is the population's, shared by every product in it\n` : '';
  return (
    `${mapped}budget of ${e.researcher} on population ${e.population}${covers(e)}: ε=${e.budgetEpsilon} δ=${e.budgetDelta}; spent ε=${fmt(e.spentEpsilon)}; ` +
    `remaining ρ=${fmt(left.rho)} (next job up to ε=${fmt(left.nextJobEpsilon)})`
  );
}

/** How the figures compose, printed once under the budget lines. */
export const COMPOSITION_NOTE =
  'jobs compose in zCDP: their ρ add up, and the total converts to ε at the budget\'s δ; ε of several jobs adds up to less than their sum, so a job may still fit when "budget ε − spent ε" looks smaller than its ε';
