/**
 * The README's identity and policy commands, run as written with the built CLI (test/e2e/readme-commands.test.ts
 * skips them: they need an OpenID Connect issuer, or exit 4 by design). The issuer and JWKS URLs of the README are
 * replaced by a test issuer's (JWKS over HTTPS with an openssl-made certificate), the coordinator's fixed port by
 * port 0, and the address it prints goes into the researcher command — as the README test does.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevCertificates } from '../../client/tools/certs.js';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js';
import { extractCommands, extractJsonBlocks } from './readme-commands.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/client/cli/main.js');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const commands = extractCommands(README).map((c) => c.text);
const find = (prefix: string): string => {
  const c = commands.find((t) => t.startsWith(prefix));
  if (!c) throw new Error(`README.md no longer documents a command starting ${prefix}`);
  return c;
};

function run(cmd: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile('sh', ['-c', cmd.replace(/^fedmesh /, `"${process.execPath}" "${CLI}" `)], { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

describe('README: identity and policy commands, as written', () => {
  let dir = '';
  let idp: TestIssuer;
  let coordinator: ChildProcess | undefined;
  let address = '';

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-ident-'));
    await makeDevCertificates({ outDir: join(dir, 'tls'), agents: ['hospital-a'], researchers: ['alice'] });
    idp = await startTestIssuer(join(dir, 'tls'));
    await copyFile(join(dir, 'tls', 'ca.crt'), join(dir, 'idp-ca.pem'));
    const cedar = /^```cedar\s*\n([\s\S]*?)^```\s*$/m.exec(README)![1]!;
    await writeFile(join(dir, 'hospital-a.cedar'), cedar);
    await writeFile(join(dir, 'job-hresch.json'), extractJsonBlocks(README).find((b) => b.includes('"purpose": "HRESCH"'))!);
    await writeFile(join(dir, 'claims.json'), extractJsonBlocks(README).find((b) => b.includes('"researcherRole"'))!);
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

  it('the README shows the example policy file exactly', () => {
    expect(/^```cedar\s*\n([\s\S]*?)^```\s*$/m.exec(README)![1]).toBe(readFileSync(join(ROOT, 'examples/policies/hospital-a.cedar'), 'utf8'));
  });

  it('fedmesh policy check: allow with the determining policy (exit 0), deny (exit 4)', async () => {
    const allow = await run(find('fedmesh policy check --agent-policy hospital-a.cedar job-hresch.json --as alice --attr organisation=org-x --tag oncology'), dir);
    expect(allow.code, allow.stderr).toBe(0);
    expect(allow.stdout).toBe('allow: alice may run this aggregate job on person (determining policies: research-org-x line 2)\n');
    const deny = await run(find('fedmesh policy check --agent-policy hospital-a.cedar job-hresch.json --as alice --attr organisation=org-x --purpose PUBHLTH'), dir);
    expect(deny.code, deny.stderr).toBe(4);
    expect(deny.stdout).toBe('deny: no permit policy in hospital-a.cedar matches (default deny)\n');
  });

  it('a bad agent policy stops `fedmesh agent` with the file and line (exit 2)', async () => {
    await writeFile(join(dir, 'bad.cedar'), '@id("ok")\npermit (principal, action, resource)\nwhen { context.purpos == "HRESCH" };\n');
    const r = await run('fedmesh agent --coordinator 127.0.0.1:1 --name hospital-a --data . --state state/agent --tls-dir tls --policy bad.cedar --log-format silent', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--policy: .*bad\.cedar:3: policy ok: .*purpos/);
  });

  it('an OIDC coordinator started as documented serves a researcher with a token file, and refuses an expired token (exit 3)', async () => {
    const start = find('fedmesh coordinator --state state/oidc')
      .replace('--listen 127.0.0.1:7443', '--listen 127.0.0.1:0')
      .replace('https://login.example.org/realms/research/protocol/openid-connect/certs', idp.jwksUrl)
      .replace('https://login.example.org/realms/research', idp.issuer)
      .replace('--oidc-audience fedmesh', `--oidc-audience ${idp.audience}`);
    coordinator = spawn('sh', ['-c', `exec ${start.replace(/^fedmesh /, `"${process.execPath}" "${CLI}" `)} --log-format silent`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    coordinator.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    address = await new Promise<string>((res, rej) => {
      let out = '';
      const t = setTimeout(() => rej(new Error(`coordinator did not listen: ${err}`)), 30_000);
      coordinator!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) {
          clearTimeout(t);
          res(m[1]!);
        }
      });
      coordinator!.once('exit', (code) => rej(new Error(`coordinator exited ${code}: ${err}`)));
    });
    const jobs = find('fedmesh jobs --token-file').replace('127.0.0.1:7443', address);
    await writeFile(join(dir, 'token.txt'), `${await idp.sign({ sub: 'alice', org: 'org-x' })}\n`);
    const ok = await run(jobs, dir);
    expect(ok.code, ok.stderr).toBe(0);
    await writeFile(join(dir, 'token.txt'), `${await idp.sign({ sub: 'alice' }, { expiresInSec: -300 })}\n`);
    const expired = await run(jobs, dir);
    expect(expired.code).toBe(3);
    expect(expired.stderr).toMatch(/bearer token refused: expired/);
  }, 60_000);

  it('administrator commands take --token-file too: a token with the administrator role sets a budget; a researcher token is refused', async () => {
    expect(address, 'the previous test starts the coordinator').not.toBe('');
    const set = `fedmesh budget set --researcher alice --population person --epsilon 2 --coordinator ${address} --tls-dir tls --token-file admin.txt --json`;
    await writeFile(join(dir, 'admin.txt'), `${await idp.sign({ sub: 'dpo', roles: ['fedmesh-admin'] })}\n`);
    const ok = await run(set, dir);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ researcher: 'alice' });
    // Negative control: the same command with a researcher's token.
    await writeFile(join(dir, 'admin.txt'), `${await idp.sign({ sub: 'alice', roles: ['researcher'] })}\n`);
    const refused = await run(set, dir);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/admin/i);
  }, 60_000);
});
