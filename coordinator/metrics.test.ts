import { describe, expect, it } from 'vitest';
import { CoordinatorMetrics } from './metrics.js';

async function values(m: CoordinatorMetrics, name: string): Promise<{ labels: Record<string, string | number>; value: number }[]> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values.map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }));
}

describe('CoordinatorMetrics', () => {
  it('counts one round per distinct (job, round), however many agents get a task in it', async () => {
    const m = new CoordinatorMetrics(() => 3, { processMetrics: false });
    m.jobAdmitted('j1', 'aggregate', 'distributed-dp', { rho: 0, epsilon: 0.7, delta: 0 });
    // A SecAgg job: four rounds, three agents each, and a repeated round number that must not count twice.
    for (const round of [1, 2, 3, 4]) for (let agent = 0; agent < 3; agent++) m.taskDispatched('j1', round, 'aggregate');
    m.taskDispatched('j1', 2, 'aggregate');
    // A task of a job that was never admitted (or already finished) is not a round.
    m.taskDispatched('unknown', 0, 'aggregate');
    m.jobFinished('j1', 'aggregate', 'distributed-dp', 'succeeded', 1.5);
    m.taskDispatched('j1', 5, 'aggregate');
    expect(await values(m, 'fedmesh_rounds_total')).toEqual([{ labels: { kind: 'aggregate' }, value: 4 }]);
    expect(await values(m, 'fedmesh_jobs_running')).toEqual([{ labels: { kind: 'aggregate' }, value: 0 }]);
    expect(await values(m, 'fedmesh_epsilon_spent_total')).toEqual([{ labels: { kind: 'aggregate', privacy_mode: 'distributed-dp' }, value: 0.7 }]);
    expect(await values(m, 'fedmesh_agents_live')).toEqual([{ labels: {}, value: 3 }]);
  });

  it('mode none and unbounded ε add nothing to ε spent; no metric has a researcher label', async () => {
    const m = new CoordinatorMetrics(() => 0, { processMetrics: false });
    m.jobAdmitted('a', 'cohort', 'none', undefined);
    m.jobAdmitted('b', 'cohort', 'central-dp', { rho: 0.1, epsilon: Infinity, delta: 0 });
    expect(await values(m, 'fedmesh_epsilon_spent_total')).toEqual([]);
    const text = await m.registry.metrics();
    expect(text).not.toMatch(/researcher="/);
    expect(text).toMatch(/fedmesh_jobs_total\{kind="cohort",privacy_mode="none",outcome="admitted"\} 1/);
  });

  it('sums round reply bytes per kind and secure sum, apart from each other', async () => {
    const m = new CoordinatorMetrics(() => 0, { processMetrics: false });
    m.roundReplyReceived('train', 'plain', 1200);
    m.roundReplyReceived('train', 'plain', 800);
    m.roundReplyReceived('train', 'secagg', 50);
    expect(await m.roundReplyTotals('train', 'plain')).toEqual({ bytes: 2000, replies: 2 });
    expect(await m.roundReplyTotals('train', 'secagg')).toEqual({ bytes: 50, replies: 1 });
    expect(await m.roundReplyTotals('glm', 'plain')).toEqual({ bytes: 0, replies: 0 });
  });
});
