/**
 * Linkage bounding on an agent whose data is on PostgreSQL stays refused (the person scope is built in the agent's
 * DuckDB; red-team F4 changed how it is keyed, not where it runs). Checked at the seam every task passes: the consent
 * scope's wrapped source and wrapped database, inside a linkage-bounded task. No PostgreSQL server is needed: the
 * refusal comes before a session is opened, which the stand-in source records.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentDatabase } from '../data/database.js';
import type { PostgresSource } from '../data/source/index.js';
import { ConsentScopes } from '../policy/consent-context.js';

const LINKAGE = { sites: ['s1'], salt: '00112233445566778899aabbccddeeff' };

describe('a linkage-bounded task on a PostgreSQL agent', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-linkage-pg-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is refused with FAILED_PRECONDITION naming privacy.linkage before any session or connection is opened', async () => {
    const opened: string[] = [];
    const source = { kind: 'postgres', catalogue: new Map(), withSession: (fn: (s: unknown) => Promise<unknown>) => (opened.push('session'), fn({ run: () => Promise.resolve() })), close: () => Promise.resolve() } as unknown as PostgresSource;
    const duck = { withConnection: () => (opened.push('connection'), Promise.resolve()) } as unknown as AgentDatabase;
    const scopes = new ConsentScopes(dir, () => undefined);
    const pg = scopes.wrapSource(source);
    const db = scopes.wrap(duck);
    const refusal = { code: 'FAILED_PRECONDITION', field: 'privacy.linkage', message: expect.stringMatching(/not offered for data on a PostgreSQL source/) };
    await expect(scopes.run('HRESCH', () => pg.withSession(() => Promise.resolve(1)), LINKAGE)).rejects.toMatchObject(refusal);
    await expect(scopes.run('HRESCH', () => db.withConnection(() => Promise.resolve(1)), LINKAGE)).rejects.toMatchObject(refusal);
    expect(opened).toEqual([]);
    // Negative control: the same task without linkage opens its session (consent-scoped, no records here).
    await expect(scopes.run('HRESCH', () => pg.withSession(() => Promise.resolve(1)))).resolves.toBe(1);
    expect(opened).toEqual(['session']);
  });
});
