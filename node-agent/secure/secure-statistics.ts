import type { DuckDBConnection } from '@duckdb/node-api';
import type { GroupPartial } from '../../algorithms/aggregate/index.js';
import type { AggregatePrivacyPlan } from '../../common/job/privacy-plan.js';
import type { AggregateJob } from '../../common/job/spec.js';
import type { ProductInfo } from '../data/products.js';
import { queryGroupStatistics } from '../query/group-statistics.js';

/**
 * Exact statistics per public group for a secure job: the same parameterised SQL as the plaintext job (contribution
 * bounding in the DP modes), with NO per-agent suppression — small cells are handled on the released totals,
 * because nothing per agent is ever seen in the clear.
 */
export async function secureStatistics(conn: DuckDBConnection, job: AggregateJob, product: ProductInfo, privacy: AggregatePrivacyPlan, salt: string): Promise<GroupPartial[]> {
  return (await queryGroupStatistics(conn, job, product, privacy, salt)).groups;
}
