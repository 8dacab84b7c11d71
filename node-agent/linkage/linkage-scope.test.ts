/**
 * Issue 15 point 4 for every job kind: the linkage scope in the agent's data scope (linkage-scope.ts, hooked into
 * ConsentScopes like consent) keeps each person at ONE site of the mesh, so each kind's own per-site bound k holds
 * across the mesh. The check is exact, on neighbouring data: each kind's own local step (the exact, pre-noise
 * statistic the agent would noise, mask or encrypt) runs at the three sites of test-omop-sites.ts, once with a
 * multi-site person and once without them (removed at every site), and the mesh-wide change is compared with k.
 * With linkage it is at most k (one site's worth, exactly k for a person at all three sites); the negative control
 * without linkage shows m × k for a person at m sites, so the test fails if the scope stops being applied.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { DuckDBConnection } from '@duckdb/node-api';
import { parseJobSpec } from '../../common/job/index.js';
import type { CellJob } from '../../common/job/index.js';
import { parseGlmSpec } from '../../jobs/glm/spec.js';
import { readGlmDesign } from '../../jobs/glm/design.js';
import { parseTrainSpec } from '../../jobs/train/spec.js';
import { readTrainData } from '../../jobs/train/data.js';
import { computeCells } from '../jobs/cell-jobs.js';
import { closeTrainPool } from '../train/pool.js';
import { LINKAGE, openOmopSite, siteProducts, sitesOf, SITES, STUDY_ROWS, withTaskConnection, localId } from './test-omop-sites.js';
import { LINKAGE_KEEP_TABLE, taskLinkage } from './linkage-scope.js';
import type { TestDb } from '../cohort/test-omop.js';

const dp = (linkage: boolean): Record<string, unknown> => ({ mode: 'central-dp', epsilon: 1, delta: 1e-6, ...(linkage ? { linkage: LINKAGE } : {}) });
const entry = { entry: { domain: 'condition', concepts: { include: [{ conceptId: 100 }] }, occurrence: 'first' } };
/** k of the row-bounded kinds (glm, train): below STUDY_ROWS, so bounding matters. */
const K = 2;

type Stat = (conn: DuckDBConnection, s: number, linkage: boolean) => Promise<number>;
const total = (cells: Map<string, bigint>, pick: (key: string) => boolean): number => [...cells].filter(([k]) => pick(k)).reduce((a, [, v]) => a + Number(v), 0);

/** Per kind: the exact local statistic a person's presence moves, and that kind's per-site bound k for one person. */
const KINDS: { kind: string; k: number; stat: Stat }[] = [
  {
    // Cohort: persons in the cohort (one cell per person; every other cell is a breakdown of it).
    kind: 'cohort', k: 1,
    stat: async (conn, _s, l) => {
      const job = parseJobSpec({ kind: 'cohort', definition: entry, privacy: dp(l) }) as CellJob;
      const cells = await computeCells(conn, job, 'cohortlinkage');
      return total(cells, (k) => k === 'persons');
    },
  },
  {
    kind: 'contingency', k: 1,
    stat: async (conn, _s, l) => {
      const job = parseJobSpec({ kind: 'contingency', product: 'study', rowColumn: 'sex', colColumn: 'y', rowLevels: ['F', 'M'], colLevels: [0, 1], privacy: dp(l) }) as CellJob;
      // Each person's rows fall in one cell (sex and y are per person): the persons over all cells.
      const cells = await computeCells(conn, job, 'contlinkage', { personColumn: 'person_id' });
      return total(cells, (k) => k.startsWith('cell:'));
    },
  },
  {
    // Survival (Kaplan–Meier): persons at risk at the start (n), from which every bin's risk set follows.
    kind: 'survival', k: 1,
    stat: async (conn, _s, l) => {
      const job = parseJobSpec({ kind: 'survival', target: entry, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 365, maxDays: 3650 }, privacy: dp(l) }) as CellJob;
      const cells = await computeCells(conn, job, 'kmlinkage');
      return total(cells, (key) => key === 'n:all');
    },
  },
  {
    // GLM: rows of the design (each row enters XᵀWX and XᵀWz once), at most k per person after bounding.
    kind: 'glm', k: K,
    stat: async (conn, s, l) => {
      const spec = parseGlmSpec({ kind: 'glm', product: 'study', family: 'binomial', outcome: 'y', covariates: [{ column: 'x1', type: 'numeric', bounds: [-1, 1] }], privacy: { ...dp(l), maxRowsPerPerson: K } });
      const d = await readGlmDesign(conn, spec, siteProducts(s).find((p) => p.name === 'study')!, { salt: `site-salt-${s}`, minCellSize: 0, scratch: 'glmlinkage' });
      return d.design.n;
    },
  },
  {
    // Train: examples (train + test rows) the agent's gradient and evaluation blocks are summed over.
    kind: 'train', k: K,
    stat: async (conn, s, l) => {
      const spec = parseTrainSpec({
        kind: 'train', product: 'study', label: 'y', features: [{ column: 'x1', type: 'numeric', bounds: [-1, 1] }], split: { column: 'split', train: 'train', test: 'test' },
        model: { type: 'logistic' }, training: { rounds: 2, localEpochs: 1, learningRate: 1, seed: 2 }, strategy: { name: 'fedavg' }, evaluation: { thresholds: 10 }, update: { maxExamples: 2000 },
        privacy: { ...dp(l), clip: 1, maxRowsPerPerson: K },
      });
      const d = await readTrainData(conn, spec, siteProducts(s).find((p) => p.name === 'study')!, { salt: `site-salt-${s}`, minCellSize: 0, scratch: 'trainlinkage' });
      return d.train.n + d.test.n;
    },
  },
];

/** The sites' databases, per removed person (opened once, read-only for the kind checks; closed after all). */
const opened = new Map<string, Promise<TestDb>>();
const site = (s: number, without?: number): Promise<TestDb> => {
  const key = `${s}:${without ?? ''}`;
  if (!opened.has(key)) opened.set(key, openOmopSite(s, without));
  return opened.get(key)!;
};

/** The statistic summed over the three sites, without person `without` (at every site) when given. */
async function mesh(stat: Stat, linkage: boolean, without?: number): Promise<number> {
  let sum = 0;
  for (let s = 0; s < SITES.length; s++) sum += await withTaskConnection(await site(s, without), s, linkage ? LINKAGE : undefined, (c) => stat(c, s, linkage));
  return sum;
}

/** Persons at 3 sites (3, 6) and at 2 sites (1, 4). */
const MULTI_SITE = [3, 6, 1, 4];

afterAll(async () => {
  for (const db of opened.values()) (await db).close();
  await closeTrainPool();
});

describe.each(KINDS)('linkage scope, $kind: exact neighbouring-data change across a 3-site mesh', ({ kind, k, stat }) => {
  it(`with linkage, removing a person at 2–3 sites moves the mesh-wide statistic by at most k (${kind}); without, by m × k`, async () => {
    // Persons have more rows at a site than k, so the glm and train checks exercise contribution bounding too.
    expect(STUDY_ROWS).toBeGreaterThan(K);
    const linked = await mesh(stat, true);
    const plain = await mesh(stat, false);
    expect(linked).toBeGreaterThan(0);
    for (const p of MULTI_SITE) {
      const m = sitesOf(p).length;
      const dLinked = linked - (await mesh(stat, true, p));
      const dPlain = plain - (await mesh(stat, false, p));
      // A person in the cohort/design at every site they attend: exactly one site's worth with linkage (their one
      // designated site is always one they attend when they attend all 3; at 2 of 3 sites it may be neither).
      expect(dLinked, `person ${p} at ${m} sites, with linkage`).toBeLessThanOrEqual(k);
      if (m === 3) expect(dLinked, `person ${p} at all 3 sites is counted at exactly one`).toBe(k);
      // Negative control: without the scope the person counts at every site, m × k.
      expect(dPlain, `person ${p} at ${m} sites, without linkage`).toBe(m * k);
    }
  }, 120_000);
});

describe('linkage scope: who is kept, and refusals from public information', () => {
  const countPersons = (conn: DuckDBConnection): Promise<number> => conn.runAndReadAll('SELECT count(DISTINCT person_id)::INTEGER AS n FROM person').then((r) => Number(r.getRowObjectsJS()[0]!.n));

  it('keeps each keyed person at exactly one site of the three, and nobody without a key', async () => {
    const seen = new Map<number, number>();
    let nullKeyed = 0;
    for (let s = 0; s < SITES.length; s++) {
      const db = await openOmopSite(s);
      try {
        const ids = await withTaskConnection(db, s, LINKAGE, async (c) => (await c.runAndReadAll('SELECT person_id FROM study')).getRowObjectsJS().map((r) => Number(r.person_id)));
        for (const id of new Set(ids)) {
          const p = id - 1000 * (s + 1);
          if (p > 60) nullKeyed++;
          seen.set(p, (seen.get(p) ?? 0) + 1);
        }
      } finally {
        db.close();
      }
    }
    expect(nullKeyed).toBe(0);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // Every person at all 3 sites is kept somewhere (their designated site is always one they attend).
    for (let p = 3; p <= 60; p += 3) expect(seen.has(p), `person ${p}`).toBe(true);
  });

  it('leaves out a person with two different keys, a second local id of one key, and rows with a NULL person id', async () => {
    const db = await openOmopSite(0);
    try {
      const one = await withTaskConnection(db, 0, { sites: ['site-a'], salt: LINKAGE.salt }, countPersons);
      // Conflicting keys for local person 1003 (person 3), a duplicate local id 1999 with person 6's key, a NULL id.
      await db.conn.run(`INSERT INTO study VALUES (NULL, 0, 0, 'F', 1, 'train')`);
      await db.conn.run(`INSERT INTO person SELECT 1999, 8507, 1950, 0, 0, link_key FROM person WHERE person_id = ${localId(0, 6)}`);
      await db.conn.run(`INSERT INTO person SELECT person_id, 8507, 1950, 0, 0, 'another-key' FROM person WHERE person_id = ${localId(0, 3)}`);
      const after = await withTaskConnection(db, 0, { sites: ['site-a'], salt: LINKAGE.salt }, async (c) => ({
        persons: await countPersons(c),
        nullRows: Number((await c.runAndReadAll('SELECT count(*)::INTEGER AS n FROM study WHERE person_id IS NULL')).getRowObjectsJS()[0]!.n),
        ids: (await c.runAndReadAll(`SELECT person_id FROM person WHERE person_id IN (1999, ${localId(0, 6)}, ${localId(0, 3)})`)).getRowObjectsJS().map((r) => Number(r.person_id)),
      }));
      // One site: everyone with one key is designated here; the conflicting one is dropped and 1999 collapses onto 1006.
      expect(after.persons).toBe(one - 1);
      expect(after.nullRows).toBe(0);
      expect(after.ids).toEqual([localId(0, 6)]);
      // Negative control: the stored tables (no linkage) still have all of them.
      expect(await countPersons(db.conn)).toBe(one + 5 + 1);
    } finally {
      db.close();
    }
  });

  it('is taken from every kind\'s task spec except aggregate, whose own SQL bounds per linkage key (and keeps its results)', () => {
    for (const kind of ['cohort', 'characterize', 'contingency', 'survival', 'glm', 'train']) expect(taskLinkage(JSON.stringify({ kind, privacy: { mode: 'central-dp', linkage: LINKAGE } })), kind).toEqual(LINKAGE);
    expect(taskLinkage(JSON.stringify({ kind: 'aggregate', privacy: { mode: 'central-dp', linkage: LINKAGE } }))).toBeUndefined();
    expect(taskLinkage(JSON.stringify({ kind: 'cohort', privacy: { mode: 'central-dp' } }))).toBeUndefined();
    expect(taskLinkage('not json')).toBeUndefined();
  });

  it('refuses with FAILED_PRECONDITION naming the field: unfilled linkage, this site not listed, no product with a key', async () => {
    const db = await openOmopSite(1);
    try {
      const noop = (): Promise<number> => Promise.resolve(0);
      await expect(withTaskConnection(db, 1, {}, noop)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'privacy.linkage', message: expect.stringMatching(/without its site list and salt/) });
      await expect(withTaskConnection(db, 1, { sites: ['site-a', 'site-c'], salt: LINKAGE.salt }, noop)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'privacy.linkage.sites', message: expect.stringMatching(/this agent \(site-b\) is not one of the job's sites/) });
      await expect(withTaskConnection(db, 1, LINKAGE, noop, siteProducts(1, false))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/no product at this agent declares a linkageKey/) });
      // Control: the same site with its key and listed runs, and its scope table exists only on the task's connection.
      expect(await withTaskConnection(db, 1, LINKAGE, async (c) => (await c.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM ${LINKAGE_KEEP_TABLE}`)).getRowObjectsJS()[0]!.n)).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  });
});
