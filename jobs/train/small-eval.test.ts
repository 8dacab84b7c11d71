/**
 * Red-team finding F1: in mode none the pooled test figures of a train job (testN, loss, accuracy, AUC) were released
 * although an agent's test side held one person — with `agents: [one site]` and a narrow `where` they were that
 * person's figures, and with several agents a job with and without the small one differenced them. The release now
 * withholds a round's exact test figures when any agent flagged 1 … k − 1 test rows, or when the pooled count is below
 * the largest minimum cell size of the agents asked; the training loss when the pooled training count is below it.
 * Pure: records built by hand on the job's own layout, as the red team's reproduction did.
 */
import { describe, expect, it } from 'vitest';
import { compileKindJob } from '../../common/kinds/index.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { roundMetrics, trainLayout } from './plan.js';
import { trainRoundLine } from './view.js';

const spec = {
  kind: 'train',
  product: 'heart',
  label: 'y',
  agents: ['site-a'],
  features: [{ column: 'age', type: 'numeric', bounds: [0, 120] }],
  split: { column: 'split', train: 'train', test: 'test' },
  where: [{ column: 'age', op: '=', value: 57 }],
  model: { type: 'logistic' },
  training: { rounds: 1 },
};
const job = compileKindJob(trainKind, spec) as CompiledTrainJob;

/** An eval-round record: `n` test rows (all correct, loss 0.1 each), `trainN` training rows, the agent's small flag. */
function record(round: number, n: number, small: 0 | 1, trainN = 0, trainSmall: 0 | 1 = 0) {
  const layout = trainLayout(job.spec, job.plan, round);
  const off: Record<string, number> = {};
  let at = 0;
  for (const b of layout.blocks) {
    off[b.name] = at;
    at += b.length;
  }
  const released = new Float64Array(at);
  released[off.evalN!] = n;
  released[off.evalLoss!] = 0.1 * n;
  released[off.evalCorrect!] = n;
  released[off.evalSmall!] = small;
  released[off.rocPos! + 3] = n;
  released[off.trainSmall!] = trainSmall;
  if (off.trainN !== undefined) {
    released[off.trainN] = trainN;
    released[off.trainLoss!] = 0.2 * trainN;
  }
  return { round, input: { phase: round < job.spec.training.rounds ? ('train' as const) : ('eval' as const), weights: Array.from({ length: job.plan.parameters }, () => 0) }, answered: ['site-a'], released: Array.from(released), noiseStd: [] };
}

describe('train mode none: pooled test figures of fewer than k rows are withheld (red-team F1)', () => {
  it('one agent, one test person, flagged small: nothing about that person is released', () => {
    const m = roundMetrics(job.spec, job.plan, record(1, 1, 1));
    expect(m.testN).toBeNaN();
    expect(m.testLoss).toBeNaN();
    expect(m.testAccuracy).toBeNaN();
    expect(m.testAuc).toBeNaN();
    const r = trainKind.release(job, [record(0, 1, 1, 50), record(1, 1, 1)], { converged: true, minCellSize: { 'site-a': 10 } });
    expect((r.summary!.final as { testN: number }).testN).toBeNaN();
    expect(r.notes.some((n) => n.startsWith('test metrics withheld in 2 of 2 rounds'))).toBe(true);
    expect((r.rows[0] as { trainLoss: number }).trainLoss).toBeCloseTo(0.2, 12); // 50 training rows ≥ k: released
  });

  it('no agent flagged, but the pooled count is below the largest k of the agents asked: withheld', () => {
    const m = roundMetrics(job.spec, job.plan, record(1, 5, 0), 10);
    expect(m.testN).toBeNaN();
    const t = roundMetrics(job.spec, job.plan, record(0, 20, 0, 3), 10);
    expect(t.trainLoss).toBeNaN(); // 3 training rows < k
    expect(t.testN).toBe(20);
  });

  it('negative control: 12 test rows, no flag, k = 10 — the figures are released exactly', () => {
    const m = roundMetrics(job.spec, job.plan, record(1, 12, 0), 10);
    expect(m.testN).toBe(12);
    expect(m.testLoss).toBeCloseTo(0.1, 12);
    expect(m.testAccuracy).toBe(1);
    const r = trainKind.release(job, [record(0, 12, 0, 50), record(1, 12, 0)], { converged: true, minCellSize: { 'site-a': 10 } });
    expect((r.summary!.final as { testN: number }).testN).toBe(12);
    expect(r.notes.some((n) => n.startsWith('test metrics withheld'))).toBe(false);
  });

  it('an agent flagged 1 … k − 1 training rows: the pooled training loss is withheld though the pool is ≥ k', () => {
    expect(roundMetrics(job.spec, job.plan, record(0, 20, 0, 50, 1), 10).trainLoss).toBeNaN();
    expect(roundMetrics(job.spec, job.plan, record(0, 20, 0, 50, 0), 10).trainLoss).toBeCloseTo(0.2, 12); // control
  });

  it('the per-round progress line withholds what the release withholds (the pooled count against the largest k)', () => {
    const line = (n: number): string | undefined => trainKind.roundSummary!(job, record(1, n, 0), { minCellSize: { 'site-a': 10 } });
    expect(line(5) ?? '').not.toMatch(/test/);
    // Control: the same round at 12 ≥ k shows its test figures, as it did before any k was applied.
    expect(line(12)).toBe(trainRoundLine(roundMetrics(job.spec, job.plan, record(1, 12, 0), 10)));
    expect(line(12)).toMatch(/final model: test loss 0\.1000, accuracy 1\.0000/);
  });
});
