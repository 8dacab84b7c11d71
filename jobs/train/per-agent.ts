/**
 * Per-agent evaluation metrics of a train job (issue 10). In mode none with plain sums the coordinator holds every
 * agent's round vector anyway, so the round runner keeps each agent's evaluation blocks (`RoundRecord.perAgent`)
 * and the release reports each agent's test loss / accuracy / AUC per round beside the example-weighted pooled
 * figures. Under SecAgg/HE the coordinator never sees an agent's vector, and in the DP modes per-agent figures
 * would bypass the noise: none are released then. An agent whose test rows are below its own minimum cell size
 * (1 … k − 1 rows) flags `evalSmall`: its per-agent metrics are withheld, and so are that round's pooled test figures
 * (a job with and without it would difference them; `exactTestWithheld` in plan.ts).
 */
import type { RoundRecord, StatLayout } from '../../common/kinds/index.js';
import { splitBlocks, trainLayout, type TrainPlan, type TrainRoundInput } from './plan.js';
import type { TrainJobSpec } from './spec.js';
import { aucOfHistograms, hasAccuracy, rocCurves } from './loss.js';

/** The evaluation blocks kept per agent, in layout order. */
export const PER_AGENT_BLOCKS = ['evalN', 'evalLoss', 'evalCorrect', 'rocPos', 'rocNeg', 'evalSmall'] as const;

export interface AgentRoundMetrics {
  readonly round: number;
  readonly testN: number;
  readonly testLoss: number;
  readonly testAccuracy: number;
  readonly testAuc: number;
}

/** The layout of just the per-agent blocks (what `RoundRecord.perAgent` holds for each agent). */
function perAgentLayout(spec: TrainJobSpec, plan: TrainPlan): StatLayout {
  return { blocks: trainLayout(spec, plan).blocks.filter((b) => (PER_AGENT_BLOCKS as readonly string[]).includes(b.name)) };
}

/**
 * `perAgent: { [agent]: [{round, testN, testLoss, testAccuracy, testAuc}] }` from the rounds that kept per-agent
 * blocks, plus the agents that withheld theirs; undefined when no round kept any (secure sums, DP).
 */
export function perAgentMetrics(spec: TrainJobSpec, plan: TrainPlan, history: readonly RoundRecord<TrainRoundInput>[]): { perAgent: Record<string, AgentRoundMetrics[]>; withheld: string[] } | undefined {
  const layout = perAgentLayout(spec, plan);
  const perAgent: Record<string, AgentRoundMetrics[]> = {};
  const withheld = new Set<string>();
  let any = false;
  for (const rec of history) {
    if (!rec.perAgent) continue;
    any = true;
    for (const [agent, values] of Object.entries(rec.perAgent)) {
      const b = splitBlocks(layout, values);
      if (b.evalSmall![0]! > 0) {
        withheld.add(agent);
        continue;
      }
      const n = b.evalN![0]!;
      (perAgent[agent] ??= []).push({
        round: rec.round,
        testN: n,
        testLoss: n > 0 ? b.evalLoss![0]! / n : Number.NaN,
        testAccuracy: hasAccuracy(spec.loss) && n > 0 ? b.evalCorrect![0]! / n : Number.NaN,
        testAuc: aucOfHistograms(spec.loss, b.rocPos!, b.rocNeg!, rocCurves(spec)),
      });
    }
  }
  for (const a of withheld) delete perAgent[a];
  return any ? { perAgent, withheld: [...withheld].sort() } : undefined;
}

/** The result note saying which per-agent metrics there are and why. */
export function perAgentNote(spec: TrainJobSpec, found: ReturnType<typeof perAgentMetrics>): string {
  if (spec.privacy.mode !== 'none') return `per-agent metrics are not released in ${spec.privacy.mode} (they would bypass the noise)`;
  if ((spec.secure ?? 'plain') !== 'plain') return `per-agent metrics are not available under ${spec.secure}: the coordinator sees only the sum`;
  if (!found) return 'per-agent metrics are not available (no round kept them)';
  const w = found.withheld.length > 0 ? `; withheld by ${found.withheld.join(', ')} (test rows below their minimum cell size)` : '';
  return `summary.perAgent: each agent's test metrics per round (mode none, plain sums: the coordinator sees each agent's vector); the rows are their example-weighted pool${w}`;
}
