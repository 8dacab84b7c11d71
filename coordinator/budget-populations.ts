/**
 * How the coordinator maps jobs and products to budget populations, from the connected agents' public catalogue
 * (pure: the registry's agents are passed in).
 */
import type { ProductDescriptor } from '../common/agent-protocol.js';
import { FedmeshError, quote } from '../common/errors.js';
import { COHORT_LEVEL_TABLES, populationMap, populationsTouched, type PopulationTouch, namedProductOf, type JobSpec } from '../common/job/index.js';
import type { BudgetEntry } from './ledger.js';
import type { AgentView } from './agent-registry.js';

/** Whose budget a `setBudget` changes: a population, or the population of a product. */
export type BudgetTarget = { population: string } | { product: string };

/** The products a job reads at one agent: its product, or for cohort-level kinds the OMOP tables it may read. */
function productsRead(spec: JobSpec, agent: AgentView): ProductDescriptor[] {
  const product = namedProductOf(spec);
  return agent.products.filter((p) => (product !== undefined ? p.name === product : COHORT_LEVEL_TABLES.includes(p.name)));
}

/** The populations a job touches at the agents it runs on (each with the products it reads there). */
export function jobPopulations(spec: JobSpec, agents: readonly AgentView[]): PopulationTouch[] {
  return populationsTouched(agents.map((a) => productsRead(spec, a)));
}

/** The populations of the agents' catalogue, each with its products. */
export function catalogPopulations(agents: readonly AgentView[]): Map<string, string[]> {
  return populationMap(agents.map((a) => a.products));
}

/** Adds the products the catalogue maps to the entry's population to those already charged. */
export function withCatalog(e: BudgetEntry, catalog: Map<string, string[]>): BudgetEntry {
  return { ...e, products: [...new Set([...e.products, ...(catalog.get(e.population) ?? [])])].sort() };
}

/**
 * The one population the agents put `product` in.
 * @throws FedmeshError FAILED_PRECONDITION when no agent serves it or it sits in several populations
 */
export function populationOfProduct(agents: readonly AgentView[], product: string): string {
  const touched = populationsTouched(agents.map((a) => a.products.filter((p) => p.name === product)));
  if (touched.length === 0) {
    throw new FedmeshError('FAILED_PRECONDITION', `product: ${quote(product)} is served by no connected agent, so its population is not known; name the population instead (--population person)`, { field: 'product' });
  }
  if (touched.length > 1) {
    throw new FedmeshError('FAILED_PRECONDITION', `product: ${product} is in ${touched.length} populations at different agents (${touched.map((t) => t.population).join(', ')}); set each with --population`, { field: 'product' });
  }
  return touched[0]!.population;
}
