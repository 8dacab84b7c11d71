/**
 * Declared label levels mapped to class indices in the database (a public list of numbers or of strings, e.g.
 * `["none", "mild", "severe"]`): a task-private TEMP table holds the columns the job reads plus
 *
 * - `fedmesh_label_class`: the level's index 0..K−1 in the declared order, −1 for a value not among the levels (left
 *   out and counted at the agent, label.ts), NULL for a missing label (dropped as missing, as before);
 * - `fedmesh_person` (when the product declares a privacy unit): a dense integer per distinct unit (0 for a row
 *   without one, which the design reader then drops as a missing value), so that the per-level disclosure rule counts
 *   persons, not rows (label.ts). It is a pseudonymous index used at the agent only and never leaves it.
 *
 * The design reader then reads the class as its numeric outcome and the person index as one more numeric column
 * (data.ts), so no label value or unit ever reaches JavaScript, and no per-row JS object is made. Levels are bound
 * parameters; a numeric level list needs a numeric label column and a string list a text column (else INVALID_JOB on
 * the levels' field, naming the column's type, which is schema and public).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { isNumericType } from '../../algorithms/aggregate/index.js';
import { FedmeshError, invalidJob } from '../../common/errors.js';
import { findColumn, type SchemaProduct } from '../../common/job/index.js';
import { asSession } from '../../node-agent/cohort/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { doubleOf } from '../glm/design.js';
import { paramBinder, tempTableStatements } from '../../node-agent/sql/index.js';
import { stageWhere, type StageScope } from './reader-split.js';
import type { LabelLevel } from './loss.js';

export const LABEL_CLASS_COLUMN = 'fedmesh_label_class';
export const PERSON_COLUMN = 'fedmesh_person';
/** A public upper bound of the person index (the design reader clamps numeric columns to declared bounds). */
export const MAX_PERSON_INDEX = 2 ** 52;

const TEXT = /^(VARCHAR|TEXT|STRING|CHAR|BPCHAR|ENUM)/i;

/**
 * Creates TEMP table `table` (see the file comment) and returns the product the design reader should read instead.
 * The caller drops the table.
 * @throws FedmeshError INVALID_JOB naming `label` / `label.levels` for a missing column, a type that does not fit the levels, or a clash with the added columns
 */
export async function stageLabelClasses(db: DuckDBConnection | SqlSession, product: SchemaProduct, label: string, levels: readonly LabelLevel[], columns: ReadonlySet<string>, table: string, scope?: StageScope): Promise<{ product: SchemaProduct; persons: boolean }> {
  const col = findColumn(product, label, 'label');
  const strings = typeof levels[0] === 'string';
  if (strings ? !TEXT.test(col.type) : !isNumericType(col.type)) {
    throw invalidJob('label.levels', `are ${strings ? 'strings' : 'numbers'} but column ${label} of product ${product.name} is ${col.type}: declare the levels as ${strings ? 'numbers' : 'strings'}`);
  }
  for (const c of [LABEL_CLASS_COLUMN, PERSON_COLUMN]) if (product.columns.some((x) => x.name === c)) throw invalidJob('label', `product ${product.name} has a column named ${c}, which declared label levels add; rename it`);
  const unit = product.privacyUnit;
  const kept = product.columns.filter((c) => columns.has(c.name) || c.name === unit);
  const session = asSession(db);
  const d = session.dialect;
  // Text levels compare by their bytes on every engine (as filters do), numbers as doubles.
  const l = strings ? d.binaryOrder(d.cast(d.quoteIdent(label), 'VARCHAR')) : doubleOf(d, product, label);
  const cast = strings ? 'VARCHAR' : 'DOUBLE';
  const cls = `CASE WHEN ${l} IS NULL THEN NULL ${levels.map((_, i) => `WHEN ${l} = ${d.cast(d.placeholder(i + 1), cast)} THEN ${i}`).join(' ')} ELSE -1 END`;
  const select = [...kept.map((c) => d.quoteIdent(c.name)), `${cls} AS ${d.quoteIdent(LABEL_CLASS_COLUMN)}`];
  if (unit) select.push(`CASE WHEN ${d.quoteIdent(unit)} IS NULL THEN 0 ELSE dense_rank() OVER (ORDER BY ${d.quoteIdent(unit)}) END AS ${d.quoteIdent(PERSON_COLUMN)}`);
  const params: (string | number | boolean)[] = [...levels];
  const query = `SELECT ${select.join(', ')} FROM ${d.quoteIdent(product.name)}${stageWhere(d, product, scope, paramBinder(d, params))}`;
  try {
    for (const st of tempTableStatements(d, table, query, params)) await session.run(st.sql, st.params);
  } catch (e) {
    // Engine messages can quote data values; they stay in `cause`, for the agent's own logs only.
    throw new FedmeshError('INTERNAL', 'train label mapping query failed', { cause: e });
  }
  const added = [{ name: LABEL_CLASS_COLUMN, type: 'INTEGER' }, ...(unit ? [{ name: PERSON_COLUMN, type: 'BIGINT' }] : [])];
  return { product: { name: table, columns: [...kept, ...added], privacyUnit: unit }, persons: unit !== undefined && unit !== '' };
}
