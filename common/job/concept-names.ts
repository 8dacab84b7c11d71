/**
 * Concept names next to concept ids (issue 14 items 8/9), the pure part: which concept ids a released result shows,
 * how an agent's vocabulary answer is checked, and how several agents' answers are merged.
 *
 * The OMOP `concept` table is public reference data, but a vocabulary trimmed to the concepts a site uses would
 * tell which concepts occur there. So names are looked up only for ids that the released result already shows
 * (never for a suppressed cell, a withheld group or a group dropped by partition selection), after the release is
 * final, and the researcher sees one merged name per id, never which agent supplied it.
 *
 * Released is not enough: an id the researcher supplied (public `groupKeys`, characterisation concept lists,
 * contingency levels, the fixed gender levels) is released as a noisy cell whatever the data hold, so whether a site's
 * vocabulary names it would tell, at no ε, whether the site uses it. Those ids are named only by agents that declare
 * their vocabulary complete (independent of their data). Other agents are asked only for data-derived keys that
 * survived a release (mode-none cells at or above the minimum size, DP partition-selected groups), and check that
 * themselves.
 */
import { FedmeshError } from '../errors.js';
import type { JobSpec } from './spec.js';

/** Task kind of a vocabulary lookup on the agent link (not a job kind: no data is read, nothing is charged). */
export const CONCEPT_NAMES_TASK_KIND = 'concept-names';
/** Most ids one lookup asks for; a result showing more gets names for the first ones (ascending) and a note. */
export const MAX_CONCEPT_LOOKUP_IDS = 5000;
/** The catalogue value (`metadata.vocabulary` of the `concept` product) by which an agent declares its vocabulary complete. */
export const VOCABULARY_COMPLETE = 'complete';
/** The result note when supplied ids went unnamed for that reason; it depends on the released result and catalogue only. */
export const SUPPLIED_IDS_NOTE = 'concept names: names are not looked up for concept ids you supplied (group keys, concept lists, contingency levels, gender levels) unless the site declares a complete vocabulary';
/**
 * Why a product may not be queried at a site, or undefined: a vocabulary product (`profile: omop-vocabulary`) of a
 * site whose vocabulary is not declared complete. A vocabulary trimmed to the concepts a site uses is data (counting
 * known ids plus X tells whether X occurs there). The agent and the coordinator's admission both decide with it.
 */
export function vocabularyQueryRefusal(product: string, profile: unknown, declaredComplete: boolean): FedmeshError | undefined {
  if (profile !== 'omop-vocabulary' || declaredComplete) return undefined;
  return new FedmeshError('POLICY_DENIED', `product ${product}: this site's vocabulary is not declared complete (it may hold only the concepts its data use), so it is not queried; its operator can declare it with --vocabulary-complete`, { field: 'product' });
}

/** Longest name kept, in characters (OMOP CDM: `concept_name` is varchar(255)). */
export const MAX_CONCEPT_NAME_CHARS = 255;

/** One vocabulary row as it travels: a concept id and its name. */
export interface ConceptNameEntry {
  conceptId: number;
  name: string;
}

/** Where a result shows a released concept id: group columns and contingency axes named like OMOP concept columns. */
export function isConceptColumn(column: string): boolean {
  return column === 'concept_id' || column.endsWith('_concept_id');
}

/** A concept id as a released value shows it: a non-negative safe integer (numbers, or digit strings of VARCHAR keys). */
export function asConceptId(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v === 'bigint') return v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
  if (typeof v === 'string' && /^\d{1,16}$/.test(v)) return asConceptId(Number(v));
  return undefined;
}

/** The parts of a released result this module reads (the coordinator's JobResult and the client's view share them). */
export interface ReleasedResultShape {
  rows: readonly Record<string, unknown>[];
  summary?: Readonly<Record<string, unknown>>;
}

const released = (v: unknown): boolean => v !== null && v !== undefined;

/**
 * The concept ids a released result shows, ascending and distinct. Aggregate: the values of `*_concept_id` group
 * columns in released rows (withheld and unselected groups are not rows). Cohort and characterize: genders with a
 * released count, conditions and drugs with released persons. Contingency: the levels of a `*_concept_id` axis
 * with at least one released cell. Survival shows no concept ids (its strata are labels).
 */
export function releasedConceptIds(spec: JobSpec, result: ReleasedResultShape): number[] {
  const { derived, supplied } = conceptIdSources(spec, result);
  return [...new Set([...derived, ...supplied])].sort((a, b) => a - b);
}

/**
 * The released concept ids split by where they come from. `derived`: values of `*_concept_id` group columns of an
 * aggregate without public group keys (their presence is what the release released). `supplied`: everything the
 * spec fixed in advance (public group keys, the gender levels and concept lists of cohort and characterize,
 * contingency levels). Both ascending and distinct.
 */
export function conceptIdSources(spec: JobSpec, result: ReleasedResultShape): { derived: number[]; supplied: number[] } {
  const ids = releasedIdsOf(spec, result);
  const dataKeys = spec.kind === 'aggregate' && spec.groupKeys === undefined;
  return dataKeys ? { derived: ids, supplied: [] } : { derived: [], supplied: ids };
}

function releasedIdsOf(spec: JobSpec, result: ReleasedResultShape): number[] {
  const ids = new Set<number>();
  const add = (v: unknown): void => {
    const id = asConceptId(v);
    if (id !== undefined) ids.add(id);
  };
  const s = result.summary ?? {};
  const list = (key: string): Record<string, unknown>[] => (Array.isArray(s[key]) ? (s[key] as unknown[]).filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : []);
  if (spec.kind === 'aggregate') {
    const cols = spec.groupBy.filter(isConceptColumn);
    for (const row of result.rows) for (const c of cols) add(row[c]);
  } else if (spec.kind === 'cohort' || spec.kind === 'characterize') {
    for (const g of list('byGender')) if (released(g.count)) add(g.gender_concept_id);
    for (const key of ['conditions', 'drugs']) for (const c of list(key)) if (released(c.persons)) add(c.concept_id);
  } else if (spec.kind === 'contingency') {
    const table = Array.isArray(s.table) ? (s.table as unknown[][]) : [];
    if (isConceptColumn(spec.rowColumn)) spec.rowLevels.forEach((lvl, r) => (table[r] ?? []).some(released) && add(lvl));
    if (isConceptColumn(spec.colColumn)) spec.colLevels.forEach((lvl, c) => table.some((row) => released(row?.[c])) && add(lvl));
  }
  return [...ids].sort((a, b) => a - b);
}

/** Control characters and bidirectional overrides: an agent's text must not move a terminal's cursor or reorder a line. */
// eslint-disable-next-line no-control-regex
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * Checks one agent's answer to a lookup of `asked`: at most one name per id, only ids that were asked, names
 * non-empty, at most MAX_CONCEPT_NAME_CHARS characters, without control or bidi characters.
 * @returns the names by id, or the reason the whole answer is discarded
 */
export function checkConceptNamesReply(asked: readonly number[], reply: readonly ConceptNameEntry[]): { ok: true; names: Map<number, string> } | { ok: false; reason: string } {
  if (reply.length > asked.length) return { ok: false, reason: `${reply.length} names for ${asked.length} ids asked` };
  const wanted = new Set(asked);
  const names = new Map<number, string>();
  for (const [i, e] of reply.entries()) {
    if (!wanted.has(e.conceptId)) return { ok: false, reason: `concept_names[${i}]: id was not asked for` };
    if (names.has(e.conceptId)) return { ok: false, reason: `concept_names[${i}]: id answered twice` };
    if (typeof e.name !== 'string' || e.name.trim().length === 0) return { ok: false, reason: `concept_names[${i}]: empty name` };
    if (e.name.length > MAX_CONCEPT_NAME_CHARS) return { ok: false, reason: `concept_names[${i}]: name longer than ${MAX_CONCEPT_NAME_CHARS} characters` };
    if (UNSAFE_TEXT.test(e.name)) return { ok: false, reason: `concept_names[${i}]: name holds control characters` };
    names.set(e.conceptId, e.name.trim());
  }
  return { ok: true, names };
}

/**
 * Merges the checked answers of several agents: an id gets a name when every agent that knows it gives the same
 * name; agents that lack it do not count against it; agents that disagree leave it unnamed.
 */
export function mergeConceptNames(answers: readonly ReadonlyMap<number, string>[]): { names: Record<string, string>; disagreed: number } {
  const seen = new Map<number, string | null>();
  for (const a of answers) {
    for (const [id, name] of a) {
      const prev = seen.get(id);
      if (prev === undefined) seen.set(id, name);
      else if (prev !== null && prev !== name) seen.set(id, null);
    }
  }
  const names: Record<string, string> = {};
  let disagreed = 0;
  for (const [id, name] of [...seen].sort((a, b) => a[0] - b[0])) {
    if (name === null) disagreed++;
    else names[String(id)] = name;
  }
  return { names, disagreed };
}
