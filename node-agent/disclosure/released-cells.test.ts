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
  const release = async (lo: number, hi: number, opts: { researcher?: string; max?: number } = {}): Promise<{ cells: number; persons: number }> => {
    const t = `cand_${n++}`;
    await conn.run(`CREATE TEMP TABLE ${t} AS SELECT 'c' AS cell, (md5_number('s' || i::VARCHAR) >> 64)::UBIGINT AS h FROM range(${lo}, ${hi + 1}) r(i)`);
    return cells.checkAndRecord(conn, { researcher: opts.researcher ?? 'r', jobId: `j${n}`, candidates: t, minCellSize: 10, maxRememberedPersons: opts.max ?? 1000 });
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
});
