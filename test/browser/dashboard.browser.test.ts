/**
 * The dashboard in a real browser (issue 12): a real local mesh (coordinator, three agents on synthetic OMOP sites,
 * mTLS), the dashboard over HTTPS in the coordinator's process, headless Chromium presenting client certificates.
 * Opens every page (screenshots in test/browser/artifacts/), submits a job through the form, watches it finish,
 * checks the table, the chart's data and the CSV download against the gRPC result, tries a cross-site post from
 * another origin, another researcher's job, and the accessibility basics (labels, contrast, keyboard). A second
 * researcher signs in with OpenID Connect through a test issuer (no certificate), submits a secure (secagg,
 * distributed-dp) job through the form, and sees only their own jobs and their spend over time from the ledger.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/tools/synth/index.js';
import { resultTable } from '../../client/sdk/result-table.js';
import { toCsv } from '../../client/cli/format/write-table.js';
import { chartsForJob } from '../../client/cli/plot/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { coordinatorBackend, startDashboardServer, type RunningDashboard } from '../../dashboard/index.js';
import { safeCsv } from '../../dashboard/csv.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { startLoginIssuer, type LoginIssuer } from '../helpers/oidc-login-issuer.js';
import { createOidcVerifier } from '../../coordinator/identity/index.js';
import type { Principal } from '../../coordinator/principal.js';
import { ARTIFACTS, contextAs, contrastRatio, HAVE_CHROMIUM, launchChromium, CHROMIUM } from './browser-helpers.js';

if (!HAVE_CHROMIUM) console.warn(`SKIPPED: dashboard browser tests need Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);

// Three sites: secure aggregation needs at least three (with two, the sum reveals the other's input).
const sites = ['s1', 's2', 's3'];

describe.skipIf(!HAVE_CHROMIUM)('the dashboard in headless Chromium', () => {
  let mesh: TestMesh;
  let dash: RunningDashboard;
  let idp: LoginIssuer;
  let browser: Browser;
  let researcher: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  let jobId = '';

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: sites });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 3, persons: 400, seed: 7, format: 'parquet' });
    for (const [i, s] of synth.sites.entries()) await mesh.startAgent(sites[i]!, s.dir);
    await mesh.waitForAgents(3, 60_000);
    idp = await startLoginIssuer(mesh.tlsDir);
    const oidc = createOidcVerifier({ issuer: idp.issuer, audience: idp.clientId, jwksUrl: idp.jwksUrl, jwksCa: idp.ca, clockSkewSec: 5 });
    dash = await startDashboardServer({ backend: coordinatorBackend(mesh.coordinator), listen: '127.0.0.1:0', tls: loadTlsMaterial(mesh.tlsDir, 'coordinator'), oidc, login: {} });
    browser = await launchChromium();
    researcher = await contextAs(browser, new URL(dash.url).origin, mesh.tlsDir, 'researcher', 'researcher');
    page = await researcher.newPage();
    // A CSP violation or a script error on any page is a failure (the console says "Refused to ..." for CSP).
    // (A 403 or 404 this test asks for is logged as "Failed to load resource": not a problem.)
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(String(e)));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await dash?.close();
    await idp?.close();
    await mesh?.close();
  });

  it.each([
    ['/', 'Mesh', 's1'],
    ['/catalog', 'Catalog', 'person'],
    ['/jobs', 'Jobs', 'No jobs yet'],
    ['/budget', 'Budget', 'budget'],
    ['/charts', 'Charts', 'No finished job'],
    ['/submit', 'Submit a job', 'Data product'],
  ])('opens %s', async (path, heading, text) => {
    const res = await page.goto(new URL(path, dash.url).href);
    expect(res?.status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe(heading);
    expect(await page.locator('main').textContent()).toContain(text);
    await page.screenshot({ path: join(ARTIFACTS, `page${path === '/' ? '-mesh' : path.replace(/\//g, '-')}.png`), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('submits an aggregate through the form, shows its cost first, and watches it finish', async () => {
    await page.goto(new URL('/submit', dash.url).href);
    // The script shows only the chosen kind's fields.
    expect(await page.locator('fieldset[data-kind="cohort"]').isHidden()).toBe(true);
    await page.selectOption('#product', 'person');
    await page.fill('#groupBy', 'gender_concept_id');
    await page.fill('#histColumn', 'year_of_birth');
    await page.fill('#histEdges', '1930,1950,1970,1990,2010');
    await page.selectOption('#mode', 'central-dp');
    await page.fill('#epsilon', '1');
    expect(await page.locator('#cost-estimate').textContent()).toContain('ε = 1');
    await page.selectOption('#mode', 'none');
    await page.fill('#epsilon', '');
    await page.click('button[value="preview"]');
    expect(await page.locator('h1').textContent()).toBe('Preview: privacy cost');
    expect(await page.locator('#cost').textContent()).toContain('No privacy budget is charged');
    await page.screenshot({ path: join(ARTIFACTS, 'submit-preview.png'), fullPage: true });
    await Promise.all([page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/), page.click('form[action="/submit/confirm"] button')]);
    jobId = page.url().split('/').at(-1)!;
    // The page follows the job over server-sent events and reloads when it finishes.
    await page.locator('#job-state.state-succeeded').waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'job-finished.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('shows the same table and chart data as the gRPC result, and downloads the same CSV', async () => {
    expect(jobId).not.toBe('');
    const grpc = await mesh.client.getJob(jobId);
    expect(grpc.state).toBe('succeeded');
    const table = resultTable(grpc);
    // In-page code is passed as text: this project's TypeScript has no DOM types.
    const shown = (await page.evaluate(`(() => {
      const t = document.getElementById('result-table');
      return { head: [...t.tHead.rows[0].cells].map((c) => c.textContent), rows: [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.getAttribute('data-value'))) };
    })()`)) as { head: string[]; rows: string[][] };
    expect(shown.head).toEqual(table.columns);
    expect(shown.rows).toEqual(table.rows.map((r) => table.columns.map((c) => (r[c] === null || r[c] === undefined ? '' : String(r[c])))));
    expect(shown.rows.length).toBeGreaterThanOrEqual(2);

    // Chart data as served, against the charts of the gRPC result; and the SVG draws one bar per released bin.
    const served = await (await researcher.request.get(new URL(`/jobs/${jobId}/charts.json`, dash.url).href)).json() as { id: string; rows: unknown[] }[];
    const expected = chartsForJob(grpc).map((c) => ({ id: c.id, rows: c.rows }));
    expect(served.map((c) => ({ id: c.id, rows: c.rows }))).toEqual(expected);
    const hist = expected.find((c) => c.id.startsWith('histogram-'))!;
    expect(hist.rows.length).toBeGreaterThan(0);
    const bars = await page.locator(`figure[data-chart="${hist.id}"] [aria-roledescription="bar"]`).count();
    expect(bars).toBe(hist.rows.length);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href$="result.csv"]')]);
    const csv = await readFile((await download.path())!, 'utf8');
    // The download is the gRPC result's CSV: formula-like text cells neutralised (none in this result, so it is
    // also byte for byte the CLI's CSV; dashboard/csv.test.ts covers the hostile case).
    expect(csv).toBe(safeCsv(table));
    expect(csv).toBe(toCsv(table));
  });

  it("never shows another researcher's job, and refuses a cross-site post", async () => {
    const alice = await contextAs(browser, new URL(dash.url).origin, mesh.tlsDir, 'researcher', 'alice');
    try {
      const p = await alice.newPage();
      const res = await p.goto(new URL(`/jobs/${jobId}`, dash.url).href);
      expect(res?.status()).toBe(404);
      await p.goto(new URL('/jobs', dash.url).href);
      expect(await p.locator('main').textContent()).not.toContain(jobId.slice(0, 8));
    } finally {
      await alice.close();
    }

    // An attacker's page on another origin auto-posts a job form to the dashboard: the browser would present the
    // researcher's certificate, so only the CSRF defences stand in the way.
    const before = (await mesh.client.listJobs(100)).length;
    const evilHtml = `<!doctype html><form id="f" method="post" action="${new URL('/submit/confirm', dash.url).href}"><input name="spec" value='{"kind":"aggregate","product":"person","measures":[{"fn":"count"}],"privacy":{"mode":"none"}}'><input name="_csrf" value="guess"></form><script>document.getElementById('f').submit()</script>`;
    const evil: Server = createServer((_req, res) => res.end(evilHtml));
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    try {
      const p = await researcher.newPage();
      const refused = p.waitForResponse((r) => r.url().endsWith('/submit/confirm'));
      await p.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
      expect((await refused).status()).toBe(403);
      await p.close();
    } finally {
      evil.close();
    }
    expect((await mesh.client.listJobs(100)).length).toBe(before);
  });

  it('signs in with OIDC (no certificate), submits a secure job through the form, and sees only own jobs and spend', async () => {
    expect(jobId).not.toBe('');
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const p = await ctx.newPage();
      const errors: string[] = [];
      p.on('pageerror', (e) => errors.push(String(e)));
      // Not signed in: the dashboard sends the browser to the issuer, which approves the test user and sends it back.
      const res = await p.goto(new URL('/jobs', dash.url).href);
      expect(res?.status()).toBe(200);
      expect(p.url()).toBe(new URL('/jobs', dash.url).href);
      expect(await p.locator('header .who').textContent()).toContain('oidc-alice');
      expect(await p.locator('main').textContent()).not.toContain(jobId.slice(0, 8));
      expect((await p.goto(new URL(`/jobs/${jobId}`, dash.url).href))?.status()).toBe(404);
      const session = (await ctx.cookies()).find((c) => c.name === '__Host-fedmesh-session')!;
      expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
      expect(session.expires * 1000).toBeGreaterThan(Date.now());
      expect(session.expires * 1000).toBeLessThanOrEqual(Date.now() + 8 * 3_600_000 + 60_000);
      expect(idp.authorizeRequests.at(-1)!.get('code_challenge_method')).toBe('S256');

      // A secure job through the form: secagg with distributed-dp noise shares, its cost and what the coordinator sees previewed.
      await p.goto(new URL('/submit', dash.url).href);
      await p.selectOption('#product', 'person');
      await p.selectOption('#mode', 'distributed-dp');
      await p.selectOption('#secure', 'secagg');
      await p.fill('#rho', '0.05');
      expect(await p.locator('#cost-estimate').textContent()).toContain('only the masked sum');
      expect(await p.locator('#secure option[value="he"]').isDisabled()).toBe(true);
      await p.click('button[value="preview"]');
      expect(await p.locator('#cost').textContent()).toContain('ρ = 0.05');
      expect(await p.locator('#secure-note').textContent()).toContain('the coordinator sees only the sum over the agents');
      await p.screenshot({ path: join(ARTIFACTS, 'submit-secure-preview.png'), fullPage: true });
      await Promise.all([p.waitForNavigation(), p.click('form[action="/submit/confirm"] button')]);
      expect(p.url(), (await p.content()).slice(0, 3000)).toMatch(/\/jobs\/[0-9a-f-]{36}$/);
      const secureId = p.url().split('/').at(-1)!;
      await p.locator('#job-state.state-succeeded').waitFor({ timeout: 60_000 });
      const alice: Principal = { name: 'oidc-alice', isAdmin: false, authenticatedBy: 'oidc' };
      const record = await mesh.coordinator.getJob(alice, secureId);
      expect(record.researcher).toBe('oidc-alice');
      expect(record.spec).toMatchObject({ secure: 'secagg', privacy: { mode: 'distributed-dp', rho: 0.05 } });
      expect(record.result!.privacy).toMatchObject({ secure: 'secagg' });
      // The certificate researcher never sees it.
      await expect(mesh.client.getJob(secureId)).rejects.toThrow();
      await p.goto(new URL('/jobs', dash.url).href);
      expect(await p.locator(`tr[data-job-id="${secureId}"]`).count()).toBe(1);
      expect(await p.locator('tbody tr').count()).toBe(1);

      // Budget: spend over time from the ledger, ending at the ε spent the coordinator reports for this researcher.
      await p.goto(new URL('/budget', dash.url).href);
      expect(await p.locator('figure[data-chart="spend-population"] svg').count()).toBe(1);
      await p.screenshot({ path: join(ARTIFACTS, 'page-budget-oidc.png'), fullPage: true });
      const served = (await (await ctx.request.get(new URL('/budget/charts.json', dash.url).href)).json()) as { id: string; rows: { series: string; epsilon: number }[] }[];
      const [entry] = await mesh.coordinator.budgetReport('oidc-alice', false);
      expect(entry!.jobs).toBe(1);
      expect(served[0]!.rows.at(-1)!.epsilon).toBeCloseTo(entry!.spent.epsilonAtBudgetDelta, 9);
      expect(served[0]!.rows.at(-1)!.series).toBe(entry!.population);

      // Sign out: the session cookie goes, and the dashboard no longer knows this browser.
      await p.goto(new URL('/jobs', dash.url).href);
      await Promise.all([p.waitForURL(/\/signed-out$/), p.click('form.signout button')]);
      expect((await ctx.cookies()).some((c) => c.name === '__Host-fedmesh-session')).toBe(false);
      expect((await ctx.request.get(new URL('/jobs', dash.url).href, { maxRedirects: 0, headers: { accept: 'text/html' } })).status()).toBe(303);
      expect((await ctx.request.get(new URL('/jobs', dash.url).href, { maxRedirects: 0 })).status()).toBe(401);
      expect(errors).toEqual([]);

      // Negative control in the browser: a callback whose state is not this sign-in's is refused, no session.
      idp.misbehave({ state: 'forged-state' });
      const refused = p.waitForResponse((r) => r.url().includes('/auth/callback'));
      await p.goto(new URL('/login?next=/jobs', dash.url).href);
      expect((await refused).status()).toBe(401);
      expect(await p.locator('h1').textContent()).toBe('Sign-in failed');
      expect((await ctx.cookies()).some((c) => c.name === '__Host-fedmesh-session')).toBe(false);
    } finally {
      await ctx.close();
    }
  });

  it('administrators see the verified audit log', async () => {
    const admin = await contextAs(browser, new URL(dash.url).origin, mesh.tlsDir, 'admin', 'admin');
    try {
      const p = await admin.newPage();
      await p.goto(new URL(`/audit?job=${jobId}`, dash.url).href);
      expect(await p.locator('#audit-status').textContent()).toContain('Verified');
      expect(await p.locator('#audit-table tbody tr').count()).toBeGreaterThan(0);
      await p.screenshot({ path: join(ARTIFACTS, 'page-audit.png'), fullPage: true });
      const r = await p.goto(new URL('/audit', dash.url).href);
      expect(r?.status()).toBe(200);
    } finally {
      await admin.close();
    }
    const res = await page.goto(new URL('/audit', dash.url).href);
    expect(res?.status()).toBe(403);
  });

  it('accessibility basics: every control labelled, text contrast ≥ 4.5:1, keyboard navigation', async () => {
    await page.goto(new URL('/submit', dash.url).href);
    const unlabelled = await page.evaluate(`[...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label')).map((el) => el.outerHTML)`);
    expect(unlabelled).toEqual([]);

    for (const path of ['/submit', `/jobs/${jobId}`]) {
      await page.goto(new URL(path, dash.url).href);
      const pairs = (await page.evaluate(`(() => {
        const bg = (el) => {
          for (let e = el; e; e = e.parentElement) {
            const c = getComputedStyle(e).backgroundColor;
            if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c;
          }
          return 'rgb(255, 255, 255)';
        };
        return [...document.querySelectorAll('h1, h2, p, a, button, th, td, label, li, span, dd, dt, caption, figcaption')]
          .filter((e) => e.textContent.trim() && e.offsetParent !== null)
          .map((e) => ({ what: e.tagName.toLowerCase() + '.' + e.className, fg: getComputedStyle(e).color, bg: bg(e) }));
      })()`)) as { what: string; fg: string; bg: string }[];
      expect(pairs.length).toBeGreaterThan(10);
      const low = pairs.map((p) => ({ ...p, ratio: contrastRatio(p.fg, p.bg) })).filter((p) => p.ratio < 4.5);
      expect(low, path).toEqual([]);
    }

    // Keyboard: the first Tab reaches the skip link, then the navigation in order; Enter follows a link.
    await page.goto(new URL('/', dash.url).href);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement && document.activeElement.textContent')).toBe('Skip to content');
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      order.push(String(await page.evaluate('document.activeElement && document.activeElement.textContent')));
    }
    expect(order).toEqual(['Mesh', 'Catalog', 'Jobs', 'Charts', 'Budget', 'Submit']);
    await Promise.all([page.waitForURL(/\/submit$/), page.keyboard.press('Enter')]);
    expect(problems).toEqual([]);
  });
});
