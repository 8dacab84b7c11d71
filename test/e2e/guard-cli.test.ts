/**
 * `fedmesh guard show` and `fedmesh guard forget`, run as README.md writes them (section "Disclosure control in mode
 * `none`"), on an agent state folder whose guard remembers cells released to two researchers. Checked: show lists
 * both; forget drops alice's memory only, says what it dropped and writes `guard.forgotten` to the agent's audit
 * trail (which still verifies); after it, a cell one person away from alice's earlier one is accepted, where before
 * it was refused (the control that forgetting is real); a state folder held by a running agent refuses both commands
 * and changes nothing.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentAudit } from '../../node-agent/audit/index.js';
import { openAgentDatabase } from '../../node-agent/data/database.js';
import { ReleasedCells } from '../../node-agent/disclosure/released-cells.js';
import { extractCommands } from './readme-commands.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/client/cli/main.js');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const commands = extractCommands(README).map((c) => c.text).filter((t) => t.startsWith('fedmesh guard '));
const SHOW = commands.find((c) => c.startsWith('fedmesh guard show'))!;
/** The show command without its trailing comment, to add flags. */
const SHOW_BARE = SHOW?.replace(/\s+#.*$/, '');
const FORGET = commands.find((c) => c.startsWith('fedmesh guard forget'))!;

function sh(cmd: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile('sh', ['-c', cmd], { cwd, env, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

describe('fedmesh guard (README commands, as written)', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const state = (): string => join(dir, 'state/a');

  /** A release of `persons` (ids) as one cell to `researcher` through the agent's guard, k = 10. */
  async function release(conn: DuckDBConnection, cells: ReleasedCells, researcher: string, jobId: string, persons: readonly number[]): Promise<void> {
    await conn.run('CREATE OR REPLACE TEMP TABLE cand (cell VARCHAR, h UBIGINT)');
    await conn.run(`INSERT INTO cand VALUES ${persons.map((p) => `('persons', ${p})`).join(', ')}`);
    await cells.checkAndRecord(conn, { researcher, jobId, candidates: 'cand', minCellSize: 10, maxRememberedPersons: 1_000_000 });
  }
  const ids = (n: number): number[] => Array.from({ length: n }, (_, i) => 1000 + i);

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    expect(SHOW, 'README documents fedmesh guard show').toBeDefined();
    expect(FORGET, 'README documents fedmesh guard forget').toBeDefined();
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-guard-'));
    const bin = join(dir, '.bin');
    await mkdir(bin);
    await writeFile(join(bin, 'fedmesh'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(join(bin, 'fedmesh'), 0o755);
    env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: dir };
    const db = await openAgentDatabase(state());
    await db.withConnection(async (conn) => {
      const cells = await ReleasedCells.open(conn);
      await release(conn, cells, 'alice', 'job-1', ids(30));
      await release(conn, cells, 'bob', 'job-2', ids(20));
    });
    db.close();
    // A real agent's state folder has its audit trail from the first start on.
    AgentAudit.open(state(), 'hospital-a', undefined).close();
  }, 60_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a folder without an agent database is named, not created', async () => {
    const r = await sh('fedmesh guard show --state state/nowhere', dir, env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--state: state\/nowhere holds no agent database \(agent\.duckdb\)/);
    expect(existsSync(join(dir, 'state/nowhere'))).toBe(false);
  }, 60_000);

  it('a DuckDB file that is not an agent\'s is refused, and nothing is created in it', async () => {
    const other = join(dir, 'state/other');
    await mkdir(other, { recursive: true });
    const foreign = await DuckDBInstance.create(join(other, 'agent.duckdb'));
    const c = await foreign.connect();
    await c.run('CREATE TABLE t AS SELECT 1 AS x');
    c.closeSync();
    foreign.closeSync();
    for (const cmd of ['fedmesh guard show --state state/other', 'fedmesh guard forget --state state/other --researcher alice --name x']) {
      const r = await sh(cmd, dir, env);
      expect(r.code, cmd).not.toBe(0);
      expect(r.stderr).toMatch(/is not an agent database \(it has no differencing-guard tables\)|has no audit trail/);
    }
    const again = await DuckDBInstance.create(join(other, 'agent.duckdb'));
    const c2 = await again.connect();
    const tables = (await c2.runAndReadAll('SELECT table_name FROM duckdb_tables() ORDER BY 1')).getRowObjectsJS().map((r) => r['table_name']);
    c2.closeSync();
    again.closeSync();
    expect(tables).toEqual(['t']);
  }, 60_000);

  it('forget with another agent\'s --name is refused, naming the trail\'s agent; nothing dropped', async () => {
    const r = await sh('fedmesh guard forget --state state/a --researcher bob --name hospital-b', dir, env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--name: the audit trail in state\/a\/audit is agent hospital-a's, not hospital-b/);
    const left = JSON.parse((await sh(`${SHOW_BARE} --json`, dir, env)).stdout) as { researchers: { researcher: string }[] };
    expect(left.researchers.map((x) => x.researcher)).toEqual(['alice', 'bob']);
  }, 60_000);

  it('refuses while the agent database is in use, and changes nothing', async () => {
    const held = await DuckDBInstance.create(join(state(), 'agent.duckdb'));
    try {
      // The lock is per process: the CLI runs in its own, as beside a running agent.
      const r = await sh(FORGET, dir, env);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/in use, probably by the running agent; stop the agent first/);
    } finally {
      held.closeSync();
    }
    const s = await sh(`${SHOW_BARE} --json`, dir, env);
    expect(JSON.parse(s.stdout).researchers.map((r: { researcher: string }) => r.researcher)).toEqual(['alice', 'bob']);
  }, 60_000);

  it('shows both researchers, forgets alice only (audited), and a cell one person off alice\'s is then accepted (control: refused before)', async () => {
    const shown = await sh(SHOW, dir, env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^researcher\s+cells\s+persons\s+jobs\s+last release/m);
    expect(shown.stdout).toMatch(/^alice\s+1\s+30\s+1\s/m);
    expect(shown.stdout).toMatch(/^bob\s+1\s+20\s+1\s/m);

    // Control: before forgetting, 29 of alice's 30 persons are refused (a difference of 1 < k).
    let db = await openAgentDatabase(state());
    await db.withConnection(async (conn) => {
      const cells = await ReleasedCells.open(conn);
      await expect(release(conn, cells, 'alice', 'job-3', ids(29))).rejects.toThrow(/differencing guard/);
    });
    db.close();

    const forgot = await sh(FORGET, dir, env);
    expect(forgot.code, forgot.stderr).toBe(0);
    expect(forgot.stdout).toMatch(/forgot 1 released cells \(30 cell-person pairs, 1 jobs\) of alice; recorded in .*audit as guard\.forgotten/);
    const after = JSON.parse((await sh(`${SHOW_BARE} --json`, dir, env)).stdout) as { researchers: { researcher: string; persons: number }[] };
    expect(after.researchers).toEqual([expect.objectContaining({ researcher: 'bob', persons: 20 })]);

    const audit = await sh('fedmesh audit show --log state/a/audit --type guard --json', dir, env);
    expect(audit.code, audit.stderr).toBe(0);
    const entries = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string } & Record<string, unknown>);
    expect(entries.map((e) => e.type)).toEqual(['guard.forgotten']);
    expect(entries[0]).toMatchObject({ researcher: 'alice', cells: 1, persons: 30, jobs: 1 });
    expect((await sh('fedmesh audit verify --log state/a/audit', dir, env)).code).toBe(0);

    db = await openAgentDatabase(state());
    await db.withConnection(async (conn) => {
      const cells = await ReleasedCells.open(conn);
      await release(conn, cells, 'alice', 'job-4', ids(29));
      // bob's memory is untouched: his one-off cell is still refused.
      await expect(release(conn, cells, 'bob', 'job-5', ids(19))).rejects.toThrow(/differencing guard/);
    });
    db.close();
  }, 60_000);

  it('an audit trail that does not verify stops forget before anything is dropped (control: bob is still remembered)', async () => {
    const audit = join(state(), 'audit');
    const seg = readdirSync(audit).filter((f) => f.endsWith('.jsonl')).sort()[0]!;
    const file = join(audit, seg);
    const original = readFileSync(file);
    const bytes = Buffer.from(original);
    const at = bytes.indexOf('audit.opened');
    expect(at).toBeGreaterThan(0);
    bytes[at] = 'A'.charCodeAt(0);
    writeFileSync(file, bytes);
    try {
      const r = await sh('fedmesh guard forget --state state/a --researcher bob --name hospital-a', dir, env);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/does not verify/);
      const left = JSON.parse((await sh(`${SHOW_BARE} --json`, dir, env)).stdout) as { researchers: { researcher: string }[] };
      expect(left.researchers.map((x) => x.researcher)).toContain('bob');
    } finally {
      writeFileSync(file, original);
    }
  }, 60_000);
});
