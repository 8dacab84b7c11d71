/**
 * `fedmesh agent` governance flags: the coordinator key identity assertions are verified with, read once and
 * validated with messages that name the flag.
 */
import { readFileSync } from 'node:fs';
import { quote } from '../../common/errors.js';
import { identityPublicKeyFromPem } from '../../common/crypto/index.js';
import type { AgentOptions } from '../../node-agent/index.js';

export interface AgentGovernanceFlags {
  coordinatorKey?: string;
}

/** @throws RangeError naming the flag */
export function agentGovernance(flags: AgentGovernanceFlags): Partial<Pick<AgentOptions, 'coordinatorKey'>> {
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
