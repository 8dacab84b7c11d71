/**
 * The execution fields a train spec shares with the other job commands (`--quorum N`, `--agents a,b,c`), in train
 * terms (pure):
 * - `quorum`: the fewest agents whose updates a round may aggregate — the same number as
 *   `participation.minUpdates` (given both, they must agree). A round with fewer answers fails the job
 *   (QUORUM_NOT_MET); agents that drop out above it are left out of that round and named.
 * - `agents`: train on these agents only (names, as `fedmesh agents` lists them); admission checks that each
 *   serves the product and is live, before anything is charged. Absent: every agent that serves the product.
 */
import { invalidJob, quote } from '../../common/errors.js';

/** Most agents a job may name. */
export const MAX_NAMED_AGENTS = 1000;

/**
 * @returns the round quorum (minUpdates) and the named agents, if any
 * @throws FedmeshError INVALID_JOB naming `quorum`, `agents` or `agents[i]`
 */
export function parseRunOptions(raw: { quorum?: unknown; agents?: unknown }, minUpdates: { value: number; given: boolean }): { minUpdates: number; agents?: readonly string[] } {
  let q = minUpdates.value;
  if (raw.quorum !== undefined) {
    const v = raw.quorum;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > 10_000) throw invalidJob('quorum', `must be an integer in [1, 10000] (the fewest agents a training round aggregates), got ${quote(v)}`);
    if (minUpdates.given && v !== minUpdates.value) throw invalidJob('quorum', `is participation.minUpdates under another name; they disagree (${v} vs ${minUpdates.value})`);
    q = v;
  }
  if (raw.agents === undefined) return { minUpdates: q };
  if (!Array.isArray(raw.agents) || raw.agents.length < 1 || raw.agents.length > MAX_NAMED_AGENTS) throw invalidJob('agents', `must list 1 to ${MAX_NAMED_AGENTS} agent names`);
  // The aggregate jobs' rule for agent names (common/job/validate.ts).
  const names = raw.agents.map((a, i) => {
    if (typeof a !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(a)) throw invalidJob(`agents[${i}]`, `not a valid agent name: ${quote(a)}`);
    return a;
  });
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n)) throw invalidJob(`agents[${i}]`, `names ${n} twice`);
    seen.add(n);
  });
  if (q > names.length) throw invalidJob('quorum', `asks ${q} updates per round from ${names.length} named agents`);
  return { minUpdates: q, agents: Object.freeze([...names].sort()) };
}
