/**
 * A secure job's per-agent row bound (KindDef.secureRowBound: glm's and Cox's secureMaxRows, train's
 * update.maxExamples) is the agents', never a researcher's probe (red team 26, F2 and F3): admission fills in the
 * agreed bound in mode none, refuses another value naming the kind's field, and in the DP modes refuses a bound above
 * what an agent publishes. Plain jobs are left as they are (control).
 */
import { describe, expect, it } from 'vitest';
import { compileKindJob, type AnyKindDef, type CompiledKindJob } from '../../common/kinds/index.js';
import { glmKind } from '../../jobs/glm/index.js';
import { trainKind } from '../../jobs/train/index.js';
import type { AgentView } from '../agent-registry.js';
import { rowBoundNotes, settleBuiltInRowBound, settleRowBound } from './kind-admission.js';
import { aggregateKind } from '../../jobs/aggregate/index.js';
import { DEFAULT_SECURE_MAX_ROWS } from '../../common/secure/index.js';

const agents = (secureMaxRows: number, minCellSize = 5) => ['a1', 'a2', 'a3'].map((name) => ({ name, policy: { secureMaxRows, minCellSize } }) as unknown as AgentView);
const glm = (extra: Record<string, unknown>) => ({ kind: 'glm', product: 'p', family: 'gaussian', outcome: 'y', outcomeBounds: [0, 1], covariates: [], ...extra });
const train = (extra: Record<string, unknown>, update: Record<string, unknown> = {}) => ({
  kind: 'train',
  product: 'p',
  label: 'y',
  features: [{ column: 'x', type: 'numeric', bounds: [0, 1] }],
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'logistic' },
  training: { rounds: 1 },
  participation: { minUpdates: 3 },
  update,
  ...extra,
});
const settle = (def: AnyKindDef, spec: unknown, published = 300): CompiledKindJob => settleRowBound(def, compileKindJob(def, spec), agents(published));
const refusal = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};

describe('secure row bounds of registry kinds are agreed, not chosen', () => {
  it('glm, mode none: the agreed bound is filled in (and the job compiled again); another value is refused naming secureMaxRows', () => {
    const filled = settle(glmKind, glm({ secure: 'secagg', privacy: { mode: 'none' } }));
    expect((filled.spec as { secureMaxRows?: number }).secureMaxRows).toBe(300);
    expect(filled.hash).not.toBe(compileKindJob(glmKind, glm({ secure: 'secagg', privacy: { mode: 'none' } })).hash);
    expect(refusal(() => settle(glmKind, glm({ secure: 'secagg', privacy: { mode: 'none' }, secureMaxRows: 299 })))).toMatchObject({ code: 'INVALID_JOB', field: 'secureMaxRows' });
    expect(settle(glmKind, glm({ secure: 'secagg', privacy: { mode: 'none' }, secureMaxRows: 300 })).spec).toMatchObject({ secureMaxRows: 300 });
  });

  it('glm, distributed-dp: any bound up to what the agents publish; above it FAILED_PRECONDITION naming secureMaxRows', () => {
    const dp = { mode: 'distributed-dp', epsilon: 1, delta: 1e-6 };
    expect(settle(glmKind, glm({ secure: 'secagg', privacy: dp, secureMaxRows: 7 })).spec).toMatchObject({ secureMaxRows: 7 });
    expect(refusal(() => settle(glmKind, glm({ secure: 'secagg', privacy: dp, secureMaxRows: 301 })))).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'secureMaxRows' });
  });

  it('train, secure mode none: update.maxExamples left at its default becomes the agreed bound; a chosen one is refused naming update.maxExamples', () => {
    const filled = settle(trainKind, train({ secure: 'secagg' }));
    expect((filled.spec as { update: { maxExamples: number } }).update.maxExamples).toBe(300);
    expect(refusal(() => settle(trainKind, train({ secure: 'secagg' }, { maxExamples: 229 })))).toMatchObject({ code: 'INVALID_JOB', field: 'update.maxExamples' });
  });

  it('train, secure mode none, agents publishing 10,000,000: the default is filled in as their bound, not refused (red team 27: the old default 1e7 was read back as 2^24)', () => {
    const filled = settle(trainKind, train({ secure: 'secagg' }), 10_000_000);
    expect((filled.spec as { update: { maxExamples: number } }).update.maxExamples).toBe(10_000_000);
    // Control: a bound the researcher chose is still refused.
    expect(refusal(() => settle(trainKind, train({ secure: 'secagg' }, { maxExamples: 9_999_999 }), 10_000_000))).toMatchObject({ code: 'INVALID_JOB', field: 'update.maxExamples' });
  });

  it('train: the label-excluded count has its own public bound, not update.maxExamples (red team 27: projected onto it, the count was cut)', () => {
    const job = compileKindJob(trainKind, train({ label: { column: 'y', levels: [0, 1] } }, { maxExamples: 30 }));
    const layout = trainKind.layout(job, 1);
    const excluded = layout.blocks.find((b) => b.name === 'labelExcluded')!;
    expect(excluded.perAgent.hi).toBeGreaterThan(1e9);
    // Control: the test count is bounded by maxExamples.
    expect(layout.blocks.find((b) => b.name === 'evalN')!.perAgent.hi).toBe(30);
  });

  it('the result note says what the bound does for the kind: glm projects; train in mode none refuses a side beyond it; plain jobs get no note', () => {
    expect(rowBoundNotes(glmKind, settle(glmKind, glm({ secure: 'secagg', privacy: { mode: 'none' } }))).join(' ')).toMatch(/secureMaxRows 300: every agent projects each round's statistics/);
    expect(rowBoundNotes(trainKind, settle(trainKind, train({ secure: 'secagg' }))).join(' ')).toMatch(/update\.maxExamples 300: .* is refused \(FAILED_PRECONDITION naming update\.maxExamples\) and left out, never clipped/);
    expect(rowBoundNotes(trainKind, compileKindJob(trainKind, train({})))).toEqual([]);
  });

  it('control: plain jobs keep the bound they give, whatever the agents publish', () => {
    const plain = compileKindJob(trainKind, train({}, { maxExamples: 229 }));
    expect(settleRowBound(trainKind, plain, agents(300))).toBe(plain);
    const g = compileKindJob(glmKind, glm({ privacy: { mode: 'none' } }));
    expect(settleRowBound(glmKind, g, agents(300))).toBe(g);
    expect((g.spec as { secureMaxRows?: number }).secureMaxRows).toBeUndefined();
  });

  it('a ported built-in kind (aggregate), mode none: the agents\' agreed bound is filled in when it is not the default an absent bound means', () => {
    const spec = { kind: 'aggregate', product: 'p', measures: [{ fn: 'count' }], privacy: { mode: 'none' }, secure: 'secagg' };
    const job = compileKindJob(aggregateKind, spec);
    const filled = settleBuiltInRowBound(aggregateKind, job, agents(300));
    expect((filled.spec as { secureMaxRows?: number }).secureMaxRows).toBe(300);
    expect(filled.hash).not.toBe(job.hash);
    // Controls: the default needs no filling (the stored spec stays as given); a given bound, a DP mode and plain sums
    // are left alone (admission checked the given bound against the agents already).
    expect(settleBuiltInRowBound(aggregateKind, job, agents(DEFAULT_SECURE_MAX_ROWS))).toBe(job);
    const given = compileKindJob(aggregateKind, { ...spec, secureMaxRows: 300 });
    expect(settleBuiltInRowBound(aggregateKind, given, agents(300))).toBe(given);
    const plain = compileKindJob(aggregateKind, { ...spec, secure: undefined });
    expect(settleBuiltInRowBound(aggregateKind, plain, agents(300))).toBe(plain);
    // Agents publishing different maxima cannot run a mode-none secure job together.
    expect(() => settleBuiltInRowBound(aggregateKind, job, [...agents(300), { name: 'a4', policy: { secureMaxRows: 400, minCellSize: 5 } } as unknown as AgentView])).toThrow(/different maxima/);
  });
});
