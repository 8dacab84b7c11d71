import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
});
