import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { ReleasedCells } from './released-cells.js';

describe('ReleasedCells: the mode-none differencing guard', () => {
  let inst: DuckDBInstance;
  let conn: DuckDBConnection;
  let cells: ReleasedCells;
  let n = 0;

  beforeEach(async () => {
    inst = await DuckDBInstance.create(':memory:');
    conn = await inst.connect();
    cells = await ReleasedCells.open(conn);
  });
  afterEach(() => {
    conn.closeSync();
    inst.closeSync();
  });

  /** Releases one cell of persons lo..hi (inclusive) to `researcher`. */
  const release = async (lo: number, hi: number, opts: { researcher?: string; max?: number; withheld?: boolean } = {}): Promise<{ cells: number; persons: number }> => {
    const t = `cand_${n++}`;
    await conn.run(`CREATE TEMP TABLE ${t} AS SELECT 'c' AS cell, (md5_number('s' || i::VARCHAR) >> 64)::UBIGINT AS h FROM range(${lo}, ${hi + 1}) r(i)`);
    return cells.checkAndRecord(conn, { researcher: opts.researcher ?? 'r', jobId: `j${n}`, candidates: t, minCellSize: 10, maxRememberedPersons: opts.max ?? 1000, ...(opts.withheld ? { withheld: ['c'] } : {}) });
  };
  const denied = async (p: Promise<unknown>): Promise<string> => {
    const e = await p.then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(FedmeshError);
    expect((e as FedmeshError).code).toBe('POLICY_DENIED');
    return (e as FedmeshError).message;
  };

  it('refuses a symmetric difference of 1 … k − 1 persons and allows 0 or ≥ k', async () => {
    expect(await release(1, 20)).toEqual({ cells: 1, persons: 20 });
    expect(await denied(release(1, 19))).toMatch(/differencing guard/);
    expect(await denied(release(1, 29))).toMatch(/between 1 and 9 persons/);
    // Same set: allowed, not stored again.
    expect(await release(1, 20)).toEqual({ cells: 0, persons: 0 });
    // Differs by 10 (k): allowed.
    expect(await release(1, 30)).toEqual({ cells: 1, persons: 30 });
    // Swapping 5 persons out and 4 in: |Δ| = 9 against 1..20.
    expect(await denied(release(6, 24))).toMatch(/differencing guard/);
    // Per researcher: someone else starts with an empty memory.
    expect(await release(1, 19, { researcher: 'other' })).toEqual({ cells: 1, persons: 19 });
  });

  it('is bounded: a release beyond the remembered maximum is refused, nothing is evicted', async () => {
    await release(1, 30, { max: 50 });
    expect(await denied(release(100, 130, { max: 50 }))).toMatch(/remembers at most 50/);
    // The first cell is still remembered: its neighbour is still refused.
    expect(await denied(release(1, 29, { max: 1000 }))).toMatch(/differencing guard/);
  });

  it('a withheld set stays unknown: a released cell 0 … k − 1 from it is refused, before or after (red team 12); ≥ k apart, or both withheld, is allowed', async () => {
    // A band withheld by the complementary rules (persons 1..12), then a concept with exactly its persons.
    await release(1, 12, { withheld: true });
    expect(await denied(release(1, 12))).toMatch(/within 9 persons of a cell withheld from you/);
    expect(await denied(release(1, 15))).toMatch(/differencing guard/);
    expect(await release(1, 22)).toEqual({ cells: 1, persons: 22 }); // 10 apart: allowed (control)
    // The other order: a released concept, then a job that withholds the same set.
    await release(101, 130, { researcher: 'r2' });
    expect(await denied(release(101, 130, { researcher: 'r2', withheld: true }))).toMatch(/differencing guard/);
    // Two withheld sets leave nothing to subtract from: allowed, and identical ones not stored twice.
    await release(201, 220, { researcher: 'r3', withheld: true });
    expect(await release(201, 220, { researcher: 'r3', withheld: true })).toEqual({ cells: 0, persons: 0 });
    expect(await release(201, 225, { researcher: 'r3', withheld: true })).toEqual({ cells: 1, persons: 25 });
  });

  it('an agent state from before the withheld column gains it, its cells counted as released', async () => {
    const old = await DuckDBInstance.create(':memory:');
    const c = await old.connect();
    await c.run('CREATE SEQUENCE _fedmesh_released_cell_seq');
    await c.run('CREATE TABLE _fedmesh_released_cell (id BIGINT PRIMARY KEY, researcher VARCHAR NOT NULL, job_id VARCHAR NOT NULL, cell VARCHAR NOT NULL, persons BIGINT NOT NULL, released_at_ms BIGINT NOT NULL)');
    await c.run("INSERT INTO _fedmesh_released_cell VALUES (1, 'r', 'j', 'c', 20, 0)");
    await ReleasedCells.open(c);
    const rows = (await c.runAndReadAll('SELECT withheld FROM _fedmesh_released_cell')).getRowObjectsJS();
    expect(rows).toEqual([{ withheld: false }]);
    c.closeSync();
    old.closeSync();
  });
});
