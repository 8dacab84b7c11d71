/**
 * Submit: one form for the common jobs (aggregate, cohort from an uploaded Circe JSON, survival), then a preview
 * that states the spec and its privacy cost against the caller's remaining budget before anything is submitted.
 * Both forms carry the CSRF token.
 */
import type { BudgetEntry } from '../../coordinator/ledger.js';
import { CSRF_FIELD } from '../security.js';
import { fmt, html, type SafeHtml } from '../html.js';
import { secureNote, type CostPreview } from '../submit-form.js';

const csrf = (token: string): SafeHtml => html`<input type="hidden" name="${CSRF_FIELD}" value="${token}">`;

export function submitPage(products: string[], token: string, error?: string): SafeHtml {
  return html`${error ? html`<p class="error" role="alert" id="form-error">${error}</p>` : ''}
<form id="submit-form" method="post" action="/submit" enctype="multipart/form-data">
${csrf(token)}
<fieldset><legend>Job</legend>
<div class="field" role="radiogroup" aria-label="job kind">
<label><input type="radio" name="kind" value="aggregate" checked> Aggregate (counts, means, histograms)</label>
<label><input type="radio" name="kind" value="cohort"> Cohort (OHDSI Circe JSON)</label>
<label><input type="radio" name="kind" value="survival"> Survival (Kaplan–Meier)</label>
</div></fieldset>
<fieldset data-kind="aggregate"><legend>Aggregate</legend>
<div class="field"><label for="product">Data product</label><select id="product" name="product">${products.map((p) => html`<option value="${p}">${p}</option>`)}</select></div>
<div class="field"><label><input type="checkbox" name="count" value="1" checked> Count rows</label></div>
<div class="field"><label for="meanColumn">Mean of column</label><input id="meanColumn" name="meanColumn" maxlength="64"></div>
<div class="field"><label for="meanLo">Mean: public lower bound</label><input id="meanLo" name="meanLo" inputmode="decimal"></div>
<div class="field"><label for="meanHi">Mean: public upper bound</label><input id="meanHi" name="meanHi" inputmode="decimal"></div>
<div class="field"><label for="histColumn">Histogram of column</label><input id="histColumn" name="histColumn" maxlength="64"></div>
<div class="field"><label for="histEdges">Histogram: public bin edges (comma-separated)</label><input id="histEdges" name="histEdges" maxlength="200" placeholder="1930, 1950, 1970, 1990, 2010"></div>
<div class="field"><label for="groupBy">Group by (comma-separated columns)</label><input id="groupBy" name="groupBy" maxlength="200"></div>
<div class="field"><label for="groupKeys">Public group keys (column=value,value; …)</label><input id="groupKeys" name="groupKeys" maxlength="200" placeholder="gender_concept_id=8507,8532"></div>
</fieldset>
<fieldset data-kind="cohort"><legend>Cohort</legend>
<div class="field"><label for="circe">Circe cohort definition (JSON file)</label><input id="circe" name="circe" type="file" accept="application/json,.json"></div>
</fieldset>
<fieldset data-kind="survival"><legend>Survival</legend>
<div class="field"><label for="target">Target cohort (Circe JSON file)</label><input id="target" name="target" type="file" accept="application/json,.json"></div>
<div class="field"><label for="outcome">Outcome cohort (Circe JSON file; empty: death)</label><input id="outcome" name="outcome" type="file" accept="application/json,.json"></div>
<div class="field"><label for="binDays">Time bin (days)</label><input id="binDays" name="binDays" inputmode="numeric" value="180"></div>
<div class="field"><label for="maxDays">Follow-up (days)</label><input id="maxDays" name="maxDays" inputmode="numeric" value="3650"></div>
<div class="field"><label for="strata">Strata</label><select id="strata" name="strata"><option value="">none</option><option value="gender">gender</option></select></div>
</fieldset>
<fieldset><legend>Privacy</legend>
<div class="field"><label for="mode">Privacy mode</label><select id="mode" name="mode"><option value="none">none (exact, minimum cell size)</option><option value="central-dp">central DP</option><option value="local-dp">local DP</option><option value="distributed-dp">distributed DP (noise shares; needs secagg)</option></select></div>
<div class="field"><label for="secure">Secure sum</label><select id="secure" name="secure" aria-describedby="secure-help"><option value="">none (the coordinator sees each agent’s aggregate)</option><option value="secagg">secagg: pairwise masks, the coordinator sees only the sum</option><option value="he" disabled>he: homomorphic encryption (CLI only: the key stays on your machine)</option></select>
<p class="note" id="secure-help">Secure aggregation works in mode none or distributed DP; grouped aggregates then need public group keys. HE is not offered here: its secret key must never be at the coordinator, where this page runs.</p></div>
<div class="field"><label for="epsilon">ε (epsilon)</label><input id="epsilon" name="epsilon" inputmode="decimal"></div>
<div class="field"><label for="delta">δ (delta)</label><input id="delta" name="delta" inputmode="decimal" placeholder="1e-6"></div>
<div class="field"><label for="rho">or ρ (zCDP)</label><input id="rho" name="rho" inputmode="decimal"></div>
<p class="cost" id="cost-estimate" aria-live="polite">Privacy cost: shown on the preview before you submit.</p>
</fieldset>
<button type="submit" name="action" value="preview">Preview privacy cost</button>
<button type="submit" name="action" value="submit">Submit job</button>
</form>`;
}

/** The preview: the spec, its cost, the caller's remaining budget on the product's population, and a confirm form. */
export function previewPage(spec: Record<string, unknown>, cost: CostPreview, budget: BudgetEntry[], token: string): SafeHtml {
  const product = typeof spec.product === 'string' ? spec.product : undefined;
  const entry = product ? budget.find((e) => e.products.includes(product)) : budget.find((e) => e.population === 'person');
  const after = entry ? entry.remainingEpsilon - cost.epsilon : undefined;
  const secure = secureNote(spec);
  return html`<p class="cost" id="cost">${cost.text}</p>
${secure ? html`<p class="cost" id="secure-note">${secure}</p>` : ''}
${entry ? html`<p id="remaining">Your remaining ε on population <strong>${entry.population}</strong>: ${fmt(entry.remainingEpsilon)} of ${fmt(entry.budget.epsilon)}${cost.epsilon > 0 ? html`; after this job: <strong>${fmt(after)}</strong>` : ''}.${after !== undefined && after < 0 ? html` <span class="error">This exceeds your budget: the coordinator will refuse it.</span>` : ''}</p>` : html`<p class="note">No budget has been charged on this population yet; the coordinator’s default budget applies.</p>`}
<h2>Job spec</h2>
<pre id="spec-json">${JSON.stringify(spec, null, 2)}</pre>
<form method="post" action="/submit/confirm">
${csrf(token)}
<input type="hidden" name="spec" value="${JSON.stringify(spec)}">
<button type="submit">Submit job</button> <a href="/submit">Back to the form</a>
</form>`;
}
