/**
 * Declared label levels at the agent (mode none only; DP training takes a plain 0/1 label): the design reader reads
 * the label as a number (the GLM gaussian outcome: finite, not clamped), and this maps each row's value to its class
 * index 0..K−1 among the public levels. A row whose label is not among the levels is left out of training and
 * evaluation and counted; the count leaves the agent only when it is at least the domain's minimum cell size
 * (`labelExcludedReport`), otherwise as 0 — never the rows or their values.
 *
 * Disclosure rule `train.labelLevels`: a class this agent has rows of must have at least the minimum cell size of
 * them (the binary GLM's outcome-level rule, over rows: the design reader does not hand out the privacy unit per
 * row, and rows ≥ persons only when each person has one row — so the rule is as strong as the GLM's for one row
 * per person and weaker otherwise). A class it has no rows of is fine (sites differ in their case mix).
 */
import { FedmeshError } from '../../common/errors.js';
import { classIndex, type LossName } from './loss.js';

interface Rows {
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly n: number;
}
/** data.ts's TrainAgentData, structurally (data.ts imports this file). */
interface AgentRows {
  readonly inputs: number;
  readonly train: Rows;
  readonly test: Rows;
  readonly labelExcluded?: number;
}

/** The GLM family the design reader reads the label with: binomial for a plain 0/1 label, else gaussian (a number). */
export function labelFamily(spec: { readonly loss: LossName; readonly labelLevels?: readonly number[] }): 'binomial' | 'gaussian' {
  return spec.loss === 'binary-crossentropy' && spec.labelLevels === undefined ? 'binomial' : 'gaussian';
}

function mapRows(rows: Rows, inputs: number, levels: readonly number[], perClass: number[]): { rows: Rows; excluded: number } {
  const idx = new Int32Array(rows.n);
  let kept = 0;
  for (let i = 0; i < rows.n; i++) {
    idx[i] = classIndex(levels, rows.y[i]!);
    if (idx[i]! >= 0) kept++;
  }
  const x = new Float32Array(kept * inputs);
  const y = new Float32Array(kept);
  let r = 0;
  for (let i = 0; i < rows.n; i++) {
    const k = idx[i]!;
    if (k < 0) continue;
    x.set(rows.x.subarray(i * inputs, (i + 1) * inputs), r * inputs);
    y[r++] = k;
    perClass[k]!++;
  }
  return { rows: { x, y, n: kept }, excluded: rows.n - kept };
}

/**
 * The agent's rows with labels as class indices (unlisted labels left out, counted in `labelExcluded`); unchanged
 * when the spec declares no levels.
 * @throws FedmeshError POLICY_DENIED (rule train.labelLevels) when a class has rows but fewer than minCellSize
 */
export function mapLabels<D extends AgentRows>(spec: { readonly labelLevels?: readonly number[] }, data: D, minCellSize: number): D {
  const levels = spec.labelLevels;
  if (levels === undefined) return data;
  const perClass = levels.map(() => 0);
  const train = mapRows(data.train, data.inputs, levels, perClass);
  const test = mapRows(data.test, data.inputs, levels, perClass);
  if (perClass.some((c) => c > 0 && c < minCellSize)) {
    throw new FedmeshError('POLICY_DENIED', `disclosure rule train.labelLevels: a label level has rows at this agent but fewer than the minimum cell size (${minCellSize})`, { field: 'label', details: { rule: 'train.labelLevels' } });
  }
  return { ...data, train: train.rows, test: test.rows, labelExcluded: train.excluded + test.excluded };
}

/** What an agent reports of its excluded-label rows: the count when ≥ its minimum cell size, else 0 (withheld). */
export function labelExcludedReport(data: AgentRows, minCellSize: number): number {
  const n = data.labelExcluded ?? 0;
  return n >= Math.max(1, minCellSize) ? n : 0;
}
