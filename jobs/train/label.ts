/**
 * Declared label levels at the agent: label-sql.ts maps each row's label to its class index 0..K−1 in SQL (−1 for a
 * value not among the levels); this keeps the rows of a class and leaves the others out, counting them. The count
 * leaves the agent only when the left-out rows are of at least the domain's minimum cell size of persons
 * (`labelExcludedReport`), otherwise as 0 — never the rows or their values. DP training sends no count at all.
 *
 * Disclosure rule `train.labelLevels`: a class this agent has rows of must have at least the minimum cell size of
 * **persons** (distinct privacy units, from the pseudonymous person index label-sql.ts adds; a product without a
 * privacy unit counts rows, as each row is then its own unit). A class it has no rows of is fine (sites differ in
 * their case mix). Counting rows would let one person with many rows pass the rule alone.
 */
import { FedmeshError } from '../../common/errors.js';
import { classIndex, type LabelLevel, type LossName } from './loss.js';

interface Rows {
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly n: number;
  /** The person index of each row (label-sql.ts), when the product has a privacy unit. Never sent; dropped here. */
  readonly person?: Float64Array;
}
/** data.ts's TrainAgentData, structurally (data.ts imports this file). */
interface AgentRows {
  readonly inputs: number;
  readonly train: Rows;
  readonly test: Rows;
  readonly labelExcluded?: number;
  /** Distinct persons among the left-out rows (rows without a person index). Stays at the agent. */
  readonly labelExcludedPersons?: number;
}

/** The GLM family the design reader reads the label with: binomial for a plain 0/1 label, else gaussian (a number). */
export function labelFamily(spec: { readonly loss: LossName; readonly labelLevels?: readonly LabelLevel[] }): 'binomial' | 'gaussian' {
  return spec.loss === 'binary-crossentropy' && spec.labelLevels === undefined ? 'binomial' : 'gaussian';
}

function mapRows(rows: Rows, inputs: number, levels: readonly LabelLevel[], keys: Float64Array[], at: number[]): { rows: Rows; excluded: number } {
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
    // Class k's persons (the last list: the left-out rows'); without a person index each row is its own person.
    const list = k < 0 ? keys.length - 1 : k;
    keys[list]![at[list]!++] = rows.person ? rows.person[i]! : -(at[list]! + 1);
    if (k < 0) continue;
    x.set(rows.x.subarray(i * inputs, (i + 1) * inputs), r * inputs);
    y[r++] = k;
  }
  return { rows: { x, y, n: kept }, excluded: rows.n - kept };
}

/** Distinct values among the first `n` entries (sorted in place). */
function distinct(v: Float64Array, n: number): number {
  const s = v.subarray(0, n).sort();
  let d = 0;
  for (let i = 0; i < n; i++) if (i === 0 || s[i] !== s[i - 1]) d++;
  return d;
}

/**
 * The agent's rows with labels as class indices (unlisted labels left out, counted in `labelExcluded`, their persons
 * in `labelExcludedPersons`); unchanged when the spec declares no levels. `levels` are the values `y` holds for each
 * class (label-sql.ts: the indices 0..K−1).
 * @throws FedmeshError POLICY_DENIED (rule train.labelLevels) when a class has rows but fewer than minCellSize persons
 */
export function mapLabels<D extends AgentRows>(spec: { readonly labelLevels?: readonly LabelLevel[] }, data: D, minCellSize: number): D {
  const levels = spec.labelLevels;
  if (levels === undefined) return data;
  const total = data.train.n + data.test.n;
  // Per class (and one more list for the left-out rows): the person index of each of its rows.
  const keys = Array.from({ length: levels.length + 1 }, () => new Float64Array(total));
  const at = keys.map(() => 0);
  const train = mapRows(data.train, data.inputs, levels, keys, at);
  // Test rows' fallback keys continue after the train rows' so that rows without a person stay distinct.
  const test = mapRows(data.test, data.inputs, levels, keys, at);
  const persons = keys.map((k, i) => distinct(k, at[i]!));
  if (persons.slice(0, levels.length).some((c) => c > 0 && c < minCellSize)) {
    throw new FedmeshError('POLICY_DENIED', `disclosure rule train.labelLevels: a label level has rows at this agent but fewer than the minimum cell size (${minCellSize}) of persons`, { field: 'label', details: { rule: 'train.labelLevels' } });
  }
  return { ...data, train: train.rows, test: test.rows, labelExcluded: train.excluded + test.excluded, labelExcludedPersons: persons[levels.length]! };
}

/** What an agent reports of its excluded-label rows: the row count when they are of ≥ its minimum cell size of persons, else 0 (withheld). */
export function labelExcludedReport(data: Pick<AgentRows, 'labelExcluded' | 'labelExcludedPersons'>, minCellSize: number): number {
  const n = data.labelExcluded ?? 0;
  const persons = data.labelExcludedPersons ?? n;
  return persons >= Math.max(1, minCellSize) ? n : 0;
}
