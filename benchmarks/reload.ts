/**
 * Agent reload cost (issue 14 item 12), on its own: `npx tsx benchmarks/reload.ts [persons]` (default 100000).
 * One synthetic OMOP site (Parquet) is ingested by an in-process agent (no coordinator needed), then reloaded
 * five times with nothing changed (quality metrics of unchanged products are reused), then three times after
 * touching measurement.parquet (the OMOP set loads again as a whole, in one transaction, by design).
 * Prints milliseconds per reload; the machine's load is printed beside them because it dominates the figures.
 */
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { synthesize } from '../client/tools/synth/index.js';
import { Agent } from '../node-agent/index.js';

const persons = Number(process.argv[2] ?? 100_000);
const dir = await mkdtemp(join(tmpdir(), 'fedmesh-reload-bench-'));
try {
  await synthesize({ outDir: join(dir, 'data'), sites: 1, persons, seed: 1, format: 'parquet' });
  const data = join(dir, 'data', 'site-1');
  let t = performance.now();
  const agent = await Agent.create({ name: 'bench', dataDir: data, stateDir: join(dir, 'state'), coordinator: '127.0.0.1:1', insecure: true, policy: { allowModes: ['none'] } });
  const first = performance.now() - t;
  const unchanged: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    t = performance.now();
    await agent.reload();
    unchanged.push(performance.now() - t);
  }
  const touched: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    const when = new Date(Date.now() + (i + 1) * 2000);
    await utimes(join(data, 'measurement.parquet'), when, when);
    t = performance.now();
    await agent.reload();
    touched.push(performance.now() - t);
  }
  await agent.stop();
  const ms = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ');
  console.log(JSON.stringify({ persons, products: agent.listProducts().length, firstIngestMs: Math.round(first), unchangedReloadMs: ms(unchanged), reloadAfterTouchMs: ms(touched), loadAverage1m: loadavg()[0] }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
