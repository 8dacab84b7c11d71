import { parseCohortDefinition, type CohortIR } from '../cohort/index.js';
import { invalidJob, quote } from '../errors.js';
import { ageBandLabelsFor, checkAgeBandEdges, checkTimeGridDays, checkWindowDays } from './cell-limits.js';
import { parseCoxModel, type CoxModelSpec } from './cox-spec.js';
import type { Filter, Scalar } from './filter.js';

/** Cohort-level jobs. Their agents return counts of persons in public cells, which add up exactly across agents. */
export interface CohortJob {
  kind: 'cohort';
  definition: unknown;
  ageBands: number[];
}
export interface CharacterizeJob {
  kind: 'characterize';
  definition: unknown;
  ageBands: number[];
  conditionConcepts: number[];
  drugConcepts: number[];
  windowDays: [number, number];
}
export type SurvivalOutcomeSpec = { definition: unknown } | { domain: 'condition' | 'drug' | 'procedure' | 'measurement' | 'death'; conceptIds: number[]; includeDescendants?: boolean };
export interface SurvivalJob {
  kind: 'survival';
  target: unknown;
  outcome: SurvivalOutcomeSpec;
  timeGrid: { binDays: number; maxDays: number };
  strata: 'gender' | 'none';
  /** Present for `"model": "cox"` (common/job/cox-spec.ts); absent: Kaplan–Meier and log-rank. */
  cox?: CoxModelSpec;
}
export interface ContingencyJob {
  kind: 'contingency';
  product: string;
  rowColumn: string;
  colColumn: string;
  rowLevels: Scalar[];
  colLevels: Scalar[];
  where: Filter[];
}
export type CellJobBody = CohortJob | CharacterizeJob | SurvivalJob | ContingencyJob;

export const DEFAULT_AGE_BANDS = [0, 18, 30, 40, 50, 60, 70, 80, 200];
export const GENDER_LEVELS = [8507, 8532, 0] as const;
export const GENDER_LABELS: Record<number, string> = { 8507: 'male', 8532: 'female', 0: 'other' };
export const SURVIVAL_STRATA = { gender: ['male', 'female', 'other'], none: ['all'] } as const;

/**
 * The name prefixes of a characterisation's concept cells (`condition:<id>`, `drug:<id>`): the cells outside every
 * designed structure (no band or gender partition holds them), which the within-job rule compares with the job's
 * other cells — at each agent in plain sums (node-agent/disclosure/within-job.ts) and on the totals inside a secure
 * sum (common/secure/cell-layout.ts). One list for both.
 */
export const CONCEPT_CELL_PREFIXES: readonly string[] = ['condition:', 'drug:'];

/** Whether a cell of a characterisation is a concept cell ({@link CONCEPT_CELL_PREFIXES}). */
export function isConceptCell(name: string): boolean {
  return CONCEPT_CELL_PREFIXES.some((p) => name.startsWith(p));
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function intList(v: unknown, field: string, max: number): number[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw invalidJob(field, 'must be a list of concept ids');
  if (v.length > max) throw invalidJob(field, `at most ${max} values`);
  const seen = new Set<number>();
  return v.map((x, i) => {
    if (!Number.isSafeInteger(x) || (x as number) < 0) throw invalidJob(`${field}[${i}]`, `must be a non-negative integer, got ${quote(x)}`);
    // The agents refuse a duplicate too (node-agent/analytics/sql-params.ts), but only after the budget is charged.
    if (seen.has(x as number)) throw invalidJob(`${field}[${i}]`, `duplicate concept id ${x as number}`);
    seen.add(x as number);
    return x as number;
  });
}

function ageBands(v: unknown, field: string): number[] {
  if (v === undefined) return DEFAULT_AGE_BANDS;
  // The agent checks the same limits: an edge it would refuse must not pass admission and be charged.
  return checkAgeBandEdges(v, field);
}

function definition(v: unknown, field: string): CohortIR {
  return parseCohortDefinition(v, field);
}

function scalarList(v: unknown, field: string, minLength = 1): Scalar[] {
  if (!Array.isArray(v) || v.length === 0) throw invalidJob(field, 'must be a non-empty list of public levels');
  // A table with one row (or column) level has no association to test: refusing it here keeps it from being
  // charged and computed only to fail in post-processing.
  if (v.length < minLength) throw invalidJob(field, `must list at least ${minLength} levels (a contingency table needs 2 rows and 2 columns), got ${v.length}`);
  if (v.length > 100) throw invalidJob(field, 'at most 100 levels');
  const out = v.map((x, i) => {
    if (typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x))) return x;
    throw invalidJob(`${field}[${i}]`, `must be a string, number or boolean, got ${quote(x)}`);
  });
  if (new Set(out.map((x) => JSON.stringify(x))).size !== out.length) throw invalidJob(field, 'lists a level twice');
  return out;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
function ident(v: unknown, field: string): string {
  if (typeof v !== 'string' || !IDENT.test(v)) throw invalidJob(field, `must be an identifier, got ${quote(v)}`);
  return v;
}

/**
 * Parses the kind-specific part of a cohort-level job (the common part is parsed by `parseJobSpec`).
 * @throws FedmeshError INVALID_JOB naming the field
 */
export function parseCellJobBody(v: Obj, parseWhere: (x: unknown) => Filter[]): CellJobBody {
  switch (v.kind) {
    case 'cohort':
      definition(v.definition, 'definition');
      return { kind: 'cohort', definition: v.definition, ageBands: ageBands(v.ageBands, 'ageBands') };
    case 'characterize': {
      definition(v.definition, 'definition');
      const windowDays = checkWindowDays(v.windowDays === undefined ? [-365, 0] : v.windowDays, 'windowDays');
      const conditionConcepts = intList(v.conditionConcepts, 'conditionConcepts', 200);
      const drugConcepts = intList(v.drugConcepts, 'drugConcepts', 200);
      if (conditionConcepts.length + drugConcepts.length === 0) throw invalidJob('conditionConcepts', 'give conditionConcepts and/or drugConcepts (public concept lists)');
      return { kind: 'characterize', definition: v.definition, ageBands: ageBands(v.ageBands, 'ageBands'), conditionConcepts, drugConcepts, windowDays };
    }
    case 'survival': {
      definition(v.target, 'target');
      if (!isObj(v.outcome)) throw invalidJob('outcome', 'must be {"definition": cohort} or {"domain": ..., "conceptIds": [...]}');
      let outcome: SurvivalOutcomeSpec;
      if ('definition' in v.outcome) {
        definition(v.outcome.definition, 'outcome.definition');
        outcome = { definition: v.outcome.definition };
      } else {
        const domain = v.outcome.domain;
        if (!['condition', 'drug', 'procedure', 'measurement', 'death'].includes(domain as string)) throw invalidJob('outcome.domain', 'must be condition, drug, procedure, measurement or death');
        const conceptIds = intList(v.outcome.conceptIds, 'outcome.conceptIds', 500);
        if (conceptIds.length === 0 && domain !== 'death') throw invalidJob('outcome.conceptIds', 'must list at least one concept');
        outcome = { domain: domain as 'condition', conceptIds, includeDescendants: v.outcome.includeDescendants !== false };
      }
      const g = v.timeGrid;
      if (!isObj(g)) throw invalidJob('timeGrid', 'must be {binDays ≥ 1, maxDays ≥ binDays} with at most 400 bins');
      const grid = checkTimeGridDays(g.binDays, g.maxDays, 'timeGrid');
      if (grid.maxDays < grid.binDays || grid.maxDays / grid.binDays > 400) throw invalidJob('timeGrid', 'must be {binDays ≥ 1, maxDays ≥ binDays} with at most 400 bins');
      const strata = v.strata ?? 'none';
      if (strata !== 'gender' && strata !== 'none') throw invalidJob('strata', "must be 'gender' or 'none'");
      const cox = parseCoxModel(v, strata);
      return { kind: 'survival', target: v.target, outcome, timeGrid: grid, strata, ...(cox ? { cox } : {}) };
    }
    case 'contingency':
      return {
        kind: 'contingency',
        product: ident(v.product, 'product'),
        rowColumn: ident(v.rowColumn, 'rowColumn'),
        colColumn: ident(v.colColumn, 'colColumn'),
        rowLevels: scalarList(v.rowLevels, 'rowLevels', 2),
        colLevels: scalarList(v.colLevels, 'colLevels', 2),
        where: parseWhere(v.where ?? []),
      };
    default:
      throw invalidJob('kind', `must be one of aggregate, cohort, characterize, survival, contingency; got ${quote(v.kind)}`);
  }
}

/** A group of public cells released together; l1/l2Sq: how much one person can change the block. */
export interface CellBlock {
  name: string;
  cells: string[];
  l1: number;
  l2Sq: number;
  /** Released in the DP modes (false: exact-only statistics such as entries, which one person can change unboundedly). */
  dpSafe: boolean;
}

// Moved to cell-limits.ts (no import cycle for the Cox covariate parser, which labels age bands too).
export { OPEN_AGE_EDGE, ageBandLabelsFor } from './cell-limits.js';

export function survivalTimes(binDays: number, maxDays: number): number[] {
  const t = [0];
  for (let d = binDays; d < maxDays; d += binDays) t.push(d);
  if (t[t.length - 1] !== maxDays) t.push(maxDays);
  return t;
}

/**
 * The public cells of a cohort-level job and the sensitivity of each block, from the spec alone (every person is
 * one privacy unit; the agents count distinct persons).
 */
export function cellBlocks(job: CellJobBody, ruleNames: readonly string[] = []): CellBlock[] {
  switch (job.kind) {
    case 'cohort': {
      const bands = ageBandLabelsFor(job.ageBands);
      return [
        { name: 'persons', cells: ['persons'], l1: 1, l2Sq: 1, dpSafe: true },
        { name: 'entries', cells: ['entries'], l1: Infinity, l2Sq: Infinity, dpSafe: false },
        { name: 'byAgeBand', cells: bands.map((b) => `age:${b}`), l1: 1, l2Sq: 1, dpSafe: true },
        { name: 'byGender', cells: GENDER_LEVELS.map((g) => `gender:${g}`), l1: 1, l2Sq: 1, dpSafe: true },
        { name: 'attrition', cells: ['qualified', ...ruleNames.map((_, i) => `rule:${i}`)], l1: ruleNames.length + 1, l2Sq: ruleNames.length + 1, dpSafe: true },
      ];
    }
    case 'characterize': {
      const bands = ageBandLabelsFor(job.ageBands);
      return [
        { name: 'persons', cells: ['persons'], l1: 1, l2Sq: 1, dpSafe: true },
        { name: 'byAgeBand', cells: bands.map((b) => `age:${b}`), l1: 1, l2Sq: 1, dpSafe: true },
        { name: 'byGender', cells: GENDER_LEVELS.map((g) => `gender:${g}`), l1: 1, l2Sq: 1, dpSafe: true },
        ...(job.conditionConcepts.length ? [{ name: 'conditions', cells: job.conditionConcepts.map((c) => `${CONCEPT_CELL_PREFIXES[0]}${c}`), l1: job.conditionConcepts.length, l2Sq: job.conditionConcepts.length, dpSafe: true }] : []),
        ...(job.drugConcepts.length ? [{ name: 'drugs', cells: job.drugConcepts.map((c) => `${CONCEPT_CELL_PREFIXES[1]}${c}`), l1: job.drugConcepts.length, l2Sq: job.drugConcepts.length, dpSafe: true }] : []),
      ];
    }
    case 'survival': {
      const strata = SURVIVAL_STRATA[job.strata];
      const bins = survivalTimes(job.timeGrid.binDays, job.timeGrid.maxDays).length;
      // A person is in one stratum (N) and ends in exactly one event-or-censoring cell; at-risk is derived.
      return [
        { name: 'initialAtRisk', cells: strata.map((s) => `n:${s}`), l1: 1, l2Sq: 1, dpSafe: true },
        { name: 'endpoints', cells: strata.flatMap((s) => Array.from({ length: bins }, (_, i) => [`e:${s}:${i}`, `c:${s}:${i}`]).flat()), l1: 1, l2Sq: 1, dpSafe: true },
      ];
    }
    case 'contingency':
      return [
        {
          name: 'table',
          cells: [...job.rowLevels.flatMap((_, r) => job.colLevels.map((_, c) => `cell:${r}:${c}`)), 'outside', 'ambiguous'],
          l1: 1,
          l2Sq: 1,
          dpSafe: true,
        },
      ];
  }
}

/** The inclusion rule names of a cohort job (their attrition cells); none for the other kinds. */
export function ruleNamesFor(job: CellJobBody): string[] {
  return job.kind === 'cohort' ? parseCohortDefinition(job.definition).inclusionRules.map((r) => r.name) : [];
}
