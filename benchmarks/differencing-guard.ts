/**
 * Issue 8 item 3: the cost of the mode-none differencing guard at one agent. A researcher's memory holds `cells`
 * released cells of `persons` persons each; then one more cell of `persons` persons is checked and recorded
 * (hash join of the candidate with everything remembered). Run: `npx tsx benchmarks/differencing-guard.ts [cells] [persons]`.
 */
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { ReleasedCells } from '../node-agent/disclosure/released-cells.js';

async function main(): Promise<void> {
  const cells = Number(process.argv[2] ?? 100);
  const persons = Number(process.argv[3] ?? 10_000);
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const guard = await ReleasedCells.open(conn);
  const release = async (i: number): Promise<number> => {
    // Cell i: persons [i·persons/2, i·persons/2 + persons): neighbours overlap by half, far more than k apart.
    await conn.run(`CREATE OR REPLACE TEMP TABLE cand AS SELECT 'c' AS cell, (md5_number('salt' || x::VARCHAR) >> 64)::UBIGINT AS h FROM range(${(i * persons) / 2}, ${(i * persons) / 2 + persons}) r(x)`);
    const t0 = performance.now();
    await guard.checkAndRecord(conn, { researcher: 'r', jobId: `j${i}`, candidates: 'cand', minCellSize: 10, maxRememberedPersons: 1e9 });
    return performance.now() - t0;
  };
  const t0 = performance.now();
  for (let i = 0; i < cells; i++) await release(i);
  const fill = performance.now() - t0;
  const last = await release(cells);
  console.log(JSON.stringify({ rememberedCells: cells, personsPerCell: persons, rememberedPairs: cells * persons, fillMs: Math.round(fill), checkAndRecordOneMoreMs: Math.round(last) }));
  conn.closeSync();
  inst.closeSync();
}

await main();
