import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MANIFEST_FILE, MAX_MANIFEST_BYTES, loadManifest, parseManifest } from './manifest.js';
import type { ProductSchema } from './types.js';

const SCHEMA: ProductSchema[] = [
  { name: 'person', columns: [
    { name: 'person_id', type: 'BIGINT' }, { name: 'gender_concept_id', type: 'BIGINT' },
    { name: 'year_of_birth', type: 'BIGINT' }, { name: 'person_source_value', type: 'VARCHAR' },
    { name: 'birth_datetime', type: 'TIMESTAMP' },
  ] },
  { name: 'lab_results', columns: [
    { name: 'patient_id', type: 'VARCHAR' }, { name: 'value', type: 'DOUBLE' }, { name: 'taken', type: 'DATE' },
    { name: 'raw', type: 'JSON' }, { name: 'device_id', type: 'VARCHAR' },
  ] },
];

const parse = (doc: unknown): ReturnType<typeof parseManifest> => parseManifest(JSON.stringify(doc), SCHEMA);
const messages = (doc: unknown): string[] => parse(doc).issues.map((i) => i.message);

describe('parseManifest', () => {
  it('keeps a fully valid manifest as declared, with no issues', () => {
    const { manifest, issues } = parse({
      version: 1, owner: 'cardiology',
      products: {
        person: {
          description: 'Patients of the ward', owner: 'registry', sensitivity: 'sensitive',
          bounds: { year_of_birth: [1920, 2024] }, allowedJobKinds: ['aggregate', 'cohort'],
          allowedPrivacyModes: ['distributed-dp', 'central-dp'],
          columns: { person_source_value: { semanticType: 'identifier', description: 'MRN hash' } },
        },
        lab_results: { privacyUnit: 'patient_id', columns: { value: { semanticType: 'quantity' } }, bounds: { value: [3, 20] } },
      },
    });
    expect(issues).toEqual([]);
    expect(manifest.owner).toBe('cardiology');
    expect(manifest.products['person']).toEqual({
      description: 'Patients of the ward', owner: 'registry', sensitivity: 'sensitive',
      bounds: { year_of_birth: [1920, 2024] }, allowedJobKinds: ['aggregate', 'cohort'],
      allowedPrivacyModes: ['distributed-dp', 'central-dp'],
      columns: { person_source_value: { semanticType: 'identifier', description: 'MRN hash' } },
    });
    expect(manifest.products['lab_results']).toEqual({
      privacyUnit: 'patient_id', columns: { value: { semanticType: 'quantity' } }, bounds: { value: [3, 20] },
    });
  });

  it('keeps a declared population and names a malformed one (issue 15 item 1)', () => {
    const ok = parse({ products: { lab_results: { privacyUnit: 'device_id', population: 'device' } } });
    expect(ok.issues).toEqual([]);
    expect(ok.manifest.products['lab_results']?.population).toBe('device');
    const bad = parse({ products: { lab_results: { population: 'a b' } } });
    expect(bad.issues.map((i) => i.field)).toEqual(['products.lab_results.population']);
    expect(bad.manifest.products['lab_results']?.population).toBeUndefined();
  });

  it('refuses a second population over persons: a product keyed by person_id or patient_id stays in person (red team: ε per population split)', () => {
    for (const doc of [
      { products: { person: { population: 'labs' } } },
      { products: { lab_results: { privacyUnit: 'patient_id', population: 'labs' } } },
    ]) {
      const r = parse(doc);
      expect(r.issues.map((i) => i.message).join('\n')).toMatch(/is refused: the product is keyed by (person_id|patient_id), a person, so its population is person/);
      expect(Object.values(r.manifest.products).map((p) => p?.population)).toEqual([undefined]);
    }
    // Declaring person itself is accepted.
    expect(parse({ products: { person: { population: 'person' } } }).issues).toEqual([]);
  });

  it('names the file, product and field of reversed bounds, and keeps the valid bounds', () => {
    const { manifest, issues } = parse({ products: { person: { bounds: { year_of_birth: [2030, 1900], gender_concept_id: [0, 10] } } } });
    expect(issues).toEqual([{
      product: 'person', field: 'products.person.bounds.year_of_birth',
      message: 'fedmesh.products.json: products.person.bounds.year_of_birth: lower bound must be below upper',
    }]);
    expect(manifest.products['person']?.bounds).toEqual({ gender_concept_id: [0, 10] });
  });

  it('rejects equal, non-numeric, non-finite-size and malformed bounds, each by name', () => {
    expect(messages({ products: { person: { bounds: { year_of_birth: [5, 5] } } } }))
      .toEqual(['fedmesh.products.json: products.person.bounds.year_of_birth: lower bound must be below upper']);
    expect(messages({ products: { person: { bounds: { year_of_birth: ['1900', 2000] } } } })[0])
      .toMatch(/^fedmesh\.products\.json: products\.person\.bounds\.year_of_birth: bounds must be finite numbers/);
    expect(messages({ products: { person: { bounds: { year_of_birth: [0, 1e300] } } } })[0])
      .toMatch(/products\.person\.bounds\.year_of_birth: bounds must be finite numbers within/);
    expect(messages({ products: { person: { bounds: { year_of_birth: [1, 2, 3] } } } })[0])
      .toBe('fedmesh.products.json: products.person.bounds.year_of_birth: must be [lower, upper], not an array');
    expect(messages({ products: { person: { bounds: { person_source_value: [0, 1] } } } })[0])
      .toBe("fedmesh.products.json: products.person.bounds.person_source_value: bounds apply to numeric columns only; 'person_source_value' is VARCHAR");
    expect(messages({ products: { person: { bounds: [0, 1] } } })[0])
      .toBe('fedmesh.products.json: products.person.bounds: must be an object keyed by column name, not an array');
  });

  it('rejects unknown products and columns against the real schema, with a hint for a case slip', () => {
    const { manifest, issues } = parse({ products: {
      Person: { description: 'x' },
      visits: { description: 'y' },
      lab_results: { columns: { Value: { semanticType: 'quantity' }, nope: {} }, bounds: { missing: [0, 1] }, privacyUnit: 'pid' },
    } });
    expect(issues.map((i) => [i.product, i.field])).toEqual([
      ['Person', 'products.Person'],
      ['visits', 'products.visits'],
      ['lab_results', 'products.lab_results.columns.Value'],
      ['lab_results', 'products.lab_results.columns.nope'],
      ['lab_results', 'products.lab_results.privacyUnit'],
      ['lab_results', 'products.lab_results.bounds.missing'],
    ]);
    expect(issues[0]?.message).toBe(
      "fedmesh.products.json: products.Person: unknown product 'Person': no such table or view in the agent's database (did you mean 'person'?)");
    expect(issues[1]?.message).toMatch(/unknown product 'visits': no such table or view in the agent's database$/);
    expect(issues[2]?.message).toMatch(/unknown column 'Value' of 'lab_results' \(did you mean 'value'\?\)$/);
    expect(issues[4]?.message).toMatch(/products\.lab_results\.privacyUnit: unknown column 'pid' of 'lab_results'$/);
    expect(Object.keys(manifest.products)).toEqual(['lab_results']);
    expect(manifest.products['lab_results']).toEqual({ columns: {}, bounds: {} });
  });

  it('names every bad scalar field and drops only that field', () => {
    const { manifest, issues } = parse({ products: { person: {
      description: '', owner: 42, sensitivity: 'secret', privacyUnit: 7, colour: 'blue',
      allowedJobKinds: ['aggregate', 'mining', 'cohort', 'aggregate'], allowedPrivacyModes: 'none',
    } } });
    const byField = Object.fromEntries(issues.map((i) => [i.field, i.message]));
    expect(Object.keys(byField).sort()).toEqual([
      'products.person.allowedJobKinds[1]', 'products.person.allowedPrivacyModes', 'products.person.colour',
      'products.person.description', 'products.person.owner', 'products.person.privacyUnit', 'products.person.sensitivity',
    ]);
    expect(byField['products.person.description']).toMatch(/must be a non-empty string, not string ""$/);
    expect(byField['products.person.owner']).toMatch(/must be a non-empty string, not number 42$/);
    expect(byField['products.person.sensitivity']).toMatch(/unknown sensitivity level string "secret"; expected one of 'public', 'internal', 'restricted', 'sensitive'$/);
    expect(byField['products.person.allowedJobKinds[1]']).toMatch(/unknown job kind string "mining"/);
    expect(byField['products.person.allowedPrivacyModes']).toMatch(/must be an array of privacy modes, not string "none"/);
    expect(byField['products.person.colour']).toMatch(/unknown field; expected one of 'description'/);
    // The unknown kind is dropped and duplicates folded: the list only ever narrows.
    expect(manifest.products['person']).toEqual({ allowedJobKinds: ['aggregate', 'cohort'] });
  });

  it('checks declared semantic types against the column storage type', () => {
    const { manifest, issues } = parse({ products: { lab_results: { columns: {
      patient_id: { semanticType: 'date' }, value: { semanticType: 'quantity' }, taken: { semanticType: 'datetime' },
      raw: { semanticType: 'structured' }, patient_id2: undefined,
    } } } });
    expect(issues.map((i) => i.message)).toEqual([
      "fedmesh.products.json: products.lab_results.columns.patient_id.semanticType: semantic type 'date' needs a DATE or TIMESTAMP column, not VARCHAR",
      "fedmesh.products.json: products.lab_results.columns.taken.semanticType: semantic type 'datetime' needs a TIMESTAMP column, not DATE",
    ]);
    expect(manifest.products['lab_results']?.columns).toEqual({ value: { semanticType: 'quantity' }, raw: { semanticType: 'structured' } });
    expect(messages({ products: { person: { columns: { year_of_birth: { semanticType: 'age' } } } } })[0])
      .toMatch(/products\.person\.columns\.year_of_birth\.semanticType: unknown semantic type string "age"; expected one of 'identifier'/);
    expect(messages({ products: { person: { columns: { year_of_birth: 'quantity' } } } })[0])
      .toMatch(/products\.person\.columns\.year_of_birth: must be an object with 'semanticType' and\/or 'description', not string/);
  });

  it('accepts privacyUnit null and refuses a structured privacy unit', () => {
    expect(parse({ products: { person: { privacyUnit: null } } }).manifest.products['person']).toEqual({ privacyUnit: null });
    expect(messages({ products: { lab_results: { privacyUnit: 'raw' } } }))
      .toEqual(["fedmesh.products.json: products.lab_results.privacyUnit: 'raw' is JSON; a privacy unit must be a scalar column"]);
  });

  it('reports a broken file, a wrong version and bad top-level fields without throwing', () => {
    const bad = parseManifest('{ "products": { ', SCHEMA);
    expect(bad.issues).toHaveLength(1);
    expect(bad.issues[0]?.field).toBe('(file)');
    expect(bad.issues[0]?.message).toMatch(/^fedmesh\.products\.json: \(file\): not valid JSON/);
    expect(bad.manifest).toEqual({ products: {} });
    expect(messages([])).toEqual(['fedmesh.products.json: (file): must hold a JSON object, not an array']);
    expect(messages({ version: 2, products: { person: {} } })).toEqual(['fedmesh.products.json: version: unsupported manifest version number 2; expected 1']);
    expect(messages({ products: [], extra: 1 })).toEqual([
      "fedmesh.products.json: extra: unknown field; expected one of 'version', 'owner', 'products'",
      'fedmesh.products.json: products: must be an object keyed by product name, not an array',
    ]);
    expect(parse({ owner: '' }).issues[0]).toEqual({ field: 'owner', message: 'fedmesh.products.json: owner: must be a non-empty string, not string ""' });
  });

  it('cannot be steered into the prototype by a product named __proto__', () => {
    const schema: ProductSchema[] = [...SCHEMA, { name: '__proto__', columns: [{ name: 'x', type: 'INTEGER' }] }];
    const { manifest, issues } = parseManifest('{"products": {"__proto__": {"description": "odd"}}}', schema);
    expect(issues).toEqual([]);
    expect(Object.getPrototypeOf(manifest.products)).toBe(Object.prototype);
    expect(Object.hasOwn(manifest.products, '__proto__')).toBe(true);
    expect(Object.keys(manifest.products)).toEqual(['__proto__']);
  });
});

describe('loadManifest', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fedmesh-manifest-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives an empty manifest and no issues when the data folder has none', async () => {
    expect(await loadManifest(dir, SCHEMA)).toEqual({ manifest: { products: {} }, issues: [], file: undefined });
  });

  it('reads the file in the data folder (with a BOM) and validates it', async () => {
    await writeFile(path.join(dir, MANIFEST_FILE), `\uFEFF${JSON.stringify({ products: { person: { sensitivity: 'internal' }, ghost: {} } })}`);
    const r = await loadManifest(dir, SCHEMA);
    expect(r.file).toBe(path.join(dir, MANIFEST_FILE));
    expect(r.manifest.products).toEqual({ person: { sensitivity: 'internal' } });
    expect(r.issues.map((i) => i.field)).toEqual(['products.ghost']);
  });

  it('refuses an oversized file and a folder in its place, as issues', async () => {
    await writeFile(path.join(dir, MANIFEST_FILE), ' '.repeat(MAX_MANIFEST_BYTES + 1));
    const big = await loadManifest(dir, SCHEMA);
    expect(big.manifest).toEqual({ products: {} });
    expect(big.issues[0]?.message).toMatch(/^fedmesh\.products\.json: \(file\): larger than 1048576 bytes/);
    await rm(path.join(dir, MANIFEST_FILE));
    await mkdir(path.join(dir, MANIFEST_FILE));
    expect((await loadManifest(dir, SCHEMA)).issues[0]?.message).toBe('fedmesh.products.json: (file): is not a regular file');
  });
});

describe('parseManifest: linkageKey (issue 15 point 4)', () => {
  it('keeps a VARCHAR column and names the field for anything else', () => {
    expect(parse({ products: { lab_results: { linkageKey: 'device_id' } } }).manifest.products['lab_results']).toEqual({ linkageKey: 'device_id' });
    expect(messages({ products: { lab_results: { linkageKey: 'value' } } })).toEqual([
      "fedmesh.products.json: products.lab_results.linkageKey: 'value' is DOUBLE; a linkage key must be a VARCHAR column holding the keyed hash (hex or base64)",
    ]);
    expect(messages({ products: { lab_results: { linkageKey: 'nope' } } })[0]).toMatch(/products\.lab_results\.linkageKey: unknown column 'nope'/);
    expect(messages({ products: { lab_results: { linkageKey: 7 } } })[0]).toMatch(/products\.lab_results\.linkageKey: must be a column name, not number 7/);
    expect(parse({ products: { lab_results: { linkageKey: 'value' } } }).manifest.products['lab_results']).toEqual({});
  });
});
