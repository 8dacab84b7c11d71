/**
 * `fedmesh agent` governance flags: the coordinator key identity assertions are verified with, read once and
 * validated with messages that name the flag.
 */
import { readFileSync } from 'node:fs';
import { quote } from '../../../common/errors.js';
import { identityPublicKeyFromPem } from '../../../common/crypto/index.js';
import type { AgentOptions } from '../../../node-agent/index.js';
import { AccessPolicyError, loadAccessPolicy, type AccessPolicy } from '../../../common/policy/index.js';

export interface AgentGovernanceFlags {
  coordinatorKey?: string;
  policy?: string;
  policySchema?: string;
}

/** `--policy FILE [--policy-schema FILE]` for the agent and the coordinator. @throws RangeError naming the flag */
export function accessPolicyFlags(flags: { policy?: string; policySchema?: string }): { file: string; schemaFile?: string } | undefined {
  if (flags.policySchema !== undefined && flags.policy === undefined) throw new RangeError('--policy-schema needs --policy');
  return flags.policy === undefined ? undefined : { file: flags.policy, ...(flags.policySchema !== undefined ? { schemaFile: flags.policySchema } : {}) };
}

/** Loads a policy for the coordinator or `policy check`; a bad one is a usage error naming the file and line. */
export async function loadPolicyFlag(flags: { policy?: string; policySchema?: string }): Promise<AccessPolicy | undefined> {
  const p = accessPolicyFlags(flags);
  if (!p) return undefined;
  try {
    return await loadAccessPolicy(p.file, p.schemaFile);
  } catch (e) {
    if (e instanceof AccessPolicyError) throw new RangeError(`--policy: ${e.message}`, { cause: e });
    throw e;
  }
}

/** @throws RangeError naming the flag */
export function agentGovernance(flags: AgentGovernanceFlags): Partial<Pick<AgentOptions, 'coordinatorKey' | 'accessPolicy'>> {
  const accessPolicy = accessPolicyFlags(flags);
  return { ...coordinatorKey(flags), ...(accessPolicy ? { accessPolicy } : {}) };
}

function coordinatorKey(flags: AgentGovernanceFlags): Partial<Pick<AgentOptions, 'coordinatorKey'>> {
  if (flags.coordinatorKey === undefined) return {};
  let pem: string;
  try {
    pem = readFileSync(flags.coordinatorKey, 'utf8');
  } catch (e) {
    throw new RangeError(`--coordinator-key: cannot read ${quote(flags.coordinatorKey, 200)}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
  }
  try {
    return { coordinatorKey: identityPublicKeyFromPem(pem) };
  } catch (e) {
    throw new RangeError(`--coordinator-key: ${quote(flags.coordinatorKey, 200)} is not an Ed25519 public key in PEM (the coordinator writes it to coordinator-ed25519.pub in its state folder)`, { cause: e });
  }
}
