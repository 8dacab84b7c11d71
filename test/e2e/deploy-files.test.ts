import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/client/cli/main.js');
const DEPLOY = join(ROOT, 'deploy');

interface Invocation {
  file: string;
  command: string;
  /** Flags as written, without values (`--listen=0.0.0.0:7443` → `--listen`). */
  flags: string[];
  /** `--flag` → value, for cross-checks. */
  values: Map<string, string>;
}

function invocation(file: string, tokens: string[]): Invocation {
  const [command, ...rest] = tokens;
  const flags: string[] = [];
  const values = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const t = rest[i]!;
    if (!t.startsWith('--')) continue;
    const eq = t.indexOf('=');
    const flag = eq > 0 ? t.slice(0, eq) : t;
    flags.push(flag);
    const next = rest[i + 1];
    values.set(flag, eq > 0 ? t.slice(eq + 1) : next !== undefined && !next.startsWith('--') ? next : '');
  }
  return { file, command: command ?? '', flags, values };
}

/** `ExecStart=` of a systemd unit, continuation lines joined: the tokens after `cli/main.js`. */
function fromUnit(file: string): Invocation[] {
  const text = readFileSync(file, 'utf8').replace(/\\\n\s*/g, ' ');
  return [...text.matchAll(/^ExecStart=(.*)$/gm)].map((m) => {
    const tokens = m[1]!.trim().split(/\s+/);
    const at = tokens.findIndex((t) => t.endsWith('/cli/main.js'));
    if (at < 0) throw new Error(`${file}: ExecStart does not run dist/client/cli/main.js`);
    return invocation(file, tokens.slice(at + 1));
  });
}

/** Every container `args:` list of a manifest (one `- item` a line, as these files are written). */
function fromManifest(file: string): Invocation[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Invocation[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)args:\s*$/.exec(lines[i]!);
    if (!m) continue;
    const tokens: string[] = [];
    for (let j = i + 1; j < lines.length; j++) {
      const line = lines[j]!;
      if (/^\s*#/.test(line)) continue;
      const item = /^(\s*)- (.+)$/.exec(line);
      if (!item || item[1]!.length < m[1]!.length) break;
      tokens.push(item[2]!.trim().replace(/^"(.*)"$/, '$1'));
    }
    out.push(invocation(file, tokens));
  }
  return out;
}

/** Flags mentioned in the prose and tables of a Markdown file (code blocks left out: they hold docker flags). */
function flagsInProse(file: string): string[] {
  const prose = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```\s*$/gm, '');
  return [...new Set([...prose.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]))];
}

const helpFlags = new Map<string, Set<string>>();
async function flagsOf(command: string): Promise<Set<string>> {
  let known = helpFlags.get(command);
  if (!known) {
    const r = await run(process.execPath, [CLI, ...command.split(' '), '--help'], { timeout: 30_000 });
    known = new Set([...r.stdout.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]));
    helpFlags.set(command, known);
  }
  return known;
}

/** Issue 14, item 15: the deploy files use only flags the CLI has, so the docs cannot drift from the code. */
describe('deploy/ files agree with the CLI', () => {
  const units = readdirSync(join(DEPLOY, 'systemd')).filter((f) => f.endsWith('.service')).map((f) => join(DEPLOY, 'systemd', f));
  const manifests = readdirSync(join(DEPLOY, 'k8s')).filter((f) => f.endsWith('.yaml')).map((f) => join(DEPLOY, 'k8s', f));
  const invocations = [...units.flatMap(fromUnit), ...manifests.flatMap(fromManifest)];

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  });

  it('finds a coordinator and an agent in both the systemd units and the Kubernetes manifests', () => {
    for (const kind of ['coordinator', 'agent']) {
      expect(invocations.filter((v) => v.command === kind && v.file.endsWith('.service')).length, `systemd ${kind}`).toBe(1);
      expect(invocations.filter((v) => v.command === kind && v.file.endsWith('.yaml')).length, `k8s ${kind}`).toBe(1);
    }
  });

  it('every flag they pass exists in `fedmesh <command> --help`', async () => {
    for (const v of invocations) {
      const known = await flagsOf(v.command);
      for (const f of v.flags) expect(known.has(f), `${v.file}: fedmesh ${v.command} has no ${f}`).toBe(true);
    }
  });

  it('every flag deploy/README.md mentions exists in some server, certs or audit command', async () => {
    const known = new Set<string>();
    for (const c of ['coordinator', 'agent', 'health', 'certs', 'audit verify']) for (const f of await flagsOf(c)) known.add(f);
    const mentioned = flagsInProse(join(DEPLOY, 'README.md'));
    expect(mentioned.length).toBeGreaterThan(5);
    for (const f of mentioned) expect(known.has(f), `deploy/README.md mentions ${f}, which no command has`).toBe(true);
  });

  it('the negative control: a misspelt flag is caught', async () => {
    const known = await flagsOf('coordinator');
    const bad = invocation('x', ['coordinator', '--metric-port=9464']);
    expect(bad.flags.filter((f) => !known.has(f))).toEqual(['--metric-port']);
  });

  it('production settings: mTLS, required flags, agent name matching its certificate files, no --insecure', () => {
    const required: Record<string, string[]> = { coordinator: ['--listen', '--state', '--tls-dir'], agent: ['--coordinator', '--name', '--data', '--state', '--tls-dir'] };
    for (const v of invocations) {
      expect(v.flags, v.file).not.toContain('--insecure');
      for (const f of required[v.command] ?? []) expect(v.flags, `${v.file} lacks ${f}`).toContain(f);
      if (v.command === 'agent') {
        const name = v.values.get('--name')!;
        const text = readFileSync(v.file, 'utf8');
        expect(text, `${v.file}: certificate files of agent ${name}`).toContain(`agent-${name}.crt`);
        expect(text).toContain(`agent-${name}.key`);
      }
    }
    // The metrics endpoint is unauthenticated: on a host it stays on loopback.
    for (const v of invocations.filter((x) => x.file.endsWith('.service'))) expect(v.values.get('--metrics-host') ?? '127.0.0.1').toBe('127.0.0.1');
  });

  it('the Dockerfile copies only paths that exist, runs the built CLI as a non-root user and bakes in no data', () => {
    const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
    expect(text).toMatch(/^FROM node:20-slim AS build$/m);
    expect(text).toMatch(/^FROM node:20-slim$/m);
    expect(text).toMatch(/^USER node(:node)?$/m);
    for (const m of text.matchAll(/^COPY (?!--from)(.+)$/gm)) {
      const parts = m[1]!.trim().split(/\s+/);
      for (const src of parts.slice(0, -1)) expect(existsSync(join(ROOT, src)), `Dockerfile copies ${src}`).toBe(true);
    }
    const entry = /^ENTRYPOINT \["node", "\/app\/(.+?)"\]$/m.exec(text);
    expect(entry?.[1]).toBe('dist/client/cli/main.js');
    expect(existsSync(join(ROOT, entry![1]!))).toBe(true);
    expect(text).not.toMatch(/^COPY .*(data|shared|\.duckdb|\.key|tls)/m);
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['data', 'shared', '**/*.key', '**/*.duckdb', 'node_modules', 'dist']) expect(ignore).toContain(p);
  });

  it('the image builds from what the Dockerfile copies: its tsconfig includes only copied folders, and every import of their code resolves inside them (red team 37, F4: jobs/ and dashboard/ were never copied)', () => {
    const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
    const build = text.slice(0, text.search(/^FROM node:20-slim$/m));
    const copied = new Set([...build.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1)));
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const c of copied) expect(ignored, `.dockerignore leaves out ${c}, which the Dockerfile copies`).not.toContain(c);
    const config = /^RUN npx tsc -p (\S+)/m.exec(build)?.[1];
    expect(config, 'the build stage compiles with npx tsc -p <config>').toBeDefined();
    expect(copied.has(config!)).toBe(true);
    const include = (JSON.parse(readFileSync(join(ROOT, config!), 'utf8')) as { include: string[] }).include;
    for (const dir of include) expect(copied.has(dir), `${config} includes ${dir}, which the Dockerfile does not copy`).toBe(true);
    const inCopy = (rel: string): boolean => [...copied].some((c) => rel === c || rel.startsWith(`${c}/`));
    const missing: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const rel = `${dir}/${e.name}`;
        if (e.isDirectory()) walk(rel);
        else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
          for (const m of readFileSync(join(ROOT, rel), 'utf8').matchAll(/(?:from\s+|import\(\s*)'(\.{1,2}\/[^']+)'/g)) {
            const target = relative(ROOT, resolve(ROOT, dir, m[1]!)).replace(/\.js$/, '.ts');
            if (!inCopy(target) || !existsSync(join(ROOT, target))) missing.push(`${rel} → ${target}`);
          }
        }
      }
    };
    for (const dir of include) walk(dir);
    expect(missing).toEqual([]);
    // Negative control: the walk sees an import that leaves the copied folders (a benchmark reads test helpers).
    expect(readFileSync(join(ROOT, 'benchmarks/cox-postgres.ts'), 'utf8')).toMatch(/from '\.\.\/test\/helpers\//);
    expect(inCopy('test/helpers/gibleed-memory.ts')).toBe(false);
  });
});
