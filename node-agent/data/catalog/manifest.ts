/**
 * The optional product manifest `fedmesh.products.json` in the agent's data folder. A data owner declares there
 * what the defaults cannot know: descriptions, owner domain, semantic types, privacy unit, value bounds,
 * sensitivity and the job kinds and privacy modes a product is opened to.
 *
 * ```json
 * {
 *   "version": 1,
 *   "owner": "cardiology",
 *   "products": {
 *     "person": {
 *       "description": "Patients of the cardiology ward",
 *       "bounds": { "year_of_birth": [1920, 2024] },
 *       "sensitivity": "sensitive",
 *       "allowedJobKinds": ["aggregate", "cohort"],
 *       "allowedPrivacyModes": ["distributed-dp", "central-dp"]
 *     },
 *     "lab_results": {
 *       "privacyUnit": "patient_id",
 *       "linkageKey": "link_key",
 *       "columns": { "value": { "semanticType": "quantity", "description": "HbA1c in %" } },
 *       "bounds": { "value": [3, 20] }
 *     }
 *   }
 * }
 * ```
 *
 * Validation never throws: every problem becomes an issue naming the file, the product and the field, and only
 * the offending entry is dropped (one column, one bound, one list element, one field); everything valid is kept.
 * Products, columns, privacy units and bounds are checked against the real DuckDB schema.
 */
import { DEFAULT_POPULATION, isPopulationName } from '../../../common/job/index.js';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isNumericType, isStructuredType } from './column-types.js';
import { semanticTypeFits } from './semantic-types.js';
import {
  CATALOG_JOB_KINDS, PRIVACY_MODES, SEMANTIC_TYPES, SENSITIVITY_LEVELS,
  type ManifestColumn, type ManifestIssue, type ManifestProduct, type ProductManifest, type ProductSchema,
} from './types.js';

/** Privacy-unit column names that key a product by a person (OMOP person_id, patient_id, …): such a product is in population person. */
const PERSON_KEY = /(^|_)(person|patient|subject)(_|$)/i;

/** The manifest's file name in the agent's data folder. */
export const MANIFEST_FILE = 'fedmesh.products.json';
/** A larger manifest is refused unread. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_DESCRIPTION_CHARS = 2000;
const MAX_OWNER_CHARS = 200;
/** Bounds beyond this magnitude make DP noise meaningless and risk precision loss. */
const MAX_ABS_BOUND = 1e15;

const TOP_FIELDS = new Set(['version', 'owner', 'products']);
const PRODUCT_FIELDS = new Set([
  'description', 'owner', 'columns', 'privacyUnit', 'linkageKey', 'population', 'bounds', 'sensitivity', 'allowedJobKinds', 'allowedPrivacyModes', 'tags',
]);
/** A semantic tag: lower-case words, as domain policies compare them verbatim. */
const TAG = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
const MAX_TAGS = 32;
const COLUMN_FIELDS = new Set(['semanticType', 'description']);

export interface ManifestLoadResult {
  manifest: ProductManifest;
  issues: ManifestIssue[];
  /** The manifest file read, or undefined when the data folder has none. */
  file: string | undefined;
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeJson(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

/** `.name` for plain names, `["odd name"]` otherwise, so that the path stays unambiguous. */
function seg(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function oneOf(list: readonly string[]): string {
  return list.map((s) => `'${s}'`).join(', ');
}

// Control characters are refused in free text that ends up in logs and the catalog.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

class IssueSink {
  readonly issues: ManifestIssue[] = [];
  constructor(private readonly fileLabel: string) {}
  add(product: string | undefined, field: string, message: string): void {
    const issue: ManifestIssue = { field, message: `${this.fileLabel}: ${field}: ${message}` };
    if (product !== undefined) issue.product = product;
    this.issues.push(issue);
  }
}

function text(sink: IssueSink, product: string | undefined, field: string, v: Json, maxChars: number): string | undefined {
  if (typeof v !== 'string' || v.trim().length === 0) {
    sink.add(product, field, `must be a non-empty string, not ${describeJson(v)}`);
    return undefined;
  }
  if (v.length > maxChars) {
    sink.add(product, field, `must be at most ${maxChars} characters`);
    return undefined;
  }
  if (CONTROL.test(v)) {
    sink.add(product, field, 'must not contain control characters');
    return undefined;
  }
  return v;
}

/** A list of names from `allowed`: unknown elements are reported and dropped (the list only narrows). */
function nameList<T extends string>(
  sink: IssueSink, product: string, field: string, v: Json, allowed: readonly T[], what: string,
): T[] | undefined {
  if (!Array.isArray(v)) {
    sink.add(product, field, `must be an array of ${what}s, not ${describeJson(v)}`);
    return undefined;
  }
  const out: T[] = [];
  v.forEach((item: Json, i) => {
    if (typeof item === 'string' && (allowed as readonly string[]).includes(item)) {
      if (!out.includes(item as T)) out.push(item as T);
    } else {
      sink.add(product, `${field}[${i}]`, `unknown ${what} ${describeJson(item)}; expected one of ${oneOf(allowed)}`);
    }
  });
  return out;
}

function columnTypes(table: ProductSchema): Map<string, string> {
  return new Map(table.columns.map((c) => [c.name, c.type]));
}

function unknownColumn(name: string, table: ProductSchema): string {
  const near = table.columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
  return `unknown column '${name}' of '${table.name}'${near === undefined ? '' : ` (did you mean '${near.name}'?)`}`;
}

function parseColumns(sink: IssueSink, product: string, base: string, v: Json, table: ProductSchema): Record<string, ManifestColumn> | undefined {
  if (!isObject(v)) {
    sink.add(product, base, `must be an object keyed by column name, not ${describeJson(v)}`);
    return undefined;
  }
  const types = columnTypes(table);
  const out: Array<[string, ManifestColumn]> = [];
  for (const [col, decl] of Object.entries(v)) {
    const field = `${base}${seg(col)}`;
    const type = types.get(col);
    if (type === undefined) {
      sink.add(product, field, unknownColumn(col, table));
      continue;
    }
    if (!isObject(decl)) {
      sink.add(product, field, `must be an object with 'semanticType' and/or 'description', not ${describeJson(decl)}`);
      continue;
    }
    const column: ManifestColumn = {};
    for (const key of Object.keys(decl)) {
      if (!COLUMN_FIELDS.has(key)) sink.add(product, `${field}${seg(key)}`, `unknown field; expected one of ${oneOf([...COLUMN_FIELDS])}`);
    }
    if (decl['semanticType'] !== undefined) {
      const st = decl['semanticType'];
      if (typeof st !== 'string' || !(SEMANTIC_TYPES as readonly string[]).includes(st)) {
        sink.add(product, `${field}.semanticType`, `unknown semantic type ${describeJson(st)}; expected one of ${oneOf(SEMANTIC_TYPES)}`);
      } else {
        const misfit = semanticTypeFits(st as ManifestColumn['semanticType'] & string, type);
        if (misfit === undefined) column.semanticType = st as ManifestColumn['semanticType'];
        else sink.add(product, `${field}.semanticType`, misfit);
      }
    }
    if (decl['description'] !== undefined) {
      const d = text(sink, product, `${field}.description`, decl['description'], MAX_DESCRIPTION_CHARS);
      if (d !== undefined) column.description = d;
    }
    if (column.semanticType !== undefined || column.description !== undefined) out.push([col, column]);
  }
  return Object.fromEntries(out);
}

function parseBounds(sink: IssueSink, product: string, base: string, v: Json, table: ProductSchema): Record<string, [number, number]> | undefined {
  if (!isObject(v)) {
    sink.add(product, base, `must be an object keyed by column name, not ${describeJson(v)}`);
    return undefined;
  }
  const types = columnTypes(table);
  const out: Array<[string, [number, number]]> = [];
  for (const [col, b] of Object.entries(v)) {
    const field = `${base}${seg(col)}`;
    const type = types.get(col);
    if (type === undefined) {
      sink.add(product, field, unknownColumn(col, table));
      continue;
    }
    if (!isNumericType(type)) {
      sink.add(product, field, `bounds apply to numeric columns only; '${col}' is ${type}`);
      continue;
    }
    if (!Array.isArray(b) || b.length !== 2) {
      sink.add(product, field, `must be [lower, upper], not ${describeJson(b)}`);
      continue;
    }
    const [lo, hi] = b as Json[];
    if (typeof lo !== 'number' || typeof hi !== 'number' || !Number.isFinite(lo) || !Number.isFinite(hi)
      || Math.abs(lo) > MAX_ABS_BOUND || Math.abs(hi) > MAX_ABS_BOUND) {
      sink.add(product, field, `bounds must be finite numbers within ±${MAX_ABS_BOUND}`);
      continue;
    }
    if (!(lo < hi)) {
      sink.add(product, field, 'lower bound must be below upper');
      continue;
    }
    out.push([col, [lo, hi]]);
  }
  return Object.fromEntries(out);
}

function parseProduct(sink: IssueSink, name: string, raw: Json, table: ProductSchema): ManifestProduct | undefined {
  const base = `products${seg(name)}`;
  if (!isObject(raw)) {
    sink.add(name, base, `must be an object, not ${describeJson(raw)}`);
    return undefined;
  }
  const entry: ManifestProduct = {};
  for (const key of Object.keys(raw)) {
    if (!PRODUCT_FIELDS.has(key)) sink.add(name, `${base}${seg(key)}`, `unknown field; expected one of ${oneOf([...PRODUCT_FIELDS])}`);
  }
  const has = (k: string): boolean => raw[k] !== undefined;
  if (has('description')) {
    const d = text(sink, name, `${base}.description`, raw['description'], MAX_DESCRIPTION_CHARS);
    if (d !== undefined) entry.description = d;
  }
  if (has('owner')) {
    const o = text(sink, name, `${base}.owner`, raw['owner'], MAX_OWNER_CHARS);
    if (o !== undefined) entry.owner = o;
  }
  if (has('columns')) {
    const c = parseColumns(sink, name, `${base}.columns`, raw['columns'], table);
    if (c !== undefined) entry.columns = c;
  }
  if (has('privacyUnit')) {
    const pu = raw['privacyUnit'];
    const type = typeof pu === 'string' ? columnTypes(table).get(pu) : undefined;
    if (pu === null) entry.privacyUnit = null;
    else if (typeof pu !== 'string') sink.add(name, `${base}.privacyUnit`, `must be a column name or null, not ${describeJson(pu)}`);
    else if (type === undefined) sink.add(name, `${base}.privacyUnit`, unknownColumn(pu, table));
    else if (isStructuredType(type)) sink.add(name, `${base}.privacyUnit`, `'${pu}' is ${type}; a privacy unit must be a scalar column`);
    else entry.privacyUnit = pu;
  }
  if (has('linkageKey')) {
    const lk = parseLinkageKey(raw['linkageKey'], table);
    if (lk.ok) entry.linkageKey = lk.value;
    else sink.add(name, `${base}.linkageKey`, lk.error);
  }
  if (has('population')) {
    const pop = raw['population'];
    // The unit the product is keyed by: declared here, or person_id where the table has it (the default unit).
    const unit = entry.privacyUnit !== undefined ? entry.privacyUnit : columnTypes(table).has('person_id') ? 'person_id' : null;
    if (!isPopulationName(pop)) sink.add(name, `${base}.population`, `must be a population name (a letter, then letters, digits, _ . -; at most 64), not ${describeJson(pop)}`);
    // A second population over the same persons would give them a second budget (person_id is the OMOP person).
    else if (pop !== DEFAULT_POPULATION && unit !== null && PERSON_KEY.test(unit)) sink.add(name, `${base}.population`, `'${pop}' is refused: the product is keyed by ${unit}, a person, so its population is ${DEFAULT_POPULATION}; declare another population only for a product whose privacy unit is not a person`);
    else entry.population = pop;
  }
  if (has('bounds')) {
    const b = parseBounds(sink, name, `${base}.bounds`, raw['bounds'], table);
    if (b !== undefined) entry.bounds = b;
  }
  if (has('sensitivity')) {
    const s = raw['sensitivity'];
    if (typeof s === 'string' && (SENSITIVITY_LEVELS as readonly string[]).includes(s)) entry.sensitivity = s as ManifestProduct['sensitivity'];
    else sink.add(name, `${base}.sensitivity`, `unknown sensitivity level ${describeJson(s)}; expected one of ${oneOf(SENSITIVITY_LEVELS)}`);
  }
  if (has('allowedJobKinds')) {
    const k = nameList(sink, name, `${base}.allowedJobKinds`, raw['allowedJobKinds'], CATALOG_JOB_KINDS, 'job kind');
    if (k !== undefined) entry.allowedJobKinds = k;
  }
  if (has('allowedPrivacyModes')) {
    const m = nameList(sink, name, `${base}.allowedPrivacyModes`, raw['allowedPrivacyModes'], PRIVACY_MODES, 'privacy mode');
    if (m !== undefined) entry.allowedPrivacyModes = m;
  }
  if (has('tags')) {
    const t = raw['tags'];
    if (!Array.isArray(t) || t.length > MAX_TAGS) sink.add(name, `${base}.tags`, `must be an array of at most ${MAX_TAGS} tags, not ${describeJson(t)}`);
    else {
      const tags: string[] = [];
      t.forEach((x: Json, i) => {
        if (typeof x === 'string' && TAG.test(x)) {
          if (!tags.includes(x)) tags.push(x);
        } else sink.add(name, `${base}.tags[${i}]`, `must be a tag (lower-case letters, digits, _ . : -, at most 64), not ${describeJson(x)}`);
      });
      entry.tags = tags;
    }
  }
  return entry;
}

/**
 * `linkageKey`: the column holding the sites' shared keyed hash of a person's identifier (common/job/linkage.ts).
 * Text only: an HMAC written as hex or base64, the same bytes at every site.
 */
function parseLinkageKey(v: Json, table: ProductSchema): { ok: true; value: string } | { ok: false; error: string } {
  if (typeof v !== 'string') return { ok: false, error: `must be a column name, not ${describeJson(v)}` };
  const type = columnTypes(table).get(v);
  if (type === undefined) return { ok: false, error: unknownColumn(v, table) };
  if (type.toUpperCase() !== 'VARCHAR') return { ok: false, error: `'${v}' is ${type}; a linkage key must be a VARCHAR column holding the keyed hash (hex or base64)` };
  return { ok: true, value: v };
}

/**
 * Validate manifest JSON `source` against the agent's actual schema.
 * @param fileLabel how messages name the file. @default 'fedmesh.products.json'
 * @returns the valid part of the manifest and one issue per problem; never throws.
 */
export function parseManifest(
  source: string, schema: readonly ProductSchema[], fileLabel: string = MANIFEST_FILE,
): { manifest: ProductManifest; issues: ManifestIssue[] } {
  const sink = new IssueSink(fileLabel);
  const manifest: ProductManifest = { products: {} };
  let root: Json;
  try {
    root = JSON.parse(source) as Json;
  } catch (e) {
    sink.add(undefined, '(file)', `not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    return { manifest, issues: sink.issues };
  }
  if (!isObject(root)) {
    sink.add(undefined, '(file)', `must hold a JSON object, not ${describeJson(root)}`);
    return { manifest, issues: sink.issues };
  }
  for (const key of Object.keys(root)) {
    if (!TOP_FIELDS.has(key)) sink.add(undefined, key, `unknown field; expected one of ${oneOf([...TOP_FIELDS])}`);
  }
  if (root['version'] !== undefined && root['version'] !== 1) {
    sink.add(undefined, 'version', `unsupported manifest version ${describeJson(root['version'])}; expected 1`);
    return { manifest, issues: sink.issues };
  }
  if (root['owner'] !== undefined) {
    const o = text(sink, undefined, 'owner', root['owner'], MAX_OWNER_CHARS);
    if (o !== undefined) manifest.owner = o;
  }
  const products = root['products'];
  if (products === undefined) return { manifest, issues: sink.issues };
  if (!isObject(products)) {
    sink.add(undefined, 'products', `must be an object keyed by product name, not ${describeJson(products)}`);
    return { manifest, issues: sink.issues };
  }
  const tables = new Map(schema.map((t) => [t.name, t]));
  const out: Array<[string, ManifestProduct]> = [];
  for (const [name, raw] of Object.entries(products)) {
    const table = tables.get(name);
    if (table === undefined) {
      const near = schema.find((t) => t.name.toLowerCase() === name.toLowerCase());
      sink.add(name, `products${seg(name)}`,
        `unknown product '${name}': no such table or view in the agent's database${near === undefined ? '' : ` (did you mean '${near.name}'?)`}`);
      continue;
    }
    const entry = parseProduct(sink, name, raw, table);
    if (entry !== undefined) out.push([name, entry]);
  }
  // fromEntries defines own properties, so a product named `__proto__` cannot reach the prototype.
  manifest.products = Object.fromEntries(out);
  return { manifest, issues: sink.issues };
}

/**
 * Read and validate `fedmesh.products.json` in `dataDir`, if there is one. Never throws: a missing file gives an
 * empty manifest and no issues; an unreadable, oversized or malformed file gives an empty manifest and one issue.
 */
export async function loadManifest(dataDir: string, schema: readonly ProductSchema[]): Promise<ManifestLoadResult> {
  const file = path.join(dataDir, MANIFEST_FILE);
  const empty = (issues: ManifestIssue[], found: boolean): ManifestLoadResult =>
    ({ manifest: { products: {} }, issues, file: found ? file : undefined });
  try {
    const st = await stat(file);
    if (!st.isFile()) return empty([{ field: '(file)', message: `${MANIFEST_FILE}: (file): is not a regular file` }], true);
    if (st.size > MAX_MANIFEST_BYTES) {
      return empty([{ field: '(file)', message: `${MANIFEST_FILE}: (file): larger than ${MAX_MANIFEST_BYTES} bytes; not read` }], true);
    }
    const content = await readFile(file, 'utf8');
    return { ...parseManifest(content.replace(/^\uFEFF/, ''), schema), file };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return empty([], false);
    const reason = (e as NodeJS.ErrnoException).code ?? 'read error';
    return empty([{ field: '(file)', message: `${MANIFEST_FILE}: (file): cannot be read (${reason})` }], true);
  }
}
