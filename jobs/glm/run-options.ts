/**
 * The execution fields a glm spec shares with the other job commands (`--quorum N`, `--agents a,b,c`), and what
 * exact Fisher scoring allows of them (pure).
 *
 * IRLS is exact only over a fixed set of sites: every round's XᵀWX and score must be sums over the same rows, or
 * the iteration solves a different likelihood each round and converges (if it does) to the model of no data set.
 * So, unlike a training job (whose rounds aggregate whoever answers), a glm job never drops an agent mid-fit:
 * - `agents`: the fit runs on these agents only (each must be a member serving the product, live at admission;
 *   coordinator/rounds/kind-admission.ts). It is then exactly the pooled fit of their rows. Absent: every agent
 *   serving the product.
 * - `quorum`: the fewest agents the fit may be made over. Admission refuses the job (QUORUM_NOT_MET) when fewer
 *   serve the product; every admitted agent must then answer every round (dropout policy `fail`), so it is a
 *   floor, never leave to carry on without someone.
 * - Both given: `quorum` must equal the number of named agents. Below it would ask to tolerate a named agent's
 *   absence, which exactness forbids; above it, the job could never run. Either is refused here, naming `quorum`.
 */
import { invalidJob } from '../../common/errors.js';

/** Most agents a glm job may name (as train's run options). */
export const MAX_GLM_NAMED_AGENTS = 1000;

export interface GlmRunOptions {
  /** The fewest agents the fit may be made over (admission); every admitted agent answers every round. */
  readonly quorum?: number;
  /** The agents the fit runs on, sorted (the compiled job's hash must not depend on the order given). */
  readonly agents?: readonly string[];
}

/**
 * Checks `quorum` and `agents` as parsed by the common parser (types and name syntax already checked).
 * @throws FedmeshError INVALID_JOB (INVALID_ARGUMENT on the wire) naming `quorum`, `agents` or `agents[i]`
 */
export function checkGlmRunOptions(run: { readonly quorum?: number; readonly agents?: readonly string[] }): GlmRunOptions {
  const { quorum, agents } = run;
  if (quorum !== undefined && quorum > MAX_GLM_NAMED_AGENTS) throw invalidJob('quorum', `must be at most ${MAX_GLM_NAMED_AGENTS}, got ${quorum}`);
  if (agents === undefined) return quorum === undefined ? {} : { quorum };
  if (agents.length > MAX_GLM_NAMED_AGENTS) throw invalidJob('agents', `must list 1 to ${MAX_GLM_NAMED_AGENTS} agent names`);
  const seen = new Set<string>();
  agents.forEach((a, i) => {
    if (seen.has(a)) throw invalidJob(`agents[${i}]`, `names ${a} twice`);
    seen.add(a);
  });
  if (quorum !== undefined && quorum < agents.length) {
    throw invalidJob('quorum', `${quorum} of ${agents.length} named agents would let the fit carry on without some of them; exact Fisher scoring needs the same agents in every round (an agent leaving mid-fit changes the model). Leave quorum out or set it to ${agents.length}`);
  }
  if (quorum !== undefined && quorum > agents.length) throw invalidJob('quorum', `asks for ${quorum} agents but the job names ${agents.length}`);
  return { ...(quorum !== undefined ? { quorum } : {}), agents: Object.freeze([...agents].sort()) };
}
