/** Audit: the coordinator's tamper-evident log, filtered, with whether every entry and checkpoint verifies. */
import type { AuditView } from '../backend.js';
import { html, when, type SafeHtml } from '../html.js';

export interface AuditFilters {
  type: string;
  job: string;
  since: string;
}

export function auditPage(v: AuditView, f: AuditFilters): SafeHtml {
  return html`${v.ok ? html`<p class="state-succeeded" id="audit-status">Verified: every entry and every signed checkpoint verifies (${v.total} entries, ${v.checkpoints} checkpoints; key ${v.keyFingerprint}).</p>` : html`<p class="error" id="audit-status" role="alert">The audit log does NOT verify: ${v.problems.join('; ')}. Only entries whose signature verifies are shown.</p>`}
<form method="get" action="/audit">
<div class="field"><label for="f-type">event type or prefix</label><input id="f-type" name="type" value="${f.type}" maxlength="64" placeholder="job, job.admitted, ledger"></div>
<div class="field"><label for="f-job">job id</label><input id="f-job" name="job" value="${f.job}" maxlength="128"></div>
<div class="field"><label for="f-since">since (ISO date or time)</label><input id="f-since" name="since" value="${f.since}" maxlength="40" placeholder="2026-12-04"></div>
<button type="submit">Filter</button>
</form>
<table id="audit-table">
<caption class="note">${v.entries.length} matching entr${v.entries.length === 1 ? 'y' : 'ies'} (newest last)</caption>
<thead><tr><th scope="col">#</th><th scope="col">time</th><th scope="col">type</th><th scope="col">fields</th></tr></thead>
<tbody>${v.entries.map((e) => {
    const { i, atMs, type, sig: _sig, ...rest } = e as typeof e & { sig?: unknown };
    return html`<tr><td class="num">${i}</td><td>${when(atMs)}</td><td>${type}</td><td>${Object.entries(rest).map(([k, val]) => `${k}=${typeof val === 'string' ? val : JSON.stringify(val)}`).join('  ')}</td></tr>`;
  })}</tbody>
</table>`;
}
