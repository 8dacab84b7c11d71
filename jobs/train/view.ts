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
