/**
 * The agent's train and test rows of a train job, DuckDB → typed arrays → (later) tensors, without per-row JS
 * objects. The read is the GLM kind's design reader (jobs/glm/design.ts), so `where`, cohorts, schema checks,
 * missing values, unlisted levels, the privacy-unit rules and the disclosure rules (minimum cell size per label
 * value, per categorical level, per split side) are the same as for a regression: the split column is read as one
 * more categorical covariate and taken out again here.
 *
 * Inputs: numeric features clamped to their declared bounds and scaled to [0, 1] by them (public, so the same at
 * every agent); categorical features one-hot over their public levels (the GLM design drops the first level's
 * dummy: it is 1 − the sum of the others, since rows with unlisted levels are dropped).
 *
 * A hash split (`split.hash`) is computed in SQL from each row's privacy unit (reader-split.ts) into a TEMP table
 * with a side column, which the design reader then reads as it reads a split column. Declared label levels (numbers
 * or strings) are mapped to class indices in SQL too (label-sql.ts), with a pseudonymous person index per row for
 * the per-level rule (label.ts); the design reader reads both as numeric columns.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { SchemaProduct } from '../../common/job/index.js';
import { FedmeshError } from '../../common/errors.js';
import { withGlmRows, type GlmReadOptions, type GlmRows } from '../glm/design.js';
import { parseGlmSpec } from '../glm/spec.js';
import type { TrainJobSpec } from './spec.js';
import { labelFamily, mapLabels } from './label.js';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import { asSession, runCohort } from '../../node-agent/cohort/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { isHashSplit } from './hash-split.js';
import { HASH_SPLIT_COLUMN, HASH_SPLIT_TEST, HASH_SPLIT_TRAIN, stageHashSplit } from './reader-split.js';
import { LABEL_CLASS_COLUMN, MAX_PERSON_INDEX, PERSON_COLUMN, stageLabelClasses } from './label-sql.js';

export interface TrainAgentData {
  readonly inputs: number;
  readonly train: { readonly x: Float32Array; readonly y: Float32Array; readonly n: number };
  readonly test: { readonly x: Float32Array; readonly y: Float32Array; readonly n: number };
  /** Rows selected but unusable (missing, unlisted level, non-binary label for a binary loss). Never sent. */
  readonly nDropped: number;
  /** Declared label levels: rows left out because their label is not among them (label.ts; sent only if ≥ min cell size). */
  readonly labelExcluded?: number;
  /** Distinct persons among those rows (the report's threshold). Never sent. */
  readonly labelExcludedPersons?: number;
  /**
   * Distinct persons (privacy units) among the used training and test rows (rows when the product has no unit):
   * the minimum cell size is a count of persons, so an agent's small-side flags compare these, not row counts. Never sent.
   */
  readonly trainPersons?: number;
  readonly testPersons?: number;
}

/**
 * The GLM spec whose design carries this job's rows (features, label, split as a categorical covariate). With
 * declared levels the outcome is label-sql.ts's class column (−1 … K−1, within its bounds, so nothing is clamped) and
 * `persons` adds its person index as a numeric column before the split.
 */
export function designSpecOf(spec: TrainJobSpec, persons = false): ReturnType<typeof parseGlmSpec> {
  const split = isHashSplit(spec.split) ? { column: HASH_SPLIT_COLUMN, train: HASH_SPLIT_TRAIN, test: HASH_SPLIT_TEST } : spec.split;
  const levels = spec.labelLevels;
  return parseGlmSpec({
    kind: 'glm',
    product: spec.product,
    family: labelFamily(spec),
    outcome: levels ? LABEL_CLASS_COLUMN : spec.label,
    // DP regression: the label clamped to its public bounds (a bounded loss; the released test loss assumes them).
    ...(levels ? { outcomeBounds: [-1, levels.length - 1] } : spec.labelBounds && spec.privacy.mode !== 'none' ? { outcomeBounds: spec.labelBounds } : {}),
    covariates: [
      ...spec.features.map((f) => (f.type === 'numeric' ? { column: f.column, type: 'numeric', bounds: f.bounds } : { column: f.column, type: 'categorical', levels: f.levels, reference: f.levels[0] })),
      ...(levels && persons ? [{ column: PERSON_COLUMN, type: 'numeric', bounds: [0, MAX_PERSON_INDEX] }] : []),
      { column: split.column, type: 'categorical', levels: [split.train, split.test], reference: split.train },
    ],
    where: spec.where,
    ...(spec.cohort !== undefined ? { cohort: spec.cohort } : {}),
    // DP training: the reader keeps rows with a privacy unit, at most maxRowsPerPerson per person (the k of the sensitivity).
    privacy: spec.privacy.mode === 'none' ? { mode: 'none' } : { mode: spec.privacy.mode, maxRowsPerPerson: spec.privacy.maxRowsPerPerson ?? 1 },
  });
}

/**
 * Turns a GLM design (intercept, numeric, dummies, [person index,] split dummy last) into scaled, one-hot train and
 * test inputs (and each row's person index when `persons`, for label.ts).
 */
export function inputsFromDesign(spec: TrainJobSpec, design: { n: number; p: number; x: Float64Array; y: Float64Array }, persons = false): Pick<TrainAgentData, 'inputs' | 'train' | 'test'> {
  const { n, p, x } = design;
  let nTest = 0;
  for (let i = 0; i < n; i++) if (x[i * p + p - 1]! === 1) nTest++;
  const w = inputsWriter(spec, n - nTest, nTest, persons);
  w.add(design);
  return w.finish();
}

/**
 * inputsFromDesign over a design that arrives in chunks (a cursor, withGlmRows), into train and test arrays of the
 * sizes counted beforehand: only the float32 inputs are held whole, never the design's float64 rows.
 */
export function inputsWriter(spec: TrainJobSpec, nTrain: number, nTest: number, persons: boolean): { add(d: { n: number; p: number; x: Float64Array; y: Float64Array }): void; finish(): Pick<TrainAgentData, 'inputs' | 'train' | 'test'> } {
  const inputs = spec.features.reduce((a, f) => a + (f.type === 'numeric' ? 1 : f.levels.length), 0);
  const mk = (rows: number) => ({ x: new Float32Array(rows * inputs), y: new Float32Array(rows), n: rows, ...(persons ? { person: new Float64Array(rows) } : {}) });
  const train = mk(nTrain);
  const test = mk(nTest);
  let iTrain = 0;
  let iTest = 0;
  return {
    add({ n, p, x, y }) {
      for (let i = 0; i < n; i++) {
        const isTest = x[i * p + p - 1]! === 1;
        const dst = isTest ? test : train;
        if ((isTest ? iTest : iTrain) >= dst.n) throw new FedmeshError('INTERNAL', 'train rows: more rows on a split side than counted');
        const r = isTest ? iTest++ : iTrain++;
        let src = i * p + 1; // skip the intercept
        let out = r * inputs;
        for (const f of spec.features) {
          if (f.type === 'numeric') {
            dst.x[out++] = (x[src++]! - f.bounds[0]) / (f.bounds[1] - f.bounds[0]);
          } else {
            let others = 0;
            const first = out++;
            for (let l = 1; l < f.levels.length; l++) {
              const d = x[src++]!;
              dst.x[out++] = d;
              others += d;
            }
            dst.x[first] = 1 - others;
          }
        }
        dst.y[r] = y[i]!;
        if (dst.person) dst.person[r] = x[i * p + p - 2]!;
      }
    },
    finish() {
      if (iTrain !== train.n || iTest !== test.n) throw new FedmeshError('INTERNAL', 'train rows: fewer rows on a split side than counted');
      return { inputs, train, test };
    },
  };
}

/** Design rows per chunk while reading train rows (the float64 design is never held whole). */
const TRAIN_READ_CHUNK_ROWS = 16_384;

/**
 * The SQL condition of a used row over the design reader's rows table: with declared label levels, rows whose label
 * is not among them (class −1) are left out after the read (label.ts), so persons are counted and guarded without them.
 */
export function usedRowSql(spec: TrainJobSpec): string {
  return spec.labelLevels !== undefined ? 'y >= 0' : '1 = 1';
}

/** The split side of a row of the rows table (the last design term is the test dummy). */
export const sideSql = (lastTerm: string): string => `CASE WHEN ${lastTerm} = 1 THEN 'test' ELSE 'train' END`;

/**
 * What withTrainRows gives its consumer: the design rows of the job (features, [class index outcome,] [person index,]
 * split dummy last) ready to be read, with counts made on the server before any row reached JavaScript.
 */
export interface TrainRowsAccess {
  readonly rows: GlmRows;
  /** Rows per split side (with declared levels: unlisted labels included, class −1). */
  readonly sides: { readonly train: number; readonly test: number };
  /** The design carries the person index (declared levels on a product with a privacy unit), at x{p−2}. */
  readonly persons: boolean;
  /** Distinct persons per side among the used rows (a product with a privacy unit). Never sent. */
  readonly sidePersons?: { readonly train: number; readonly test: number };
  /** The session the rows table lives in (counts over it). */
  readonly session: SqlSession;
  /** The read's scratch name (its TEMP tables are `<scratch>_…`): further copies of the rows take it too. */
  readonly scratch: string;
}

/** Reads this agent's rows of the job into typed arrays (see the file comment). @throws as readGlmDesign, stageHashSplit and stageLabelClasses */
export async function readTrainData(db: DuckDBConnection | SqlSession, spec: TrainJobSpec, product: SchemaProduct, opts: Pick<GlmReadOptions, 'salt' | 'minCellSize' | 'scratch' | 'onRows' | 'cohortMembers' | 'skipDisclosure'>, signal?: AbortSignal): Promise<TrainAgentData> {
  return withTrainRows(db, spec, product, opts, signal, async ({ rows, sides, persons, sidePersons }) => {
    const w = inputsWriter(spec, sides.train, sides.test, persons);
    for await (const chunk of rows.chunks(TRAIN_READ_CHUNK_ROWS)) w.add(chunk);
    const read: TrainAgentData = { ...w.finish(), nDropped: rows.nDropped, ...(sidePersons ? { trainPersons: sidePersons.train, testPersons: sidePersons.test } : {}) };
    // The class column holds the level's index: the levels of y are 0..K−1.
    return spec.labelLevels === undefined ? read : stripPersons(mapLabels({ labelLevels: spec.labelLevels.map((_, k) => k) }, read, opts.minCellSize));
  });
}

/**
 * Stages this agent's rows of the job (hash split, label classes, cohort: TEMP tables of `db`), prepares the design
 * reader's rows table with its disclosure rules and `opts.onRows`, counts rows and persons per side there, and gives
 * `consume` access to the rows; every TEMP table is dropped when `consume` ends.
 * @throws as readGlmDesign, stageHashSplit and stageLabelClasses; what `consume` throws
 */
export async function withTrainRows<T>(db: DuckDBConnection | SqlSession, spec: TrainJobSpec, product: SchemaProduct, opts: Pick<GlmReadOptions, 'salt' | 'minCellSize' | 'scratch' | 'onRows' | 'cohortMembers' | 'skipDisclosure'>, signal: AbortSignal | undefined, consume: (access: TrainRowsAccess) => Promise<T>): Promise<T> {
  const columns = new Set([spec.label, ...spec.features.map((f) => f.column), ...spec.where.map((f) => f.column)]);
  const staged: string[] = [];
  try {
    let source = product;
    // A stage copies only the job's rows (its where and cohort): on a site's server the copy is a TEMP table there.
    // The cohort is then built first, once, and the design reader reads its members instead of building it again.
    let members = opts.cohortMembers;
    if ((isHashSplit(spec.split) || spec.labelLevels !== undefined) && spec.cohort !== undefined && members === undefined && product.privacyUnit) {
      members = `${opts.scratch}_cohort`;
      staged.push(members);
      await runCohort(db, parseCohortDefinition(spec.cohort, 'cohort'), { targetTable: members });
    }
    const scope = { where: spec.where, ...(spec.cohort !== undefined && members !== undefined ? { memberOf: members } : {}) };
    if (isHashSplit(spec.split)) {
      staged.push(`${opts.scratch}_split`);
      source = await stageHashSplit(db, source, spec.split.hash, columns, staged.at(-1)!, scope);
      columns.add(HASH_SPLIT_COLUMN);
    } else {
      columns.add(spec.split.column);
    }
    let persons = false;
    if (spec.labelLevels !== undefined) {
      staged.push(`${opts.scratch}_label`);
      ({ product: source, persons } = await stageLabelClasses(db, source, spec.label, spec.labelLevels, columns, staged.at(-1)!, scope));
    }
    // Rows per split side, counted on the reader's rows table before any row reaches JavaScript: the arrays are sized
    // from them. The job's public update.maxExamples is checked by the rounds, after the differencing guard and the
    // label-level rule: refused here, before them, its answer to a bisected bound was an exact count of rows the guard
    // never saw (red team 19, F3). Then the persons per side of the used rows, and the caller's hook (the
    // differencing guard, mode none).
    let sides: { train: number; test: number } | undefined;
    let sidePersons: { train: number; test: number } | undefined;
    const onRows: NonNullable<GlmReadOptions['onRows']> = async (c, rows) => {
      const s = asSession(c);
      const d = s.dialect;
      const side = sideSql(d.quoteIdent(rows.lastTerm));
      const table = d.tempTable(rows.table);
      const r = await s.all(`SELECT ${side} AS side, ${d.cast('count(*)', 'BIGINT')} AS n FROM ${table} GROUP BY ${side}`);
      const of = (name: string): number => Number(r.find((x) => x['side'] === name)?.['n'] ?? 0);
      sides = { train: of('train'), test: of('test') };
      if (rows.hasUnit) {
        // The design reader has dropped the rows without a unit (missing values, in nDropped): persons are units.
        const u = await s.all(`SELECT ${side} AS side, ${d.cast('count(DISTINCT u)', 'BIGINT')} AS n FROM ${table} WHERE ${usedRowSql(spec)} GROUP BY ${side}`);
        const ofP = (name: string): number => Number(u.find((x) => x['side'] === name)?.['n'] ?? 0);
        sidePersons = { train: ofP('train'), test: ofP('test') };
      }
      await opts.onRows?.(c, rows);
    };
    return await withGlmRows(db, designSpecOf(spec, persons), source, { ...opts, onRows, ...(members !== undefined ? { cohortMembers: members } : {}) }, signal, (rows) =>
      consume({ rows, sides: sides!, persons, ...(sidePersons ? { sidePersons } : {}), session: asSession(db), scratch: opts.scratch }),
    ).catch((e: unknown) => {
      // The label is the design's outcome: name the train job's field.
      if (e instanceof FedmeshError && e.field === 'outcome') throw new FedmeshError(e.code, `label${e.message.slice('outcome'.length)}`, { field: 'label' });
      throw e;
    });
  } finally {
    const s = asSession(db);
    for (const t of staged.reverse()) await s.run(s.dialect.dropTempTable(t)).catch(() => undefined);
  }
}

/** The person index is for the per-level rule only: it is not kept with the rows. */
function stripPersons(d: TrainAgentData): TrainAgentData {
  const strip = ({ x, y, n }: TrainAgentData['train']) => ({ x, y, n });
  return { ...d, train: strip(d.train), test: strip(d.test) };
}
