import type { AgentKindDef, KindDef, StatLayout } from '../../common/kinds/index.js';

/**
 * A test-only one-round kind with a `release: 'selection'` block: three public cells of person counts and their
 * total (additive). The agent side returns the counts it is given.
 */
export interface CellSpec {
  kind: 'cells';
  product: string;
  privacy: { mode: 'none' } | { mode: 'central-dp'; epsilon: number; delta: number };
  secure?: 'plain' | 'secagg';
}

export const CELLS_LAYOUT: StatLayout = {
  blocks: [
    { name: 'cells', length: 3, perAgent: { lo: 0, hi: 1e6 }, sensitivity: { l1: 1, l2Sq: 1 }, release: 'selection' },
    { name: 'total', length: 1, perAgent: { lo: 0, hi: 1e6 }, sensitivity: { l1: 1, l2Sq: 1 }, release: 'additive' },
  ],
};

export const cellKind: KindDef<CellSpec, Record<string, never>, Record<string, never>> = {
  kind: 'cells',
  parse: (raw) => raw as CellSpec,
  compile: (spec) => ({ kind: 'cells', product: spec.product, privacy: spec.privacy, secure: spec.secure ?? 'plain', maxRounds: 1, roundTimeoutMs: 5000, dropout: 'fail', minAgents: 1, spec, plan: {} }),
  layout: () => CELLS_LAYOUT,
  nextRound: (_job, history) => (history.length === 0 ? {} : undefined),
  release: () => ({ columns: [], rows: [], summary: {}, notes: [], privacy: {} }),
  view: () => '',
};

export function cellAgent(cells: readonly number[]): AgentKindDef<CellSpec, Record<string, never>, Record<string, never>> {
  return { kind: 'cells', localStep: async () => ({ values: Float64Array.from([...cells, cells.reduce((s, x) => s + x, 0)]) }) };
}
