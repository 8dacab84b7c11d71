/**
 * What concept names cost a researcher: end-to-end latency of a count grouped by `gender_concept_id` across 4
 * agents over mutual TLS, on a mesh whose agents hold an OMOP `concept` table (the coordinator looks the released
 * ids up after the release: one more round trip) against the same job on an identical mesh without one (no
 * lookup). Interleaved, same process, same data.
 *
 * Run: `npx tsx benchmarks/concept-names.ts [iterations]` (default 200); prints one JSON object.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { writeSyntheticSites } from './aggregate.js';
import { measureInterleaved, ratio, startBenchMesh, type SuiteReport } from './harness.js';

const JOB = { kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } } as const;

async function writeVocabulary(dirs: readonly string[]): Promise<void> {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  try {
    for (const d of dirs) {
      const file = join(d, 'concept.parquet').replace(/'/g, "''");
      await conn.run(`COPY (SELECT * FROM (VALUES (8507, 'MALE', 'Gender'), (8532, 'FEMALE', 'Gender'), (8551, 'UNKNOWN', 'Gender')) t(concept_id, concept_name, domain_id)) TO '${file}' (FORMAT parquet)`);
    }
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

export async function runConceptNamesBenchmark(iterations = 200, agents = 4): Promise<SuiteReport> {
  const workDir = await mkdtemp(join(tmpdir(), 'fedmesh-bench-concepts-'));
  const meshes: Awaited<ReturnType<typeof startBenchMesh>>[] = [];
  try {
    const named = await writeSyntheticSites(join(workDir, 'named'), 1000 * agents, agents, 7);
    const bare = await writeSyntheticSites(join(workDir, 'bare'), 1000 * agents, agents, 7);
    await writeVocabulary(named.map((s) => s.dataDir));
    meshes.push(await startBenchMesh({ workDir: join(workDir, 'mesh-named'), agents: named }));
    meshes.push(await startBenchMesh({ workDir: join(workDir, 'mesh-bare'), agents: bare }));
    const [withNames, without] = meshes as [(typeof meshes)[number], (typeof meshes)[number]];
    const check = await withNames.client.run(JOB);
    if (check.result?.conceptNames?.['8507'] !== 'MALE') throw new Error(`benchmarks: the named mesh gave no names (${JSON.stringify(check.result?.conceptNames)})`);
    const stats = await measureInterleaved(
      { withNames: () => withNames.client.run(JOB), withoutVocabulary: () => without.client.run(JOB) },
      { warmup: 20, iterations },
    );
    return {
      results: { agents, iterations, withNames: stats.withNames, withoutVocabulary: stats.withoutVocabulary },
      ratios: { p50WithOverWithout: ratio(stats.withNames.p50Ms, stats.withoutVocabulary.p50Ms, { numerator: 'p50 ms, names looked up', denominator: 'p50 ms, no vocabulary (no lookup)' }) },
    };
  } finally {
    for (const m of meshes) await m.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = Number(process.argv[2] ?? 200);
  runConceptNamesBenchmark(n).then(
    // The per-run samples stay out of the printout: the summary figures are what the report quotes.
    (r) => process.stdout.write(`${JSON.stringify(r, (k, v: unknown) => (k === 'samplesMs' ? undefined : v), 2)}\n`),
    (e: unknown) => {
      process.stderr.write(`${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
