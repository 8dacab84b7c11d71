/**
 * `fedmesh coordinator --dashboard-listen … --dashboard-oidc-client-id …` as documented, with the built CLI: the
 * coordinator prints the dashboard's address saying browsers may sign in at the issuer, and a browser's redirects
 * (through a test issuer) end signed in on the Jobs page. Without --oidc-issuer the flag is refused, naming it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevCertificates } from '../../client/tools/certs.js';
import { CLI, fedmesh } from '../helpers/fedmesh-cli.js';
import { call, Jar } from '../helpers/oidc-browser.js';
import { startLoginIssuer, type LoginIssuer } from '../helpers/oidc-login-issuer.js';

describe('fedmesh coordinator --dashboard-oidc-client-id', () => {
  let dir = '';
  let idp: LoginIssuer;
  let coordinator: ChildProcess | undefined;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-dash-oidc-'));
    await makeDevCertificates({ outDir: join(dir, 'tls'), agents: ['hospital-a'], researchers: ['alice'] });
    idp = await startLoginIssuer(join(dir, 'tls'));
    await copyFile(join(dir, 'tls', 'ca.crt'), join(dir, 'idp-ca.pem'));
  }, 60_000);

  afterAll(async () => {
    if (coordinator && coordinator.exitCode === null) {
      await new Promise<void>((res) => {
        coordinator!.once('exit', () => res());
        coordinator!.kill('SIGTERM');
      });
    }
    await idp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves the dashboard with browser sign-in at the coordinator’s issuer', async () => {
    coordinator = spawn(process.execPath, [CLI, 'coordinator', '--listen', '127.0.0.1:0', '--state', join(dir, 'state'), '--tls-dir', join(dir, 'tls'), '--log-format', 'silent',
      '--oidc-issuer', idp.issuer, '--oidc-audience', idp.clientId, '--oidc-jwks', idp.jwksUrl, '--oidc-jwks-ca', join(dir, 'idp-ca.pem'),
      '--dashboard-listen', '127.0.0.1:0', '--dashboard-oidc-client-id', idp.clientId], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      coordinator!.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /fedmesh dashboard on (\S+) \(([^)]*)\)/.exec(out);
        if (m) resolve(m[1]!);
      });
      coordinator!.once('exit', (code) => reject(new Error(`coordinator exited ${code}: ${out}`)));
    });
    expect(out).toContain(`or sign in with ${idp.issuer}`);

    const jar = new Jar();
    const first = await call(new URL('/jobs', url).href, idp.ca);
    expect(first.status).toBe(303);
    const start = await call(new URL(first.location!, url).href, idp.ca);
    jar.take(start);
    expect(new URL(start.location!).searchParams.get('redirect_uri')).toBe(new URL('/auth/callback', url).href);
    const back = await call(start.location!, idp.ca);
    const cb = await call(back.location!, idp.ca, { cookie: jar.header() });
    expect(cb.status, cb.body.slice(0, 400)).toBe(303);
    jar.take(cb);
    const jobs = await call(new URL('/jobs', url).href, idp.ca, { cookie: jar.header() });
    expect(jobs.status).toBe(200);
    expect(jobs.body).toContain('signed in as <strong>oidc-alice</strong>');
  });

  it('refuses the flag without --oidc-issuer, naming the flags', async () => {
    const r = await fedmesh(['coordinator', '--listen', '127.0.0.1:0', '--state', join(dir, 'state2'), '--tls-dir', join(dir, 'tls'), '--dashboard-listen', '127.0.0.1:0', '--dashboard-oidc-client-id', 'x'], 30_000);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--dashboard-oidc-client-id needs --oidc-issuer/);
  });
});
