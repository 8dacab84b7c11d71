/**
 * The agent's side of the built-in HE jobs (aggregate, and the cohort-level kinds, whose vector is the job's public
 * cells counted by the same `computeCells` as the plaintext path): one task that encrypts the vector under the
 * researcher's public key in the piscina pool, so the researcher's client decrypts with its own key. The statistics
 * are computed, clipped to their public per-agent bounds (secureMaxRows; never a refusal on a value) and noised
 * (distributed-dp) BEFORE anything is encrypted. The agent calls `handle` at most once per (job id, round) that
 * succeeded: replays are answered from its released-answers store (node-agent/disclosure/released-answers.ts).
 * SecAgg jobs of every kind run on the kind seam (node-agent/tasks/kind-secure-phase.ts), not here.
 */
import { heRoundId, signHeBinding, type HeRoundStart, checkHePlanFits, checkSecureMaxRows, decodeEnvelope, encodeSecureCells, encodeSecureVector, heRingForPlan, planSecureAggregate, planSecureCells, type LimbRing, type SecureCellPlan, type SecureJobPlan, type StatisticSlot } from '../../common/secure/index.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { GroupPartial } from '../../algorithms/aggregate/index.js';
import * as dp from '../../algorithms/dp/index.js';
import { parseHePlan, type HePlan } from '../../algorithms/he/index.js';
import type { Rng } from '../../algorithms/rng.js';
import type { AgentTask } from '../../common/agent-protocol.js';
import type { IdentityKeyPair } from '../../common/crypto/index.js';
import { FedmeshError, invalidJob } from '../../common/errors.js';
import { createHePool, type HePool } from '../../common/he/index.js';
import type { PrivacyCost } from '../../algorithms/dp/index.js';
import { ruleNamesFor } from '../../common/job/index.js';
import type { AggregateJob, CellJob, JobSpec } from '../../common/job/index.js';
import type { TlsMaterial } from '../../common/tls.js';
import type { ProductInfo } from '../data/products.js';
import type { SqlSession } from '../data/source/index.js';
import type { ReleasedCells } from '../disclosure/released-cells.js';
import { secureCells, secureGroupStatistics, type SecureRelease } from './secure-guard.js';

export interface SecureTaskDeps {
  name: string;
  tls: TlsMaterial | undefined;
  identity: IdentityKeyPair;
  products: () => readonly ProductInfo[];
  withConnection: <T>(fn: (conn: DuckDBConnection) => Promise<T>) => Promise<T>;
  charge: (jobId: string, researcher: string, cost: PrivacyCost) => Promise<void>;
  salt: () => string;
  rng: Rng;
  log: (event: string, fields?: Record<string, unknown>) => void;
  /** This domain's published bounds on a secure job's secureMaxRows (its maximum; its minimum cell size in mode none). */
  policy: { secureMaxRows: number; minCellSize: number };
  /** Mode none: the differencing memory shared with the plain path (node-agent/secure/secure-guard.ts). */
  guard?: { cells: () => ReleasedCells; maxRememberedPersons: number };
}

/** A session of the agent's PostgreSQL source for the length of `fn`. */
export type WithData = <T>(fn: (data: SqlSession) => Promise<T>) => Promise<T>;

export interface SecureTaskOutput {
  arrow: Uint8Array;
  meta: Record<string, unknown>;
  payload: Uint8Array;
}

/** A secure job's public shape for this agent, and how to compute this agent's vector. */
interface Planned {
  vectorLength: number;
  /** This agent's vector as HE plaintext slots. */
  vector: () => Promise<BigInt64Array>;
}

export class SecureTaskRunner {
  private pool: HePool | undefined;

  constructor(private readonly deps: SecureTaskDeps) {}

  /**
   * Runs the one round of a built-in HE job. @throws FedmeshError (INVALID_JOB for any other secure job: SecAgg runs
   *   on the kind seam)
   * @param withData on an agent whose data is a site's PostgreSQL: a session of it (consent-scoped, the task's
   *   signal). Every old kind then computes there as its plain path does: aggregate statistics and contingency counts
   *   by queries on the server, the cohort kinds' SQL on the server with the guard's person hashes in this agent.
   */
  async handle(task: AgentTask, job: JobSpec, withData?: WithData): Promise<SecureTaskOutput> {
    if (!this.deps.tls) {
      throw new FedmeshError('FAILED_PRECONDITION', 'secure aggregation needs mTLS: this agent runs --insecure, so it has no certificate to vouch for its identity key', { field: 'secure' });
    }
    if (job.secure !== 'he') {
      throw new FedmeshError('INVALID_JOB', `secure: ${String(job.secure)} jobs run as rounds of the kind seam; this agent serves only HE through the built-in secure task`, { field: 'secure' });
    }
    // Public information only (the spec and this domain's published policy), before anything is charged or read.
    checkSecureMaxRows(job, [{ name: this.deps.name, ...this.deps.policy }]);
    return this.encryptHe(task, job, withData);
  }

  private product(job: AggregateJob): { product: ProductInfo; typeOf: (c: string) => string } {
    const product = this.deps.products().find((p) => p.name === job.product);
    if (!product) throw new FedmeshError('INVALID_JOB', `product: this agent has no product ${job.product}`, { field: 'product' });
    return { product, typeOf: (c) => product.columns.find((x) => x.name === c)?.type ?? 'VARCHAR' };
  }

  /**
   * The job's public plan for n participants on this ring — derived here from the spec alone, as the coordinator
   * does — and a function computing this agent's vector (statistics or cells → noise share → overflow check → limbs).
   */
  private planVector(task: AgentTask, job: JobSpec, n: number, ring: LimbRing, withData?: WithData): Planned {
    if (job.kind === 'aggregate') {
      const { product, typeOf } = this.product(job);
      const sp = planSecureAggregate(job, typeOf, n, ring);
      return { vectorLength: sp.layout.vectorLength, vector: () => this.vector(task, job, sp, product, withData) };
    }
    const cp = planSecureCells(job, ruleNamesFor(job), n, ring);
    return { vectorLength: cp.vectorLength, vector: () => this.cellVector(task, job, cp, withData) };
  }

  /** Cells (exactly as runCellJob counts them) → (+ a noise share per block) → overflow check → limbs. Charges first in distributed-dp. */
  private async cellVector(task: AgentTask, job: CellJob, cp: SecureCellPlan, withData?: WithData): Promise<BigInt64Array> {
    if (cp.noise) await this.deps.charge(task.jobId, task.researcher, cp.noise.cost);
    const product = job.kind === 'contingency' ? this.deps.products().find((p) => p.name === job.product) : undefined;
    const unit = product?.privacyUnit;
    const release = this.release(task, job);
    // On a site's PostgreSQL the cells are counted on the server; the guard's person hashes stay in this agent's DuckDB.
    const values = await this.deps.withConnection((conn) => (withData ? withData((data) => secureCells(conn, job, task.taskId, unit, release, data, product)) : secureCells(conn, job, task.taskId, unit, release)));
    const rng = dp.asBufferedRng(this.deps.rng);
    const noise = cp.noise;
    const samplers = noise ? noise.blocks.map((b) => dp.createDiscreteGaussianSampler(b.plan.shareSigma2)) : [];
    return encodeSecureCells(cp, values, noise ? (block) => samplers[block]!.sample(rng) : undefined, true) as BigInt64Array;
  }

  /** Statistics → (+ noise share) → overflow check → limbs. Charges this domain's ledger first in distributed-dp. */
  private async vector(task: AgentTask, job: AggregateJob, sp: SecureJobPlan, product: ProductInfo, withData?: WithData): Promise<BigInt64Array> {
    if (sp.noise) await this.deps.charge(task.jobId, task.researcher, sp.noise.cost);
    const release = this.release(task, job);
    const groups: GroupPartial[] = await this.deps.withConnection((conn) =>
      withData ? withData((data) => secureGroupStatistics(conn, job, product, sp.plan, this.deps.salt(), release, data)) : secureGroupStatistics(conn, job, product, sp.plan, this.deps.salt(), release),
    );
    const rng = dp.asBufferedRng(this.deps.rng);
    const samplers = new Map<StatisticSlot, dp.DiscreteGaussianSampler>();
    const noise = sp.noise
      ? (s: StatisticSlot): bigint => {
          let sampler = samplers.get(s);
          if (!sampler) {
            sampler = dp.createDiscreteGaussianSampler(s.shareSigma2!);
            samplers.set(s, sampler);
          }
          return sampler.sample(rng);
        }
      : undefined;
    return encodeSecureVector(sp.layout, groups, noise, true) as BigInt64Array;
  }

  private async encryptHe(task: AgentTask, job: JobSpec, withData?: WithData): Promise<SecureTaskOutput> {
    if (task.round !== 1) throw new FedmeshError('INVALID_ARGUMENT', `he: unknown round ${task.round}`);
    if (!job.he) throw invalidJob('he', 'an HE job must carry the plan and the public key (made by the researcher client)');
    // The round id carries the spec hash this agent verified (common/secure/he-binding.ts), as secagg's does.
    const roundId = heRoundId(task.jobId, job);
    if ((decodeEnvelope(task.payload, 'he round payload') as Partial<HeRoundStart> | null)?.roundId !== roundId) {
      throw new FedmeshError('INVALID_ARGUMENT', 'he round payload: spec hash mismatch: not an HE round of this job as this agent parsed it (job id or spec hash differ)');
    }
    let plan: HePlan;
    try {
      plan = parseHePlan(job.he.plan);
    } catch (e) {
      throw invalidJob('he.plan', (e as Error).message);
    }
    const sp = this.planVector(task, job, plan.maxAgents, heRingForPlan(plan), withData);
    checkHePlanFits(plan, sp, plan.maxAgents);
    const publicKey = new Uint8Array(Buffer.from(job.he.publicKey, 'base64'));
    if (publicKey.length !== plan.publicKeyByteSize) throw invalidJob('he.publicKey', `is ${publicKey.length} bytes, the plan's public keys are ${plan.publicKeyByteSize}`);
    const vector = await sp.vector();
    this.pool ??= createHePool();
    const started = Date.now();
    const cts = await this.pool.encrypt(plan, publicKey, vector);
    const payload = new Uint8Array(cts.length * plan.ciphertextByteSize);
    cts.forEach((c, i) => payload.set(c, i * plan.ciphertextByteSize));
    const heBinding = signHeBinding(this.deps.name, this.deps.identity.privateKey, roundId, payload);
    return { arrow: new Uint8Array(), meta: { round: 1, secure: 'he', ciphertexts: cts.length, encryptMs: Date.now() - started, heBinding }, payload };
  }

  /** The differencing guard's context for a mode-none job (F5: a secure sum releases exact totals in mode none). */
  private release(task: AgentTask, job: JobSpec): SecureRelease | undefined {
    const g = this.deps.guard;
    if (job.privacy.mode !== 'none' || !g) return undefined;
    return { researcher: task.researcher, jobId: task.jobId, cells: g.cells(), salt: this.deps.salt(), policy: { minCellSize: this.deps.policy.minCellSize, maxRememberedPersons: g.maxRememberedPersons } };
  }

  async stop(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }
}

