import { FedmeshError } from '../../common/errors.js';
import type { AgentKindDef, KindDef, StatLayout } from '../../common/kinds/index.js';

/**
 * A test-only kind: the mean of bounded values by Newton steps (round input μ; each agent returns Σ(x − μ) and n;
 * the next μ is μ + Σ(x − μ)/n). Exact in two rounds, so tests see more than one round and a convergence stop.
 */
export interface ToySpec {
  kind: 'toy-mean';
  product: string;
  privacy: { mode: 'none' } | { mode: 'central-dp'; epsilon: number; delta: number };
  maxRounds: number;
  dropout?: 'fail' | 'continue';
  minAgents?: number;
  /** The spec field named for minAgents in refusals (the seam's default: quorum). */
  minAgentsField?: string;
}

const LAYOUT: StatLayout = {
  blocks: [
    { name: 'residual', length: 1, perAgent: { lo: -1e6, hi: 1e6 }, sensitivity: { l1: 20, l2Sq: 400 }, release: 'additive' },
    { name: 'n', length: 1, perAgent: { lo: 0, hi: 1e5 }, sensitivity: { l1: 1, l2Sq: 1 }, release: 'additive' },
  ],
};

export const toyKind: KindDef<ToySpec, { bound: number }, { mu: number }> = {
  kind: 'toy-mean',
  parse(raw) {
    const s = raw as ToySpec;
    if (!s || s.kind !== 'toy-mean' || typeof s.product !== 'string') throw new FedmeshError('INVALID_JOB', 'kind: expected toy-mean', { field: 'kind' });
    return s;
  },
  compile: (spec) => ({
    kind: 'toy-mean',
    product: spec.product,
    privacy: spec.privacy,
    secure: 'plain',
    maxRounds: spec.maxRounds,
    roundTimeoutMs: 5000,
    dropout: spec.dropout ?? 'fail',
    minAgents: spec.minAgents ?? 1,
    ...(spec.minAgentsField ? { minAgentsField: spec.minAgentsField } : {}),
    spec,
    plan: { bound: 10 },
  }),
  layout: () => LAYOUT,
  nextRound(_job, history) {
    const last = history[history.length - 1];
    if (!last) return { mu: 0 };
    const [r, n] = last.released as [number, number];
    if (Math.abs(r) <= 1e-9 * Math.max(1, n)) return undefined;
    return { mu: last.input.mu + r / n };
  },
  release: (_job, history, info) => ({ columns: ['mean'], rows: [{ mean: history[history.length - 1]!.input.mu }], summary: { rounds: history.length, converged: info.converged }, notes: [], privacy: {} }),
  view: (r) => JSON.stringify(r.rows),
};

/** The agent side over an in-memory array per agent. */
export function toyAgent(data: Map<string, number[]>, agent: string): AgentKindDef<ToySpec, { bound: number }, { mu: number }> {
  return {
    kind: 'toy-mean',
    async localStep(_ctx, _job, input) {
      const xs = data.get(agent) ?? [];
      let r = 0;
      for (const x of xs) r += x - input.mu;
      return { values: Float64Array.from([r, xs.length]) };
    },
  };
}
