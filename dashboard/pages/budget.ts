/** Budget: ε and δ spent against each budget, per population (with its products), and spend over time from the ledger. */
import type { BudgetEntry } from '../../coordinator/ledger.js';
import { fmt, html, type SafeHtml } from '../html.js';

/** @param leftOutBeyond set when older charges than the newest this many were not drawn */
export function budgetPage(entries: BudgetEntry[], isAdmin: boolean, charts: { id: string; title: string; svg: SafeHtml }[], leftOutBeyond?: number): SafeHtml {
  return html`<p>${isAdmin ? 'Every researcher’s budgets (you are an administrator).' : 'Your budgets.'} A budget is kept per population: every product keyed by the same persons draws on it. Charges are reserved before any agent computes and never refunded.</p>
${entries.length === 0 ? html`<p>No budget has been set or charged yet; the coordinator’s default applies to your first DP job.</p>` : html`<table id="budget-table">
<caption class="note">Privacy budgets</caption>
<thead><tr>${isAdmin ? html`<th scope="col">researcher</th>` : ''}<th scope="col">population</th><th scope="col">products</th><th scope="col">ε budget</th><th scope="col">ε spent</th><th scope="col">ε remaining</th><th scope="col">δ budget</th><th scope="col">δ spent</th><th scope="col">ρ spent (zCDP)</th><th scope="col">DP jobs</th></tr></thead>
<tbody>${entries.map((e) => html`<tr data-population="${e.population}">${isAdmin ? html`<td>${e.researcher}</td>` : ''}<td>${e.population}</td><td>${e.products.join(', ') || '—'}</td><td class="num">${fmt(e.budget.epsilon)}${e.explicit ? '' : html` <span class="note">(default)</span>`}</td><td class="num">${fmt(e.spent.epsilonAtBudgetDelta)}</td><td class="num">${fmt(e.remainingEpsilon)}</td><td class="num">${fmt(e.budget.delta)}</td><td class="num">${fmt(e.spent.delta)}</td><td class="num">${fmt(e.spent.rho)}</td><td class="num">${e.jobs}</td></tr>`)}</tbody>
</table>`}
${charts.length ? html`<h2>Spent over time</h2><p class="note">From the privacy ledger: every charge, reserved before any agent computed. ε is composed as the ledger composes it (zCDP ρ summed, then stated at the budget’s δ), so the last point of each line is the ε spent in the table. <a href="/budget/charts.json">Chart data (JSON)</a></p>
${leftOutBeyond ? html`<p class="error" role="status" id="history-left-out">Only the newest ${leftOutBeyond} charges are drawn: older ones are left out, so these lines start at 0 where the drawing starts and end below the ε spent in the table (the table is complete).</p>` : ''}
${charts.map((ch) => html`<figure class="chart" data-chart="${ch.id}" aria-label="${ch.title}">${ch.svg}<figcaption>${ch.title}</figcaption></figure>`)}` : html`<p class="note">No DP job has been charged yet: nothing to draw over time.</p>`}`;
}
