import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAgentDatabase } from './database.js';

const modeOf = (p: string): number => statSync(p).mode & 0o777;

describe('the agent database holds patient data and its salt: owner-only files (issue 8 item 13)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-agentdb-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the state folder 0700 and the database 0600', async () => {
    const state = join(dir, 'new', 'state');
    const db = await openAgentDatabase(state);
    await db.withConnection((c) => c.run('CREATE TABLE t AS SELECT 1 AS x'));
    db.close();
    expect(modeOf(state)).toBe(0o700);
    expect(modeOf(join(state, 'agent.duckdb'))).toBe(0o600);
  });

  it('tightens an existing loose state folder and database', async () => {
    const state = join(dir, 'old');
    mkdirSync(state);
    chmodSync(state, 0o755);
    (await openAgentDatabase(state)).close();
    chmodSync(join(state, 'agent.duckdb'), 0o644);
    chmodSync(state, 0o755);
    (await openAgentDatabase(state)).close();
    expect(modeOf(state)).toBe(0o700);
    expect(modeOf(join(state, 'agent.duckdb'))).toBe(0o600);
  });
});
