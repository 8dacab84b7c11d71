import { FedmeshError } from '../../common/errors.js';
import { namedProductOf, type JobSpec } from '../../common/job/index.js';
import type { AgentMember, AgentView } from '../agent-registry.js';
import type { MissingAgent } from '../job-record.js';

/** Tables a cohort-level job reads at every agent (the OMOP core). */
const OMOP_CORE = ['person', 'observation_period'];

/** Whether a member served what the job reads at its last registration. */
function serves(spec: JobSpec, m: AgentMember): boolean {
  const product = namedProductOf(spec);
  return product !== undefined ? m.products.includes(product) : OMOP_CORE.every((t) => m.products.includes(t));
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Why a member is not live, in words an administrator can act on. */
export function notLiveReason(m: AgentMember): string {
  const since = m.notLiveSinceMs !== undefined ? ` since ${iso(m.notLiveSinceMs)}` : '';
  return `not live${since} (${m.notLiveReason ?? 'not connected'}; last heartbeat ${iso(m.lastHeartbeatMs)})`;
}

/**
 * The quorum against the mesh's members, before anything is charged: by default every agent that serves what the
 * job reads (live or not) must answer, so a job that would miss one is refused now, naming it and why. With an
 * explicit `quorum` the job may run without them; they are returned, to be reported as missing in the result.
 * Quorums above the number of serving agents are left to the schema admission (INVALID_JOB).
 * @returns the members the job will miss because they are not live, with the reason
 * @throws FedmeshError FAILED_PRECONDITION naming the agents that are not live
 */
export function checkQuorum(spec: JobSpec, members: readonly AgentMember[], live: readonly AgentView[]): MissingAgent[] {
  const liveNames = new Set(live.map((a) => a.name));
  let required = members.filter((m) => serves(spec, m));
  if (spec.agents) required = required.filter((m) => spec.agents!.includes(m.name));
  const notLive = required.filter((m) => !liveNames.has(m.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
  if (notLive.length === 0) return [];
  const product = namedProductOf(spec);
  const what = product !== undefined ? `product ${product}` : `the OMOP CDM tables (${OMOP_CORE.join(', ')})`;
  const list = notLive.map((m) => `${m.name}: ${notLiveReason(m)}`).join('; ');
  const liveCount = required.length - notLive.length;
  if (spec.quorum === undefined) {
    throw new FedmeshError(
      'FAILED_PRECONDITION',
      `quorum: by default every agent serving ${what} must answer, and ${notLive.length} of ${required.length} are not live — ${list}. Nothing was charged. Retry when they are back, set "quorum" (--quorum N) to accept a result marked partial, or, if an agent left the mesh for good, an administrator removes it (fedmesh agents remove NAME)`,
      { field: 'quorum', details: { notLive: notLive.map((m) => m.name) } },
    );
  }
  if (spec.quorum <= required.length && spec.quorum > liveCount) {
    throw new FedmeshError('FAILED_PRECONDITION', `quorum: ${spec.quorum} agents required but only ${liveCount} of the ${required.length} serving ${what} are live — ${list}. Nothing was charged`, {
      field: 'quorum',
      details: { notLive: notLive.map((m) => m.name) },
    });
  }
  return notLive.map((m) => ({ agent: m.name, reason: notLiveReason(m) }));
}
