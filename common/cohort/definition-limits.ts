import { invalidJob } from '../errors.js';

/**
 * Size limits of untrusted JSON and of cohort definitions, checked by an iterative walk (no recursion, so a
 * definition nested 2,000 deep cannot overflow the stack, which used to surface as INTERNAL) before any recursive
 * parser or SQL compiler sees the value.
 *
 * Cohort limits, from what real ATLAS definitions use: the OHDSI phenotype definitions in /work/shared/data (and
 * typical PhenotypeLibrary entries) nest criteria groups 1–4 deep and have at most a few dozen criteria; 8 levels
 * and 500 criteria leave ample room while bounding the SQL an agent compiles.
 */
export const COHORT_LIMITS = Object.freeze({
  /** Nesting of criteria groups (Circe `Groups`, `CorrelatedCriteria`), counting the rule or additional-criteria group as 1. */
  maxGroupDepth: 8,
  /**
   * Criteria in the whole definition (every `CriteriaList` and `DemographicCriteriaList` entry). DuckDB's planner
   * cannot be interrupted and its time grows faster than linearly with the criteria of one statement (measured on
   * the 2-core CI machine: 100 → 0.19 s, 200 → 0.47 s, 400 → 1.7 s), so this bounds how long a cancelled task can
   * keep a core busy. Real ATLAS definitions use a few dozen.
   */
  maxCriteria: 200,
  /** Nesting of JSON objects and arrays in a definition. */
  maxJsonDepth: 48,
  /** JSON values (objects, arrays, scalars) in a definition. */
  maxJsonNodes: 50_000,
});

/** Nesting of JSON objects and arrays in a whole job spec (a definition inside it has its own, tighter limit). */
export const MAX_SPEC_JSON_DEPTH = 64;

/** Keys whose value opens a new criteria group (Circe). */
const GROUP_KEYS = new Set(['Groups', 'CorrelatedCriteria', 'AdditionalCriteria', 'expression']);
/** Keys whose array value lists criteria (Circe). */
const CRITERIA_KEYS = new Set(['CriteriaList', 'DemographicCriteriaList']);

interface Frame {
  v: unknown;
  path: string;
  depth: number;
  groups: number;
}

/** A JSON path for messages: user-chosen keys are cut to 40 characters and the whole path to about 300. */
function child(path: string, key: string | number): string {
  const k = typeof key === 'number' ? `[${key}]` : key.length > 40 ? `${key.slice(0, 40)}…` : key;
  const p = typeof key === 'number' ? `${path}${k}` : path === '' ? k : `${path}.${k}`;
  return p.length > 300 ? `${p.slice(0, 120)}…${p.slice(-160)}` : p;
}

/** JSON values in a whole job spec. */
export const MAX_SPEC_JSON_NODES = 200_000;

/**
 * Checks a whole parsed job spec before any recursive parser sees it: JSON nesting ≤ MAX_SPEC_JSON_DEPTH, values
 * ≤ MAX_SPEC_JSON_NODES, and the cohort limits (group depth, criteria) over every definition it holds.
 * O(min(size, MAX_SPEC_JSON_NODES)) time, no recursion.
 * @throws FedmeshError INVALID_JOB naming the JSON path of the first value past a limit
 */
export function checkSpecShape(value: unknown): void {
  walk(value, '', { maxDepth: MAX_SPEC_JSON_DEPTH, maxNodes: MAX_SPEC_JSON_NODES, maxGroupDepth: COHORT_LIMITS.maxGroupDepth, maxCriteria: COHORT_LIMITS.maxCriteria });
}

/**
 * Checks a cohort definition against COHORT_LIMITS before it is parsed.
 * @throws FedmeshError INVALID_JOB naming the JSON path (e.g. `definition.InclusionRules[0].expression.Groups[0]…`)
 */
export function checkCohortDefinitionSize(value: unknown, field: string): void {
  walk(value, field, COHORT_LIMITS);
}

function walk(value: unknown, field: string, limits: { maxDepth?: number; maxJsonDepth?: number; maxNodes?: number; maxJsonNodes?: number; maxGroupDepth: number; maxCriteria: number }): void {
  const maxDepth = limits.maxDepth ?? limits.maxJsonDepth ?? Infinity;
  const maxNodes = limits.maxNodes ?? limits.maxJsonNodes ?? Infinity;
  const stack: Frame[] = [{ v: value, path: field, depth: 0, groups: 0 }];
  let nodes = 0;
  let criteria = 0;
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (++nodes > maxNodes) throw invalidJob(field || 'spec', `has more than ${maxNodes} JSON values`);
    if (f.v === null || typeof f.v !== 'object') continue;
    if (f.depth >= maxDepth) throw invalidJob(f.path, `is nested deeper than ${maxDepth} levels`);
    if (Array.isArray(f.v)) {
      for (let i = f.v.length - 1; i >= 0; i--) stack.push({ v: f.v[i], path: child(f.path, i), depth: f.depth + 1, groups: f.groups });
      continue;
    }
    for (const [k, v] of Object.entries(f.v as Record<string, unknown>).reverse()) {
      const path = child(f.path, k);
      let groups = f.groups;
      if (GROUP_KEYS.has(k) && v !== null && typeof v === 'object' && !(Array.isArray(v) && v.length === 0)) {
        // `Groups` is an array of groups (an empty one opens none); the others hold one group.
        groups += 1;
        if (groups > limits.maxGroupDepth) throw invalidJob(path, `criteria groups are nested deeper than ${limits.maxGroupDepth} levels (the limit for cohort definitions)`);
      }
      if (CRITERIA_KEYS.has(k) && Array.isArray(v)) {
        criteria += v.length;
        if (criteria > limits.maxCriteria) throw invalidJob(path, `the definition has more than ${limits.maxCriteria} criteria (the limit for cohort definitions)`);
      }
      stack.push({ v, path, depth: f.depth + 1, groups });
    }
  }
}
