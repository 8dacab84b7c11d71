import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { synthesize } from '../../client/tools/synth/index.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import type { JobView } from '../../client/sdk/types.js';
import { isFedmeshError } from '../../common/errors.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { INTERNAL_PREFIX } from '../../node-agent/data/products.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { writeCsvFromSql } from '../helpers/sql-data.js';
import { CaseRng } from './case-rng.js';

const HE_WORKER = join(import.meta.dirname, '..', '..', 'dist', 'common', 'he', 'he-worker.js');

export const GOLDEN_SITES = ['s1', 's2', 's3'] as const;

/** Agent policy of the golden mesh: every mode, a small minimum cell size (so some cells are withheld), ample budget. */
const POLICY = { allowModes: ['none', 'central-dp', 'local-dp', 'distributed-dp'] as const, minCellSize: 5, budgetCap: { epsilon: 1e4, delta: 1e-3 } };

/**
 * A per-site `vitals` product beside the synthetic OMOP tables: several rows per person (contribution bounding
 * picks among them), missing values (the `_missing` counts) and a string column. Deterministic: no randomness.
 */
function vitalsSql(site: number): string {
  const first = site * 100_000;
  return `SELECT ${first} + (i // 3) AS person_id, i % 3 AS visit,
    CASE WHEN (i * 7919) % 11 = 0 THEN NULL ELSE round(18 + ((i * 2654435761) % 2000) / 100.0, 2) END AS bmi,
    CASE WHEN (i * 104729) % 5 = 0 THEN 'smoker' ELSE 'non-smoker' END AS smoking,
    CASE WHEN i % 13 = 0 THEN NULL WHEN i % 4 = 0 THEN 0 ELSE 1 + i % 3 END::INTEGER AS clinic
    FROM range(${240 + 30 * site}) t(i)`;
}

/** The contribution salt an agent keeps in its state: fixed here so that keyed-hash row selection replays too. */
async function seedContributionSalt(stateDir: string, agent: string): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const inst = await DuckDBInstance.create(join(stateDir, 'agent.duckdb'));
  const conn = await inst.connect();
  try {
    await conn.run(`CREATE TABLE ${INTERNAL_PREFIX}secrets (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`);
    const salt = createHash('sha256').update(`fedmesh-golden-salt/${agent}`).digest('hex');
    await conn.run(`INSERT INTO ${INTERNAL_PREFIX}secrets VALUES ('contribution-salt', $1)`, [salt]);
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

/** sha256 over a folder's files (names and bytes, sorted by name). */
function folderDigest(dir: string): string {
  const h = createHash('sha256');
  for (const name of readdirSync(dir).sort()) h.update(name).update('\u0000').update(readFileSync(join(dir, name)));
  return h.digest('hex');
}

/** What a golden case records: who drew randomness, and the job as the researcher's client sees it. */
export interface GoldenOutcome {
  noiseDrawnBy: string[];
  job?: unknown;
  refused?: { code: string; message: string; field: string | undefined };
}

export interface GoldenMesh {
  mesh: TestMesh;
  /** Digest per site folder of the data the agents serve. */
  inputs: Record<string, string>;
  /** Runs one job on fresh seeded streams for this case; a refusal at submission is recorded, not thrown. */
  run(caseName: string, spec: Record<string, unknown>): Promise<GoldenOutcome>;
  close(): Promise<void>;
}

/**
 * The job as the researcher sees it, less what differs run to run by design, each replaced by a marker that says
 * why: the job id and the clock; HE ciphertexts (fresh encryption randomness: their decryption is in `result`), the
 * researcher's HE public key and its id; wall-clock durations in the result (`...Ms`); the temporary folder; in an HE
 * result, `roundId` (job id and the SHA-256 of a spec that holds the fresh HE key: only its form is pinned) and the
 * agents' signed `bindings` (fresh identity keys and ciphertext digests, in arrival order): replaced by the sorted
 * names of the agents that signed.
 */
export function goldenView(job: JobView, tempDir: string): Record<string, unknown> {
  const { jobId: _id, createdAtMs: _c, finishedAtMs: _f, resultCiphertexts: _r, ...rest } = job;
  const scrub = (v: unknown, key: string, inResult: boolean): unknown => {
    if (typeof v === 'string') return v.split(tempDir).join('<temp dir>').split(_id).join('<job id>');
    if (Array.isArray(v)) return v.map((x) => scrub(x, '', inResult));
    if (v === null || typeof v !== 'object') return inResult && typeof v === 'number' && /Ms$/.test(key) ? '<elapsed ms>' : v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // A key whose value is undefined is absent from the JSON the CLI prints: left out here too.
      if (x === undefined) continue;
      if (k === 'publicKey' && !inResult) out[k] = '<the researcher HE public key: fresh per run>';
      else if (k === 'keyId' && inResult) out[k] = '<id of the researcher HE key: fresh per run>';
      else if (k === 'roundId' && inResult && typeof x === 'string' && /^<job id>\/he\/[0-9a-f]{64}$/.test(scrub(x, k, true) as string)) out[k] = '<job id>/he/<spec sha256>';
      else if (k === 'bindings' && inResult && Array.isArray(x)) out[k] = `<signed by: ${x.map((b) => String((b as { binding?: { agent?: unknown } }).binding?.agent)).sort().join(', ')}>`;
      else out[k] = scrub(x, k, inResult || k === 'result');
    }
    return out;
  };
  return scrub(rest, '', false) as Record<string, unknown>;
}

/**
 * Three agents on synthetic OMOP data (3 × 400 persons, seed 9) plus `vitals`, each server on a CaseRng, each
 * agent with a fixed contribution salt, over mTLS.
 */
export async function startGoldenMesh(): Promise<GoldenMesh> {
  // HE jobs run in piscina workers, which load the compiled worker: without it every HE case would record a failure.
  if (!existsSync(HE_WORKER)) throw new Error(`${HE_WORKER} is missing: run \`npm run build\` before the golden tests (HE jobs run the compiled worker)`);
  const rngs = new Map<string, CaseRng>();
  const rngFor = (server: string): CaseRng => {
    const r = new CaseRng(server);
    rngs.set(server, r);
    return r;
  };
  const mesh = await startMesh({ agentNames: [...GOLDEN_SITES], rngFor });
  try {
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: GOLDEN_SITES.length, persons: 400, seed: 9, format: 'parquet' });
    const inputs: Record<string, string> = {};
    for (const [i, s] of synth.sites.entries()) {
      const name = GOLDEN_SITES[i]!;
      await writeCsvFromSql(s.dir, 'vitals', vitalsSql(i + 1));
      inputs[name] = folderDigest(s.dir);
      await seedContributionSalt(join(mesh.dir, 'agents', name), name);
      await mesh.startAgent(name, s.dir, { ...POLICY, allowModes: [...POLICY.allowModes] });
    }
    await mesh.waitForAgents(GOLDEN_SITES.length, 60_000);
    const admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    try {
      await admin.setBudget('researcher', { population: 'person' }, 1e4, 1e-3);
    } finally {
      admin.close();
    }
    return {
      mesh,
      inputs,
      async run(caseName, spec) {
        for (const r of rngs.values()) r.beginCase(caseName);
        // Each case from a clean differencing memory: a mode-none case's cells are not refused because an earlier
        // case released a cell a few persons apart (the guard is tested in test/integration/differencing.test.ts).
        for (const a of mesh.agents.values()) await a.forgetReleasedCells('researcher');
        const keyDir = join(mesh.dir, 'he-keys', createHash('sha256').update(caseName).digest('hex').slice(0, 16));
        let outcome: GoldenOutcome;
        try {
          const job = await mesh.client.run(spec, undefined, spec.secure === 'he' ? { keyDir } : {});
          outcome = { noiseDrawnBy: [], job: goldenView(job, mesh.dir) };
        } catch (e) {
          if (!isFedmeshError(e)) throw e;
          outcome = { noiseDrawnBy: [], refused: { code: e.code, message: e.message, field: e.field } };
        }
        outcome.noiseDrawnBy = [...rngs].filter(([, r]) => r.drew()).map(([name]) => name);
        return outcome;
      },
      close: () => mesh.close(),
    };
  } catch (e) {
    await mesh.close();
    throw e;
  }
}
