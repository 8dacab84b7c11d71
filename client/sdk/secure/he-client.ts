/**
 * The researcher's side of HE jobs. Before submitting, the client fixes the participants and the public vector
 * layout, chooses BFV parameters that hold the sum, and makes (or loads) a key pair in a local key folder (secret key
 * mode 0600); the spec then carries the plan and the PUBLIC key only. After the job, it decrypts the aggregate
 * ciphertexts the coordinator returned and releases the values itself (exact in mode none, with the noise of the
 * agents' shares in distributed-dp).
 */
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { hePlanToJson, selectHeParameters, type HePlan } from '../../../algorithms/he/index.js';
import { FedmeshError } from '../../../common/errors.js';
import { decryptVector, generateHeKeyPair, loadHeKeyFolder, saveHeKeyFolder, type HeKeyPair } from '../../../common/he/index.js';
import { parseJobSpec, ruleNamesFor } from '../../../common/job/index.js';
import type { AggregateJob, CellJob, JobSpec } from '../../../common/job/index.js';
import {
  checkHePlanFits,
  decodeSecureCells,
  heRingForPlan,
  decodeSecureSum,
  heLimbRing,
  planSecureAggregate,
  planSecureCells,
  releaseSecureAggregate,
  releaseSecureCells,
  type LimbRing,
  type SecureCellPlan,
  type SecureJobPlan,
} from '../../../common/secure/index.js';
import type { AgentInfoView, JobView } from '../types.js';
import { verifyHeJob } from './he-verify.js';

/** Digit sizes tried for HE slots; the one with the fewest ciphertext bytes wins. */
const DIGIT_BITS = [8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 36, 40];

export interface PreparedHeJob {
  spec: Record<string, unknown>;
  keyPair: HeKeyPair;
  keyDir: string;
  /** Aggregate jobs: the statistics vector. */
  secure?: SecureJobPlan;
  /** Cohort-level jobs: the cell vector. */
  cells?: SecureCellPlan;
  /** Aggregate jobs: the product's column types as the agents published them, to plan the release again. */
  columnTypes?: Record<string, string>;
}

type Planned = { secure: SecureJobPlan; vectorLength: number } | { cells: SecureCellPlan; vectorLength: number };

/** Tables every cohort-level job except contingency reads at the agents. */
const OMOP_CORE = ['person', 'observation_period'];

export interface HeJobOptions {
  /** Folder of the key pair. @default ~/.fedmesh/keys/<plan hash> */
  keyDir?: string;
}

/** The default key folder of a plan: one key pair per distinct plan, reused across jobs with the same plan. */
export function defaultHeKeyDir(plan: HePlan): string {
  const hash = createHash('sha256').update(JSON.stringify(hePlanToJson(plan))).digest('hex').slice(0, 16);
  return join(homedir(), '.fedmesh', 'keys', hash);
}

/** Chooses the digit size and BFV plan with the smallest upload for this job's layout. */
function choosePlan(planFor: (ring: LimbRing) => Planned, agents: number): { plan: HePlan; planned: Planned } {
  let best: { plan: HePlan; planned: Planned; bytes: number } | undefined;
  let lastError: unknown;
  for (const b of DIGIT_BITS) {
    let planned: Planned;
    try {
      planned = planFor(heLimbRing(b));
    } catch (e) {
      lastError = e;
      continue;
    }
    let plan: HePlan;
    try {
      plan = selectHeParameters({ vectorLength: planned.vectorLength, valueBounds: { min: 0n, max: (1n << BigInt(b)) - 1n }, agents });
    } catch (e) {
      lastError = e;
      continue;
    }
    const bytes = plan.ciphertextCount * plan.ciphertextByteSize;
    if (!best || bytes < best.bytes) best = { plan, planned, bytes };
  }
  if (!best) throw lastError instanceof FedmeshError ? lastError : new FedmeshError('INVALID_JOB', `no BFV parameters hold this job's secure sum: ${(lastError as Error)?.message ?? 'unknown'}`);
  return best;
}

/**
 * Prepares an HE job: fixes the participants (spec.agents), plans the vector and BFV parameters, loads or makes the
 * key pair, and puts the plan and public key into the spec.
 * @throws FedmeshError INVALID_JOB when no connected agent serves the product, or the sum cannot be held
 */
export async function prepareHeJob(specIn: Record<string, unknown>, agents: readonly AgentInfoView[], options: HeJobOptions = {}): Promise<PreparedHeJob> {
  const spec: Record<string, unknown> = { ...specIn };
  delete spec.he;
  const needs = spec.kind === 'aggregate' || spec.kind === 'contingency' ? [String(spec.product)] : OMOP_CORE;
  const serving = agents.filter((a) => a.connected && needs.every((n) => a.products.some((p) => p.name === n)));
  const wanted = Array.isArray(spec.agents) ? (spec.agents as string[]) : undefined;
  const names = (wanted ?? serving.map((a) => a.name)).slice().sort();
  const first = serving.find((a) => names.includes(a.name));
  if (!first) throw new FedmeshError('INVALID_JOB', `product: no connected agent serves ${needs.join(', ')}`, { field: 'product' });
  spec.agents = names;
  const job: JobSpec = parseJobSpec(spec);
  let planFor: (ring: LimbRing) => Planned;
  let columnTypes: Record<string, string> | undefined;
  if (job.kind === 'aggregate') {
    const product = first.products.find((p) => p.name === job.product)!;
    columnTypes = Object.fromEntries(product.columns.map((c) => [c.name, c.type]));
    const typeOf = (c: string): string => product.columns.find((x) => x.name === c)?.type ?? 'VARCHAR';
    planFor = (ring) => {
      const secure = planSecureAggregate(job, typeOf, names.length, ring);
      return { secure, vectorLength: secure.layout.vectorLength };
    };
  } else {
    const ruleNames = ruleNamesFor(job);
    planFor = (ring) => {
      const cells = planSecureCells(job, ruleNames, names.length, ring);
      return { cells, vectorLength: cells.vectorLength };
    };
  }
  const { plan, planned } = choosePlan(planFor, names.length);
  const keyDir = options.keyDir ?? defaultHeKeyDir(plan);
  let keyPair: HeKeyPair;
  try {
    keyPair = await loadHeKeyFolder(keyDir);
    if (JSON.stringify(hePlanToJson(keyPair.plan)) !== JSON.stringify(hePlanToJson(plan))) {
      throw new FedmeshError('FAILED_PRECONDITION', `HE key folder ${keyDir} holds a key for a different plan; use another --key-dir`);
    }
  } catch (e) {
    if (!(e instanceof FedmeshError && e.code === 'NOT_FOUND')) throw e;
    keyPair = await generateHeKeyPair(plan);
    await saveHeKeyFolder(keyDir, keyPair);
  }
  spec.he = { plan: hePlanToJson(plan), publicKey: Buffer.from(keyPair.publicKey).toString('base64') };
  return { spec, keyPair, keyDir, ...(columnTypes ? { columnTypes } : {}), ...('secure' in planned ? { secure: planned.secure } : { cells: planned.cells }) };
}

/**
 * The layout the agents encoded with, planned again from the verified spec on this client's HE plan (ring and
 * participants): admission may raise maxSitesPerPerson or fill in secureMaxRows, which change the noise shares and the
 * grid, so the plan made before submitting would decode and describe the sum wrongly.
 * @throws FedmeshError FAILED_PRECONDITION when the verified spec does not fit this client's HE plan
 */
function agentsLayout(jobId: string, spec: JobSpec, prepared: PreparedHeJob): { secure: SecureJobPlan } | { cells: SecureCellPlan } {
  const plan = prepared.keyPair.plan;
  const n = plan.maxAgents;
  try {
    if (prepared.cells) {
      const cells = planSecureCells(spec as CellJob, ruleNamesFor(spec as CellJob), n, heRingForPlan(plan));
      checkHePlanFits(plan, cells, n);
      return { cells };
    }
    if (!prepared.columnTypes) return { secure: prepared.secure! };
    const types = prepared.columnTypes;
    const secure = planSecureAggregate(spec as AggregateJob, (c) => types[c] ?? 'VARCHAR', n, heRingForPlan(plan));
    checkHePlanFits(plan, secure.layout, n);
    return { secure };
  } catch (e) {
    throw new FedmeshError('FAILED_PRECONDITION', `he: refusing to decrypt job ${jobId}: its verified spec does not fit this client's HE plan: ${(e as Error).message.slice(0, 300)}`, { field: 'he.plan', cause: e });
  }
}

/**
 * Decrypts the aggregate ciphertexts of a finished HE job and fills in the released rows.
 * @param meshCa the CA that issued the agents' certificates; without it nothing is decrypted
 * @throws FedmeshError FAILED_PRECONDITION when the agents' bindings do not verify against the spec this client
 *   submitted (see he-verify.ts), or the job carries no ciphertexts or they do not decrypt
 */
export async function finalizeHeJob(job: JobView, prepared: PreparedHeJob, meshCa: Buffer | string | undefined): Promise<JobView> {
  if (job.state !== 'succeeded' || !job.result) return job;
  // Every contributor encrypted for the spec THIS client submitted (only admission-filled fields may differ), signed
  // by its attested identity key under the mesh CA; nothing is decrypted otherwise, nor without a mesh CA (he-verify.ts).
  const verified = verifyHeJob(job, prepared, meshCa);
  const bytes = job.resultCiphertexts;
  const plan = prepared.keyPair.plan;
  if (!bytes || bytes.length !== plan.ciphertextCount * plan.ciphertextByteSize) {
    throw new FedmeshError('FAILED_PRECONDITION', `job ${job.jobId}: expected ${plan.ciphertextCount} aggregate ciphertexts from the coordinator`);
  }
  const cts = Array.from({ length: plan.ciphertextCount }, (_, i) => bytes.subarray(i * plan.ciphertextByteSize, (i + 1) * plan.ciphertextByteSize));
  const sums = await decryptVector(plan, prepared.keyPair.secretKey, cts);
  const info = (job.result.summary?.he ?? {}) as { contributors?: number; minCellSize?: number };
  const layout = agentsLayout(job.jobId, verified, prepared);
  if ('cells' in layout) {
    const cells = layout.cells;
    const spec = verified as CellJob;
    const release = releaseSecureCells(spec, cells, decodeSecureCells(cells, sums), info.contributors ?? cells.agents, info.minCellSize ?? 1);
    return {
      ...job,
      result: {
        ...job.result,
        ...release,
        summary: { ...release.summary, ...(job.result.summary ?? {}) },
        privacy: { ...release.privacy, keyId: prepared.keyPair.keyId, decryptedBy: 'researcher client' },
        notes: [...release.notes, ...job.result.notes, `decrypted in this client with the secret key in ${prepared.keyDir}`],
      },
    };
  }
  const sp = layout.secure;
  const totals = decodeSecureSum(sp.layout, sp.plan, sums);
  const spec = verified as AggregateJob;
  const release = releaseSecureAggregate({ job: spec, plan: sp.plan, layout: sp.layout, totals, contributors: info.contributors ?? sp.layout.agents, minCellSize: info.minCellSize ?? 1, ...(sp.noise ? { noise: sp.noise } : {}) });
  return {
    ...job,
    result: {
      ...job.result,
      ...release,
      privacy: { ...release.privacy, keyId: prepared.keyPair.keyId, decryptedBy: 'researcher client' },
      notes: [...release.notes, ...job.result.notes, `decrypted in this client with the secret key in ${prepared.keyDir}`],
    },
  };
}
