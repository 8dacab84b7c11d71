/**
 * The dashboard as a Hono app over a {@link DashboardBackend}: pages rendered on the server, the job event stream
 * (server-sent events), result downloads and chart data. It depends only on web standards plus the backend, so
 * tests call it in-process; `server.ts` puts it behind HTTPS with client certificates.
 *
 * Who the caller is comes from `identify` (the TLS client certificate or a bearer token, see `auth.ts`) on every
 * request; what they may see is decided by the backend, i.e. by the coordinator's own service methods.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import type { Principal } from '../coordinator/principal.js';
import { FedmeshError } from '../common/errors.js';
import { resultTable } from '../client/sdk/result-table.js';
import { jobToJson } from '../client/cli/format/render.js';
import { budgetHistoryCharts, chartsForJob, renderVegaLiteSvg, type Chart } from '../client/cli/plot/index.js';
import type { DashboardBackend } from './backend.js';
import type { DashboardEnv } from './env.js';
import { DASHBOARD_CSS, DASHBOARD_JS } from './assets.js';
import { html, trustedSvg, type SafeHtml } from './html.js';
import { httpError } from './http-status.js';
import { page, type PageId } from './layout.js';
import { CSRF_FIELD, CsrfTokens, crossSite, SECURITY_HEADERS } from './security.js';
import { MAX_UPLOAD_BYTES, previewCost, specFromForm } from './submit-form.js';
import { toJobView } from './job-view.js';
import { safeCsv } from './csv.js';
import { StreamSlots } from '../coordinator/stream-slots.js';
import { logout, mountOidcLogin, sessionPrincipal, type OidcLogin } from './oidc-login.js';
import { meshPage, catalogPage, catalogOf } from './pages/mesh.js';
import { jobPage, jobsPage } from './pages/jobs.js';
import { budgetPage } from './pages/budget.js';
import { submitPage, previewPage } from './pages/submit.js';
import { auditPage } from './pages/audit.js';
import { parseSince } from '../client/cli/commands/audit.js';

export interface DashboardAppOptions {
  backend: DashboardBackend;
  /** The caller of a request. @throws FedmeshError UNAUTHENTICATED */
  identify: (c: Context) => Promise<Principal>;
  /** @default a fresh per-process secret */
  csrf?: CsrfTokens;
  /** Server-sent events: a comment this often keeps proxies from closing an idle stream. @default 15000 */
  keepAliveMs?: number;
  /** Live job streams (server-sent events) one caller may hold open at once; beyond it a stream is 429. @default 4 */
  maxStreamsPerCaller?: number;
  /** Browser sign-in with OpenID Connect (authorization code + PKCE); its session cookie identifies the caller first. */
  login?: OidcLogin | undefined;
  /** Ledger charges drawn on the Budget page (the newest; the page says when older ones are left out). @default 2000 */
  maxHistoryCharges?: number;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

type Env = DashboardEnv;

/** Jobs listed on the Jobs page and scanned for the Charts and Budget pages. */
const JOBS_LISTED = 100;
const CHART_JOBS = 10;

/** The Submit form with uploads; the confirm form carries the spec as text. */
const MAX_BODY_BYTES = 3 * MAX_UPLOAD_BYTES;

async function svgOf(spec: Parameters<typeof renderVegaLiteSvg>[0]): Promise<SafeHtml> {
  return trustedSvg(await renderVegaLiteSvg(spec));
}

export function createDashboardApp(opts: DashboardAppOptions): Hono<Env> {
  const { backend } = opts;
  const csrf = opts.csrf ?? new CsrfTokens();
  const log = opts.log ?? (() => undefined);
  const streams = new StreamSlots(opts.maxStreamsPerCaller);
  const app = new Hono<Env>();

  const login = opts.login;
  const render = (c: Context<Env>, title: string, active: PageId, body: SafeHtml, status = 200, job?: { id: string; state: string }): Response => {
    const p = c.get('principal');
    const signOut = login && p?.authenticatedBy === 'oidc' ? { signOutToken: csrf.tokenFor(p) } : {};
    return c.html(page({ title, active, principal: p, ...signOut, ...(job ? { jobId: job.id, jobState: job.state } : {}) }, body).value, status as 200);
  };

  app.use('*', async (c, next) => {
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, v);
  });

  app.onError((e, c) => {
    const err = httpError(e);
    if (err.status >= 500) log('dashboard-error', { path: c.req.path, error: String(e) });
    const principal = c.get('principal');
    // A browser that is not signed in is sent to sign in, and back here afterwards.
    if (err.status === 401 && login && c.req.method === 'GET' && (c.req.header('accept') ?? '').includes('text/html')) return c.redirect(`/login?next=${encodeURIComponent(new URL(c.req.url).pathname + new URL(c.req.url).search)}`, 303);
    return c.html(page({ title: err.status === 404 ? 'Not found' : 'Error', active: 'error', principal }, html`<p class="error" role="alert">${err.text}</p>`).value, err.status as 500);
  });

  app.get('/static/dashboard.css', (c) => c.body(DASHBOARD_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8' }));
  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.get('/static/dashboard.js', (c) => c.body(DASHBOARD_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }));

  if (login) mountOidcLogin(app, login, (c, title, text, link, status = 200) => c.html(page({ title, active: 'error', principal: undefined }, html`<p${status >= 400 ? html` class="error" role="alert"` : ''}>${text}</p><p><a href="${link.href}">${link.label}</a></p>`).value, status as 200));

  // Authentication on everything else (a sign-in session, else the transport's identity), then CSRF on every
  // state-changing request.
  app.use('*', async (c, next) => {
    const session = login && !c.req.header('authorization') ? sessionPrincipal(c, login) : undefined;
    c.set('principal', session ?? (await opts.identify(c)));
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      if (crossSite(c.req.raw.headers)) throw new FedmeshError('POLICY_DENIED', 'cross-site request refused');
    }
    await next();
  });
  const checkCsrf = (c: Context<Env>, body: Record<string, unknown>): void => {
    if (!csrf.check(c.get('principal'), body[CSRF_FIELD])) throw new FedmeshError('POLICY_DENIED', 'the form is missing its CSRF token or it is not yours: reload the page and submit again');
  };

  if (login) {
    app.post('/logout', bodyLimit({ maxSize: 4096, onError: () => { throw new FedmeshError('MESSAGE_TOO_LARGE', 'the form is larger than 4096 bytes'); } }), async (c) => {
      checkCsrf(c, await c.req.parseBody());
      return logout(c, login);
    });
  }

  app.get('/', (c) => render(c, 'Mesh', 'mesh', meshPage(backend.agents(c.get('principal')), Date.now())));
  app.get('/catalog', (c) => render(c, 'Catalog', 'catalog', catalogPage(backend.agents(c.get('principal')))));

  app.get('/jobs', async (c) => {
    const p = c.get('principal');
    return render(c, 'Jobs', 'jobs', jobsPage(await backend.listJobs(p, JOBS_LISTED), p.isAdmin));
  });

  const jobParts = async (c: Context<Env>) => {
    const job = await backend.getJob(c.get('principal'), c.req.param('id') ?? '');
    const view = toJobView(job);
    return { job, view };
  };

  app.get('/jobs/:id', async (c) => {
    const { view } = await jobParts(c);
    const charts = await Promise.all(chartsForJob(view).map(async (ch) => ({ id: ch.id, title: ch.title, svg: await svgOf(ch.spec) })));
    const table = view.result ? resultTable(view) : { columns: [], rows: [] };
    return render(c, `Job ${view.jobId.slice(0, 8)}`, 'job', jobPage({ view, table, charts }), 200, { id: view.jobId, state: view.state });
  });

  app.get('/jobs/:id/result.csv', async (c) => {
    const { view } = await jobParts(c);
    if (!view.result) throw new FedmeshError('FAILED_PRECONDITION', 'the job has no released result (yet)');
    return c.body(safeCsv(resultTable(view)), 200, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="fedmesh-${view.jobId}.csv"` });
  });
  app.get('/jobs/:id/result.json', async (c) => {
    const { view } = await jobParts(c);
    return c.body(`${JSON.stringify(jobToJson(view), null, 2)}\n`, 200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Disposition': `attachment; filename="fedmesh-${view.jobId}.json"` });
  });
  app.get('/jobs/:id/charts.json', async (c) => {
    const { view } = await jobParts(c);
    return c.json(chartsForJob(view).map((ch) => ({ id: ch.id, title: ch.title, rows: ch.rows })));
  });

  // Live progress: every job event (admitted, dispatched, per-agent answers and failures, rounds, combined) as an
  // SSE `job` event, then `finished`. Ownership is the coordinator's watchJob, which is getJob's.
  app.get('/jobs/:id/events', async (c) => {
    const p = c.get('principal');
    const id = c.req.param('id');
    const queue: { event: string; data: string }[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    // One of the caller's stream slots (429 beyond the cap), given back when the stream ends or watching fails.
    const release = streams.acquire(p);
    let unsubscribe: () => void;
    try {
      unsubscribe = await backend.watchJob(p, id, (e, job) => {
        queue.push({ event: 'job', data: JSON.stringify({ type: e.type, agent: e.agent ?? '', message: e.message ?? '', atMs: e.atMs }) });
        if (e.type === 'finished') {
          queue.push({ event: 'finished', data: JSON.stringify({ state: job?.state ?? e.message ?? '' }) });
          done = true;
        }
        wake?.();
      });
    } catch (e) {
      release();
      throw e;
    }
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => {
        done = true;
        wake?.();
      });
      try {
        const keepAliveMs = opts.keepAliveMs ?? 15_000;
        for (;;) {
          while (queue.length > 0) await stream.writeSSE(queue.shift()!);
          if (done || stream.aborted) break;
          await new Promise<void>((resolve) => {
            wake = resolve;
            const t = setTimeout(resolve, keepAliveMs);
            t.unref?.();
          });
          wake = undefined;
          if (queue.length === 0 && !done && !stream.aborted) await stream.write(': keep-alive\n\n');
        }
      } finally {
        unsubscribe();
        release();
      }
    });
  });

  app.get('/charts', async (c) => {
    const p = c.get('principal');
    const recent = (await backend.listJobs(p, JOBS_LISTED)).filter((j) => j.state === 'succeeded').slice(0, CHART_JOBS);
    const sections: SafeHtml[] = [];
    for (const s of recent) {
      const view = toJobView(await backend.getJob(p, s.id));
      const charts = chartsForJob(view);
      if (charts.length === 0) continue;
      const svgs = await Promise.all(charts.map((ch) => svgOf(ch.spec)));
      sections.push(html`<section><h2><a href="/jobs/${encodeURIComponent(s.id)}">${s.kind} on ${s.spec.product ?? 'a cohort'}</a> <span class="note">(${s.id.slice(0, 8)})</span></h2>${charts.map((ch, i) => html`<figure class="chart" data-chart="${ch.id}" aria-label="${ch.title}">${svgs[i]!}<figcaption>${ch.title}</figcaption></figure>`)}</section>`);
    }
    return render(c, 'Charts', 'charts', sections.length ? html`<p>Charts of your ${recent.length} most recent finished job(s).</p>${sections}` : html`<p>No finished job with a chart yet.</p>`);
  });

  /** The Budget page's charts: spend over time from the ledger's charges, against the caller's budgets. */
  const maxCharges = opts.maxHistoryCharges ?? 2000;
  const budgetCharts = async (p: Principal): Promise<{ entries: Awaited<ReturnType<DashboardBackend['budget']>>; charts: Chart[]; leftOut: boolean }> => {
    // One more than drawn, to know whether older charges were left out (their lines would then start too low).
    const [entries, history] = await Promise.all([backend.budget(p), backend.budgetHistory(p, maxCharges + 1)]);
    const leftOut = history.charges.length > maxCharges;
    const charges = leftOut ? history.charges.slice(-maxCharges) : history.charges;
    const lines = entries.map((e) => ({ researcher: e.researcher, population: e.population, epsilon: e.budget.epsilon, delta: e.budget.delta }));
    return { entries, leftOut, charts: budgetHistoryCharts(charges, lines, { defaultDelta: history.defaultDelta, showResearcher: p.isAdmin }) };
  };
  app.get('/budget', async (c) => {
    const p = c.get('principal');
    const { entries, charts, leftOut } = await budgetCharts(p);
    const svgs = await Promise.all(charts.map(async (ch) => ({ id: ch.id, title: ch.title, svg: await svgOf(ch.spec) })));
    return render(c, 'Budget', 'budget', budgetPage(entries, p.isAdmin, svgs, leftOut ? maxCharges : undefined));
  });
  app.get('/budget/charts.json', async (c) => {
    const { charts } = await budgetCharts(c.get('principal'));
    return c.json(charts.map((ch) => ({ id: ch.id, title: ch.title, rows: ch.rows })));
  });

  const products = (p: Principal): string[] => catalogOf(backend.agents(p)).map((x) => x.name);
  app.get('/submit', (c) => render(c, 'Submit a job', 'submit', submitPage(products(c.get('principal')), csrf.tokenFor(c.get('principal')))));

  app.post('/submit', bodyLimit({ maxSize: MAX_BODY_BYTES, onError: () => { throw new FedmeshError('MESSAGE_TOO_LARGE', `the form is larger than ${MAX_BODY_BYTES} bytes`); } }), async (c) => {
    const p = c.get('principal');
    const body = await c.req.parseBody();
    checkCsrf(c, body);
    let spec: Record<string, unknown>;
    try {
      spec = await specFromForm(body);
    } catch (e) {
      const err = httpError(e);
      return render(c, 'Submit a job', 'submit', submitPage(products(p), csrf.tokenFor(p), err.text), err.status);
    }
    if (body.action === 'submit') return submit(c, spec);
    return render(c, 'Preview: privacy cost', 'submit', previewPage(spec, previewCost(spec), await backend.budget(p), csrf.tokenFor(p)));
  });

  app.post('/submit/confirm', bodyLimit({ maxSize: MAX_BODY_BYTES, onError: () => { throw new FedmeshError('MESSAGE_TOO_LARGE', `the form is larger than ${MAX_BODY_BYTES} bytes`); } }), async (c) => {
    const body = await c.req.parseBody();
    checkCsrf(c, body);
    if (typeof body.spec !== 'string') throw new FedmeshError('INVALID_ARGUMENT', 'spec: missing', { field: 'spec' });
    let spec: Record<string, unknown>;
    try {
      spec = JSON.parse(body.spec) as Record<string, unknown>;
    } catch {
      throw new FedmeshError('INVALID_ARGUMENT', 'spec: not JSON', { field: 'spec' });
    }
    return submit(c, spec);
  });

  async function submit(c: Context<Env>, spec: Record<string, unknown>): Promise<Response> {
    const p = c.get('principal');
    try {
      const job = await backend.submitJob(p, JSON.stringify(spec));
      return c.redirect(`/jobs/${encodeURIComponent(job.id)}`, 303);
    } catch (e) {
      const err = httpError(e);
      if (err.status >= 500) throw e;
      return render(c, 'Submit a job', 'submit', submitPage(products(p), csrf.tokenFor(p), `The coordinator refused the job: ${err.text}`), err.status);
    }
  }

  app.get('/audit', (c) => {
    const p = c.get('principal');
    const q = (k: string): string => (c.req.query(k) ?? '').slice(0, 128);
    const filters = { type: q('type'), job: q('job'), since: q('since') };
    let sinceMs: number | undefined;
    try {
      sinceMs = filters.since ? parseSince(filters.since) : undefined;
    } catch (e) {
      throw new FedmeshError('INVALID_ARGUMENT', `since: ${(e as Error).message.replace(/^--since /, '')}`, { field: 'since' });
    }
    const view = backend.audit(p, { ...(filters.type ? { type: filters.type } : {}), ...(filters.job ? { jobId: filters.job } : {}), ...(sinceMs !== undefined ? { sinceMs } : {}), limit: 500 });
    return render(c, 'Audit log', 'audit', auditPage(view, filters));
  });

  app.notFound((c) => render(c, 'Not found', 'error', html`<p>There is no page at this address.</p>`, 404));
  return app;
}
