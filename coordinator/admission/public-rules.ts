/**
 * Refusals decided from public information, made at admission before anything is charged. An agent's published
 * policy (kinds and modes it accepts) and the published manifest of the product that gates the job (kinds, modes,
 * bounds, privacy unit) are checked per agent with the same pure checks the agent runs; otherwise, under the default
 * quorum, the agent's refusal would become a charged QUORUM_NOT_MET.
 */
import { FedmeshError, isFedmeshError } from '../../common/errors.js';
import { VOCABULARY_COMPLETE, vocabularyQueryRefusal, enforceDomainPolicy, enforceJobManifest, manifestProductOf, productRulesFromMetadata } from '../../common/job/index.js';
import type { JobSpec } from '../../common/job/index.js';
import type { AgentView } from '../agent-registry.js';
import type { MissingAgent } from '../job-record.js';

/** Longest reason kept per agent (a hostile registration must not blow up the message). */
const MAX_REASON_CHARS = 300;

const cut = (s: string): string => (s.length <= MAX_REASON_CHARS ? s : `${s.slice(0, MAX_REASON_CHARS)}… (cut)`);

/** Why this agent would refuse the job by its published rules, or undefined when they allow it. */
export function publicRefusal(spec: JobSpec, agent: AgentView): FedmeshError | undefined {
  try {
    enforceDomainPolicy(agent.policy, spec.kind, spec.privacy.mode);
    const product = agent.products.find((p) => p.name === manifestProductOf(spec));
    // A missing product is the schema admission's business (it names it); here only published rules.
    if (product) {
      const complete = agent.products.find((p) => p.name === 'concept')?.metadata['vocabulary'] === VOCABULARY_COMPLETE;
      const vocabulary = vocabularyQueryRefusal(product.name, product.metadata['profile'], complete);
      if (vocabulary) throw vocabulary;
      enforceJobManifest(productRulesFromMetadata(product.privacyUnit, product.metadata), spec);
    }
    return undefined;
  } catch (e) {
    if (isFedmeshError(e)) return e;
    throw e;
  }
}

/**
 * Applies {@link publicRefusal} to the admitted agents. Under the default quorum (every serving agent must answer)
 * one refusing agent refuses the job, with its code (POLICY_DENIED → PERMISSION_DENIED, FAILED_PRECONDITION,
 * INVALID_JOB for bounds) and field, naming the agent and the rule. With an explicit quorum the refusing agents are
 * left out and returned with the reason, to be reported as missing; too few left is FAILED_PRECONDITION.
 * @throws FedmeshError as above; nothing has been charged when it throws
 */
export function applyPublicRules(spec: JobSpec, agents: readonly AgentView[]): { agents: AgentView[]; excluded: MissingAgent[] } {
  const kept: AgentView[] = [];
  const refusals: { agent: string; error: FedmeshError }[] = [];
  for (const a of agents) {
    const error = publicRefusal(spec, a);
    if (error) refusals.push({ agent: a.name, error });
    else kept.push(a);
  }
  if (refusals.length === 0) return { agents: kept, excluded: [] };
  const list = refusals.map((r) => `${r.agent}: ${cut(r.error.message)}`).join('; ');
  const first = refusals[0]!.error;
  const field = first.field ? { field: first.field } : {};
  if (spec.quorum === undefined || kept.length === 0) {
    const why = spec.quorum === undefined ? 'by default every agent serving the job must answer, and by its published rules' : 'by their published rules';
    throw new FedmeshError(first.code, `${first.field ?? 'job'}: ${why} ${refusals.length === 1 ? `agent ${refusals[0]!.agent} would refuse it` : `${refusals.length} agents would refuse it`} — ${list}. Nothing was charged${spec.quorum === undefined && kept.length > 0 ? '; set "quorum" (--quorum N) to run without them, marked partial' : ''}`, {
      ...field,
      details: { refusedBy: refusals.map((r) => r.agent) },
    });
  }
  if (spec.quorum > kept.length) {
    throw new FedmeshError('FAILED_PRECONDITION', `quorum: ${spec.quorum} agents required but only ${kept.length} allow this job by their published rules — ${list}. Nothing was charged`, {
      field: 'quorum',
      details: { refusedBy: refusals.map((r) => r.agent) },
    });
  }
  return { agents: kept, excluded: refusals.map((r) => ({ agent: r.agent, reason: cut(`${r.error.code}: ${r.error.message}`) })) };
}
