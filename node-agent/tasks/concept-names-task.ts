import type { DuckDBConnection } from '@duckdb/node-api';
import type { AgentTask } from '../../common/agent-protocol.js';
import { FedmeshError } from '../../common/errors.js';
import type { ConceptNameEntry, ProductRules } from '../../common/job/index.js';
import type { ProductInfo } from '../data/products.js';
import { CONCEPT_TABLE, checkLookupIds, hasConceptTable, lookUpConceptNames } from '../data/vocabulary.js';
import type { ReleasedConcepts } from '../disclosure/released-concepts.js';

export interface ConceptNamesContext {
  products: readonly ProductInfo[];
  rules: ReadonlyMap<string, ProductRules>;
  vocabularyComplete: boolean;
  releasedConcepts: ReleasedConcepts;
  log: (event: string, fields?: Record<string, unknown>) => void;
}

/**
 * Names of released concept ids from this agent's OMOP `concept` table, which must be published as public
 * reference data (a manifest that marks it otherwise keeps every name at home). Unless the operator declared the
 * vocabulary complete, only ids this agent released as data-derived keys in the same job are named, the others
 * are left out (none of them: POLICY_DENIED), so the lookup cannot probe which concepts the vocabulary holds.
 * @throws FedmeshError INVALID_ARGUMENT (ids), FAILED_PRECONDITION (no vocabulary), POLICY_DENIED (not public)
 */
export async function conceptNamesTask(conn: DuckDBConnection, task: AgentTask, ctx: ConceptNamesContext): Promise<ConceptNameEntry[]> {
  const ids = checkLookupIds(task.conceptIds);
  if (!hasConceptTable(ctx.products)) throw new FedmeshError('FAILED_PRECONDITION', `this agent has no vocabulary to name concepts from (no ${CONCEPT_TABLE} table with concept_id and concept_name)`, { field: 'concept_ids' });
  if (ctx.rules.get(CONCEPT_TABLE)?.sensitivity !== 'public') {
    throw new FedmeshError('POLICY_DENIED', `product ${CONCEPT_TABLE} is not published as public reference data at this agent, so no concept names are sent`, { field: 'concept_ids' });
  }
  if (ctx.vocabularyComplete) return lookUpConceptNames(conn, ids);
  const { released, refused } = ctx.releasedConcepts.check(task.jobId, ids);
  if (refused.length > 0) ctx.log('concept-names-refused-ids', { jobId: task.jobId, refused: refused.length });
  if (released.length === 0) {
    throw new FedmeshError('POLICY_DENIED', `concept_ids: this agent released none of these ids as data-derived keys in job ${task.jobId.slice(0, 64)}, and its vocabulary is not declared complete, so it names none of them`, { field: 'concept_ids' });
  }
  return lookUpConceptNames(conn, released);
}
