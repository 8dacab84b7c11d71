import type { KindResultView } from '../../common/kinds/index.js';

const f = (v: unknown, d = 4): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '—');

/** The CLI's table of a released train job: one line per round, then the final metrics. */
export function trainView(r: KindResultView): string {
  const s = (r.summary ?? {}) as { strategy?: string; model?: { type?: string; parameters?: number }; final?: Record<string, number> };
  const lines = [`federated training: ${s.strategy ?? '?'} on a ${s.model?.type ?? '?'} model (${s.model?.parameters ?? '?'} parameters)`, '', 'round  agents  train loss  test loss  test acc  test AUC'];
  for (const row of r.rows) {
    lines.push(`${String(row.round).padStart(5)}  ${String(row.agents).padStart(6)}  ${f(row.trainLoss).padStart(10)}  ${f(row.testLoss).padStart(9)}  ${f(row.testAccuracy).padStart(8)}  ${f(row.testAuc).padStart(8)}`);
  }
  if (s.final) lines.push('', `final model on all agents' test rows: loss ${f(s.final.testLoss)}, accuracy ${f(s.final.testAccuracy)}, AUC ${f(s.final.testAuc)} (n = ${s.final.testN})`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}

/**
 * A round's line for the progress events: the local training loss of this round and the test metrics of the model
 * the round started from (the eval round: the final model). NaN figures (not released, e.g. in DP training) are
 * left out.
 */
export function trainRoundLine(m: { phase: 'train' | 'eval'; trainLoss: number; testLoss: number; testAccuracy: number; testAuc: number }): string {
  const part = (name: string, v: number): string[] => (Number.isFinite(v) ? [`${name} ${v.toFixed(4)}`] : []);
  const test = [...part('loss', m.testLoss), ...part('accuracy', m.testAccuracy), ...part('AUC', m.testAuc)];
  const head = m.phase === 'eval' ? 'final model' : 'model entering the round';
  return [...part('train loss', m.trainLoss), ...(test.length ? [`${head}: test ${test.join(', ')}`] : [])].join('; ');
}
