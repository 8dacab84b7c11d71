/** Mesh (agents, domains, liveness, versions, products) and Catalog (every product, where it lives, its schema). */
import type { AgentListing } from '../../coordinator/agent-registry.js';
import { populationOf } from '../../common/job/index.js';
import { fmt, html, when, type SafeHtml } from '../html.js';

export function meshPage(agents: AgentListing[], nowMs: number): SafeHtml {
  if (agents.length === 0) return html`<p>No agent has registered with this coordinator yet.</p>`;
  const live = agents.filter((a) => a.connected).length;
  return html`<p>${live} of ${agents.length} member agent(s) live. Agents dial out to the coordinator; no site opens an inbound port.</p>
<table>
<caption class="note">Member agents</caption>
<thead><tr><th scope="col">agent</th><th scope="col">domain</th><th scope="col">status</th><th scope="col">last heartbeat</th><th scope="col">version</th><th scope="col">data products</th><th scope="col">last ingest</th></tr></thead>
<tbody>${agents.map((a) => {
    const products = a.connected ? a.products.map((p) => p.name) : (a.member?.products ?? []);
    const age = a.lastHeartbeatMs ? `${Math.max(0, Math.round((nowMs - a.lastHeartbeatMs) / 1000))} s ago` : '—';
    return html`<tr data-agent="${a.name}"><td>${a.name}</td><td>${a.domain}</td><td>${a.connected ? html`<span class="state-succeeded">connected</span> since ${when(a.connectedSinceMs)}` : html`<span class="state-failed">not live</span>${a.member?.notLiveReason ? html`: ${a.member.notLiveReason}` : ''}`}</td><td>${age}</td><td>${a.version || '—'}</td><td>${products.join(', ') || '—'}</td><td>${a.ingest ? `${a.ingest.state}${a.ingest.failed.length ? ` (failed: ${a.ingest.failed.join(', ')})` : ''}` : '—'}</td></tr>`;
  })}</tbody>
</table>`;
}

interface CatalogEntry {
  name: string;
  description: string;
  privacyUnit: string;
  columns: { name: string; type: string }[];
  perAgent: { agent: string; domain: string; metadata: Record<string, unknown> }[];
}

/** Products of the live agents, merged by name (the schema shown is the first agent's; per-agent facts listed). */
export function catalogOf(agents: AgentListing[]): CatalogEntry[] {
  const byName = new Map<string, CatalogEntry>();
  for (const a of agents) {
    if (!a.connected) continue;
    for (const p of a.products) {
      const e = byName.get(p.name) ?? { name: p.name, description: p.description, privacyUnit: p.privacyUnit, columns: p.columns, perAgent: [] };
      e.perAgent.push({ agent: a.name, domain: a.domain, metadata: p.metadata });
      byName.set(p.name, e);
    }
  }
  return [...byName.values()].sort((x, y) => (x.name < y.name ? -1 : 1));
}

function semanticTypes(meta: Record<string, unknown>): Record<string, string> {
  const sem = meta.semanticTypes ?? meta.semantic ?? meta.columnTypes;
  return typeof sem === 'object' && sem !== null ? Object.fromEntries(Object.entries(sem).map(([k, v]) => [k, String(v)])) : {};
}

export function catalogPage(agents: AgentListing[]): SafeHtml {
  const products = catalogOf(agents);
  if (products.length === 0) return html`<p>No live agent serves a data product.</p>`;
  return html`<p>${products.length} data product(s) on the live agents. Row counts are coarsened by each agent.</p>
${products.map((p) => {
    const sem = semanticTypes(p.perAgent[0]?.metadata ?? {});
    return html`<section aria-labelledby="product-${p.name}">
<h2 id="product-${p.name}">${p.name}</h2>
<p>${p.description || 'no description'}</p>
<p>privacy unit: <strong>${p.privacyUnit || '—'}</strong>; population: ${[...new Set(p.perAgent.map((x) => populationOf({ metadata: x.metadata })))].join(', ')}</p>
<table><caption class="note">Where ${p.name} lives</caption><thead><tr><th scope="col">agent</th><th scope="col">domain</th><th scope="col">rows (coarsened)</th><th scope="col">sensitivity</th><th scope="col">quality</th></tr></thead>
<tbody>${p.perAgent.map((x) => {
      const q = (x.metadata.quality ?? {}) as Record<string, unknown>;
      const { rowCount, ...rest } = q;
      return html`<tr><td>${x.agent}</td><td>${x.domain}</td><td class="num">${fmt(rowCount)}</td><td>${String(x.metadata.sensitivity ?? '—')}</td><td>${Object.keys(rest).length ? Object.entries(rest).map(([k, v]) => `${k}: ${fmt(v)}`).join('; ') : '—'}</td></tr>`;
    })}</tbody></table>
<table><caption class="note">Schema of ${p.name}</caption><thead><tr><th scope="col">column</th><th scope="col">type</th><th scope="col">semantic type</th></tr></thead>
<tbody>${p.columns.map((c) => html`<tr><td>${c.name}</td><td>${c.type}</td><td>${sem[c.name] ?? '—'}</td></tr>`)}</tbody></table>
</section>`;
  })}`;
}
