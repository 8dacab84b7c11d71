/**
 * Issue 15 item 1, what populations cost: (1) the one-time migration of a per-product ledger at start, against the
 * same start once migrated; (2) the ledger's admission of a job charged to 1 population and to 3. Standalone:
 * `npx tsx benchmarks/ledger-populations.ts [charges]` (default 100000), printing one JSON object.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseJobSpec } from '../common/job/index.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { JobStore } from '../coordinator/job-store.js';
import type { JobRecord } from '../coordinator/job-record.js';
import { LEGACY_LEDGER_DDL } from '../coordinator/state/ledger-tables.js';

const SPEC = parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1 } });
const record = (id: string, researcher: string): JobRecord => ({ id, kind: 'aggregate', researcher, spec: SPEC, state: 'succeeded', createdAtMs: 1, finishedAtMs: 2, agentsAsked: [], agentsAnswered: [], agentsMissing: [], result: undefined, error: undefined });

/** A per-product state from before the chain: `charges` committed charges over 3 products and 1000 researchers. */
async function legacyState(state: string, charges: number): Promise<void> {
  const store = await JobStore.open(state);
  try {
    await store.transaction(async (conn) => {
      for (const ddl of LEGACY_LEDGER_DDL) await conn.run(ddl);
      await conn.run(`INSERT INTO budgets SELECT 'r' || (i // 3), ['person', 'measurement', 'condition_occurrence'][i % 3 + 1], 3 + i % 3, 1e-6, 'admin', i FROM range(0, 3000) t(i)`);
      await conn.run(`INSERT INTO charges SELECT 'job-' || i, 'r' || (i % 1000), ['person', 'measurement', 'condition_occurrence'][i % 3 + 1], 0.001, 0.06, 0, 'committed', 10000 + i FROM range(0, ${charges}) t(i)`);
      await conn.run(`INSERT INTO jobs (id, kind, researcher, spec_json, state, created_at_ms, agents_asked, agents_answered, agents_missing)
                      SELECT 'job-' || i, 'aggregate', 'r' || (i % 1000), '{}', 'succeeded', 1, '[]', '[]', '[]' FROM range(0, ${charges}) t(i)`);
    });
  } finally {
    store.close();
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

const p50 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const charges = Number(process.argv[2] ?? 100_000);
  const dir = await mkdtemp(join(tmpdir(), 'fedmesh-bench-pop-'));
  try {
    const state = join(dir, 'state');
    await legacyState(state, charges);
    const marks: Record<string, number> = {};
    const t0 = performance.now();
    const log = (event: string): void => {
      marks[event] = performance.now() - t0;
    };
    const [first, migrateMs] = await timed(() => Coordinator.create({ stateDir: state, log }));
    // A state from before the chain first gets its chain built (older code's cost), then the migration runs.
    const chainMs = marks['ledger-chain-built'] ?? 0;
    const migrationOnlyMs = (marks['ledger-migrated-to-populations'] ?? 0) - chainMs;
    await first.close();
    const [second, reopenMs] = await timed(() => Coordinator.create({ stateDir: state }));
    const admitMs: Record<string, number[]> = { one: [], three: [] };
    const one = [{ population: 'person', products: ['person'] }];
    const three = [{ population: 'a', products: ['x'] }, { population: 'b', products: ['y'] }, { population: 'person', products: ['person'] }];
    for (let i = 0; i < 400; i++) {
      const [which, touched] = i % 2 === 0 ? (['one', one] as const) : (['three', three] as const);
      const [, ms] = await timed(() => second.ledger.admit(record(`new-${i}`, 'bench'), touched, { rho: 1e-6, epsilon: 1e-3, delta: 0 }));
      if (i >= 40) admitMs[which]!.push(ms);
    }
    await second.close();
    console.log(JSON.stringify({
      charges, budgets: 3000,
      startWithMigrationMs: Math.round(migrateMs), chainBuildMs: Math.round(chainMs), migrationMs: Math.round(migrationOnlyMs), startMigratedMs: Math.round(reopenMs),
      admitOnePopulationP50Ms: +p50(admitMs.one!).toFixed(2), admitThreePopulationsP50Ms: +p50(admitMs.three!).toFixed(2),
    }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
