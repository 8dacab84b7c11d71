/**
 * Populations: the domain of a privacy unit. Every data product keyed by the same persons (the OMOP CDM tables
 * keyed by `person_id`, the flat FHIR tables keyed by the patient, a plain table whose privacy unit is a person id)
 * describes one population, and a researcher's privacy budget is kept per population, not per product: ε spent on
 * `person` and ε spent on `measurement` are spent on the same persons.
 *
 * Sound by default: a product belongs to population `person` unless its agent's operator declares another one in
 * the product manifest (`"population": "device"` for a product whose privacy unit is a device, not a person).
 * Putting two products in one population can only make the ledger stricter, so every product that declares
 * nothing (including one without a privacy unit, whose rows may be persons) is counted with the persons.
 * The population comes from public catalogue metadata only, never from data.
 */

/** The population of every product whose operator declares none. */
export const DEFAULT_POPULATION = 'person';

/** Population names: a letter, then letters, digits, `_ . -`; at most 64 characters. */
const POPULATION_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export function isPopulationName(v: unknown): v is string {
  return typeof v === 'string' && POPULATION_NAME.test(v);
}

/** What the population of a product is decided from: its public catalogue entry. */
export interface PopulationSource {
  /** Catalogue metadata the agent publishes; `population` is the operator's declaration. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/**
 * The population a product belongs to: the operator's declaration when it is a valid population name, else
 * {@link DEFAULT_POPULATION}. A malformed declaration also falls back to the default (stricter, never looser).
 */
export function populationOf(product: PopulationSource): string {
  const declared = product.metadata['population'];
  return isPopulationName(declared) ? declared : DEFAULT_POPULATION;
}

/**
 * OMOP CDM tables a cohort-level job (cohort, characterize, survival) may read at an agent: the core tables and
 * every event domain a criterion can select from. The job touches the populations of those it finds; listing a
 * table it does not read only makes the charge stricter.
 */
export const COHORT_LEVEL_TABLES: readonly string[] = [
  'person', 'observation_period', 'condition_occurrence', 'drug_exposure', 'drug_era', 'condition_era',
  'procedure_occurrence', 'measurement', 'observation', 'visit_occurrence', 'death',
];

/** One population a job touches, with the products in it that the job reads. */
export interface PopulationTouch {
  population: string;
  /** Sorted, deduplicated. */
  products: string[];
}

/**
 * The populations touched when `products` are read at each of several agents (deduplicated across products and
 * agents), sorted by name. Each agent's own catalogue entry decides, so two agents that disagree about a product
 * make the job touch both populations.
 * @param catalogs per agent, the catalogue entries of the products the job reads there
 */
export function populationsTouched(catalogs: ReadonlyArray<ReadonlyArray<PopulationSource & { readonly name: string }>>): PopulationTouch[] {
  const byPopulation = new Map<string, Set<string>>();
  for (const products of catalogs) {
    for (const p of products) {
      const pop = populationOf(p);
      let set = byPopulation.get(pop);
      if (!set) byPopulation.set(pop, (set = new Set()));
      set.add(p.name);
    }
  }
  return [...byPopulation.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([population, set]) => ({ population, products: [...set].sort() }));
}

/**
 * The populations the products of a catalogue belong to, each with its products (for `fedmesh budget` and
 * refusals): the same fold as {@link populationsTouched}.
 */
export function populationMap(catalogs: ReadonlyArray<ReadonlyArray<PopulationSource & { readonly name: string }>>): Map<string, string[]> {
  return new Map(populationsTouched(catalogs).map((t) => [t.population, t.products]));
}
