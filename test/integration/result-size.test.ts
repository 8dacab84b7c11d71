import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../client/sdk/types.js';
import { FedmeshError } from '../../common/errors.js';
import { clientCredentials, fedmeshV1 } from '../../common/transport/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { MAX_RESULT_VALUES } from '../../coordinator/admission/result-size.js';
import { MAX_INLINE_RESULT_BYTES, RESULT_CHUNK_BYTES } from '../../coordinator/transport/codec.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

async function refusal(p: Promise<unknown>): Promise<FedmeshError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FedmeshError);
    return e as FedmeshError;
  }
  throw new Error('expected the call to be refused');
}

const years = (n: number): number[] => Array.from({ length: n }, (_, i) => 1000 + i);
const edges = (bins: number): number[] => Array.from({ length: bins + 1 }, (_, i) => 18 + i * 0.25);

/** A plain grpc-js client with gRPC's default limits (4 MiB receive), as a third-party researcher tool would have. */
function defaultLimitClient(mesh: TestMesh): grpc.Client & Record<string, (...a: unknown[]) => unknown> {
  const Ctor = fedmeshV1().Coordinator!;
  return new Ctor(`127.0.0.1:${mesh.server.port}`, clientCredentials(loadTlsMaterial(mesh.tlsDir, 'researcher', 'researcher')), {
    'grpc.ssl_target_name_override': 'localhost',
    'grpc.default_authority': 'localhost',
  }) as never;
}

function unary<T>(c: grpc.Client & Record<string, (...a: unknown[]) => unknown>, method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) => c[method]!.call(c, req, (e: grpc.ServiceError | null, r: T) => (e ? reject(e) : resolve(r))));
}

/** Issue 8, item 7: results too large are refused at admission; large admitted results stream in chunks. */
describe('result size over the real transport', () => {
  let mesh: TestMesh;

  beforeAll(async () => {
    // Heartbeats every 2 s (the default): the agent's 10,000-group histogram must not look like a dead agent.
    mesh = await startMesh({ agentNames: ['a1'], heartbeatIntervalMs: 2000 });
    const dir = join(mesh.dir, 'data', 'a1');
    await writePersonCsv(dir, makePersons(400, 5, 1));
    await mesh.startAgent('a1', dir);
    await mesh.waitForAgents(1);
  });
  afterAll(async () => mesh?.close());

  async function spentAndStored(): Promise<[number, number]> {
    const budget = await mesh.client.getBudget();
    return [budget.entries.reduce((s, e) => s + e.spentRho, 0), (await mesh.client.listJobs(1000)).length];
  }

  it("the issue's repro (central-dp, 10,000 public groups × 300 bins) is refused before anything is charged or stored", async () => {
    const before = await spentAndStored();
    const err = await refusal(
      mesh.client.submitJob({ kind: 'aggregate', product: 'person', groupBy: ['year_of_birth'], groupKeys: { year_of_birth: years(10_000) }, measures: [{ fn: 'count' }, { fn: 'histogram', column: 'bmi', bins: edges(300) }], privacy: { mode: 'central-dp', epsilon: 1 } }),
    );
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    expect(err.details.grpcStatus).toBe('RESOURCE_EXHAUSTED');
    expect(err.field).toBe('groupKeys');
    expect(err.message).toMatch(/^groupKeys × measures\[1\]: the result could hold 9,060,000 numbers \(10,000 groups × 906 each\), over the limit of 2,000,000/);
    expect(MAX_RESULT_VALUES).toBe(2_000_000);
    expect(await spentAndStored()).toEqual(before);
  });

  it('an agent reply over the link budget (10,000 groups × a 1,001-candidate quantile) is refused, naming the limit', async () => {
    const before = await spentAndStored();
    const spec = { kind: 'aggregate', product: 'person', groupBy: ['year_of_birth'], groupKeys: { year_of_birth: years(10_000) }, measures: [{ fn: 'quantile', column: 'bmi', bounds: [10, 50], quantiles: [0.5], candidates: 1001 }] };
    // Mode none (the kind seam too): 10,000 × (a count and 1,002 buckets in 2 limbs each, 1,003 withheld flags). (The
    // built-in path's reply budget, MAX_AGENT_REPLY_BYTES, is for the secure sums and data-derived groups:
    // coordinator/admission/result-size.test.ts.)
    const err = await refusal(mesh.client.submitJob({ ...spec, privacy: { mode: 'none' } }));
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    expect(err.message).toMatch(/^groupKeys: 10000 groups × their statistics are 30090000 numbers per agent, more than the 4194304 a round carries/);
    // central-dp (the kind seam): the vector a round carries, 10,000 × 1,002 buckets.
    const seam = await refusal(mesh.client.submitJob({ ...spec, privacy: { mode: 'central-dp', epsilon: 1 } }));
    expect(seam.code).toBe('RESOURCE_EXHAUSTED');
    expect(seam.message).toMatch(/^groupKeys: 10000 groups × their statistics are 10020000 numbers per agent, more than the 4194304 a round carries/);
    expect(await spentAndStored()).toEqual(before);
  });

  it('without public keys admission assumes every agent returns its maximum of groups', async () => {
    const err = await refusal(mesh.client.submitJob({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'histogram', column: 'bmi', bins: edges(100) }], privacy: { mode: 'none' } }));
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    expect(err.field).toBe('groupBy');
    expect(err.message).toMatch(/^groupBy × measures\[0\]: the result could hold/);
    expect(err.message).toMatch(/without public groupKeys every agent is assumed to return its maximum of 10,000 groups/);
  });

  describe('a large admitted result (10,000 public groups × 60 bins, ~1.8 M numbers)', () => {
    let job: JobView;
    beforeAll(async () => {
      job = await mesh.client.run({ kind: 'aggregate', product: 'person', groupBy: ['year_of_birth'], groupKeys: { year_of_birth: years(10_000) }, measures: [{ fn: 'count' }, { fn: 'histogram', column: 'bmi', bins: edges(60) }], privacy: { mode: 'central-dp', epsilon: 1 }, timeoutMs: 120_000 });
    }, 120_000);

    it('reaches the SDK whole (WatchJob, then GetJobResult in chunks)', () => {
      expect(job.error).toBeUndefined();
      expect(job.state).toBe('succeeded');
      expect(job.result!.rows).toHaveLength(10_000);
      expect((job.result!.rows[0]!.histogram_bmi as number[]).length).toBe(60);
    });

    it('GetJob works for a client with gRPC default limits: the status leaves the result out, GetJobResult streams it in ≤ 1 MiB chunks', async () => {
      const c = defaultLimitClient(mesh);
      try {
        const status = await unary<{ resultOmitted: boolean; resultJson: string; state: string }>(c, 'getJob', { jobId: job.jobId });
        expect(status.state).toBe('JOB_STATE_SUCCEEDED');
        expect(status.resultOmitted).toBe(true);
        expect(status.resultJson).toBe('');
        const chunks: { part: string; offset: string; data: Buffer; partBytes: string }[] = [];
        await new Promise<void>((resolve, reject) => {
          const s = (c.getJobResult as (r: unknown) => grpc.ClientReadableStream<(typeof chunks)[number]>).call(c, { jobId: job.jobId, parts: ['RESULT_PART_JSON'] });
          s.on('data', (d) => chunks.push(d));
          s.on('error', reject);
          s.on('end', resolve);
        });
        expect(chunks.every((x) => x.part === 'RESULT_PART_JSON' && x.data.length <= RESULT_CHUNK_BYTES)).toBe(true);
        const json = Buffer.concat(chunks.map((x) => x.data));
        expect(json.length).toBe(Number(chunks[0]!.partBytes));
        expect(json.length).toBeGreaterThan(MAX_INLINE_RESULT_BYTES);
        expect(chunks.length).toBe(Math.ceil(json.length / RESULT_CHUNK_BYTES));
        expect(JSON.parse(json.toString('utf8'))).toEqual(job.result);
      } finally {
        c.close();
      }
    });

    it('the SDK getJob fetches it the same way', async () => {
      const again = await mesh.client.getJob(job.jobId);
      expect(again.resultOmitted).toBeUndefined();
      expect(again.result).toEqual(job.result);
    });

    it('ListJobs returns small summaries: no result, spec summarised (works under the 4 MiB default limit)', async () => {
      const c = defaultLimitClient(mesh);
      try {
        const r = await unary<{ jobs: { jobId: string; resultJson: string; resultArrow: Buffer; specJson: string; specSummarised: boolean; resultOmitted: boolean }[] }>(c, 'listJobs', { limit: 1000 });
        const mine = r.jobs.find((j) => j.jobId === job.jobId)!;
        expect(mine.resultJson).toBe('');
        expect(mine.resultArrow.length).toBe(0);
        expect(mine.specSummarised).toBe(true);
        expect(mine.resultOmitted).toBe(true);
        expect(JSON.parse(mine.specJson)).toEqual({ kind: 'aggregate', product: 'person', privacyMode: 'central-dp', epsilon: 1 });
        expect(JSON.stringify(r).length).toBeLessThan(10_000);
      } finally {
        c.close();
      }
    });
  });
});
