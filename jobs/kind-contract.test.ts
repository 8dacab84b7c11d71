import { describe, expect, it } from 'vitest';
import { isFedmeshError } from '../common/errors.js';
import { checkLayout, compileKindJob, kindPrivacyModeOf, type AnyKindDef } from '../common/kinds/index.js';
import { AGENT_KINDS } from './agent-kinds.js';
import { KINDS } from './kinds.js';

/**
 * The contract every registry kind passes (issue 9: "port the kinds with a contract suite every kind must pass"):
 * parse refuses what is not its spec with INVALID_JOB naming a field; compile is pure (same spec, same hash) and
 * the spec as sent to agents compiles to the same hash there; every round's layout is valid and within the public
 * round bound the cost covers; the first round exists; the privacy mode plans noise for the first layout; the
 * agent side registers the same kinds. A kind registered without an example below fails the suite.
 */
const EXAMPLES: Readonly<Record<string, Record<string, unknown>>> = {
  aggregate: {
    kind: 'aggregate',
    product: 'person',
    groupBy: ['gender_concept_id'],
    groupKeys: { gender_concept_id: [8507, 8532] },
    measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }, { fn: 'histogram', column: 'year_of_birth', bins: [1900, 1950, 2030] }],
    privacy: { mode: 'local-dp', epsilon: 1 },
  },
  glm: { kind: 'glm', product: 'heart', family: 'binomial', outcome: 'y', covariates: [{ column: 'age', type: 'numeric', bounds: [20, 90] }], privacy: { mode: 'none' } },
  'survival-cox': {
    kind: 'survival',
    model: 'cox',
    target: { name: 't', entry: { domain: 'condition', concepts: { include: [{ conceptId: 1 }] } } },
    outcome: { domain: 'death', conceptIds: [] },
    timeGrid: { binDays: 30, maxDays: 360 },
    covariates: [{ name: 'g', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' }],
    privacy: { mode: 'none' },
  },
  train: {
    kind: 'train',
    product: 'p',
    label: 'y',
    features: [{ column: 'x0', type: 'numeric', bounds: [0, 1] }],
    split: { column: 'split', train: 'train', test: 'test' },
    model: { type: 'mlp', layers: [{ units: 4, activation: 'tanh' }] },
    training: { rounds: 3, localEpochs: 1, learningRate: 1 },
    strategy: { name: 'fedavg' },
    evaluation: { thresholds: 15 },
    privacy: { mode: 'none' },
  },
  contingency: { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [8527, 0], privacy: { mode: 'none' } },
  cohort: { kind: 'cohort', definition: { name: 't', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] } }, inclusionRules: [{ name: 'adult', type: 'age', min: 18 }] }, privacy: { mode: 'none' } },
  characterize: { kind: 'characterize', definition: { name: 't', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] } } }, conditionConcepts: [320128], drugConcepts: [], privacy: { mode: 'none' } },
  survival: {
    kind: 'survival',
    target: { name: 't', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] } } },
    outcome: { domain: 'death', conceptIds: [] },
    timeGrid: { binDays: 365, maxDays: 1825 },
    strata: 'gender',
    privacy: { mode: 'none' },
  },
};

function refusalField(def: AnyKindDef, raw: unknown): string | undefined {
  try {
    def.parse(raw);
  } catch (e) {
    if (!isFedmeshError(e)) throw e;
    expect(e.code).toBe('INVALID_JOB');
    return e.field ?? '';
  }
  throw new Error(`kind ${def.kind} accepted ${JSON.stringify(raw)}`);
}

describe('kind contract', () => {
  it('every registry kind has an example here and an agent side', () => {
    expect([...KINDS.kinds()].sort()).toEqual(Object.keys(EXAMPLES).sort());
    expect([...AGENT_KINDS.kinds()].sort()).toEqual([...KINDS.kinds()].sort());
  });

  for (const name of Object.keys(EXAMPLES)) {
    describe(name, () => {
      const def = KINDS.get(name)!;
      const example = EXAMPLES[name]!;

      it('parse refuses what is not its spec, naming a field', () => {
        for (const bad of [null, [], 'x', {}, { ...example, privacy: { mode: 'telepathy' } }]) expect(refusalField(def, bad)).toBeTypeOf('string');
        // Negative control: the example itself is accepted.
        expect(() => def.parse(example)).not.toThrow();
      });

      it('compile is pure and the spec as sent compiles to the same hash at an agent', () => {
        const a = compileKindJob(def, example);
        const b = compileKindJob(def, structuredClone(example));
        expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
        expect(b.hash).toBe(a.hash);
        expect(compileKindJob(def, JSON.parse(JSON.stringify(a.spec))).hash).toBe(a.hash);
        // Negative control: another spec is another job.
        const other = compileKindJob(def, { ...example, timeoutMs: 12_345 });
        expect(other.hash).not.toBe(a.hash);
      });

      it('has a first round, valid layouts within its public round bound, and noise planned from them', () => {
        const job = compileKindJob(def, example);
        expect([name, name.split('-')[0]]).toContain(job.kind);
        expect(Number.isSafeInteger(job.maxRounds) && job.maxRounds >= 1).toBe(true);
        expect(def.nextRound(job, [])).not.toBeUndefined();
        for (const round of job.maxRounds > 1 ? [0, 1] : [0]) expect(() => checkLayout(def.layout(job, round))).not.toThrow();
        expect(kindPrivacyModeOf(def, job).roundNoise(job, def.layout(job, 0), { agents: 3 })).toHaveLength(def.layout(job, 0).blocks.length);
      });

      it('accepts (when a kind ports in steps) never throws, whatever the raw spec', () => {
        if (!def.accepts) return;
        for (const raw of [null, [], 'x', {}, { kind: name, privacy: null }, example]) expect(typeof def.accepts(raw)).toBe('boolean');
        expect(def.accepts(example)).toBe(true);
      });
    });
  }
});
