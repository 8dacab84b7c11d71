/**
 * A secure sum needs every admitted agent's identity key vouched for by its mTLS certificate (the peers verify the
 * keys the coordinator relays; an agent without one cannot take part). Checked at submission from the public
 * registrations, before anything is charged, for the built-in secure path and the kind seam alike.
 */
import { FedmeshError } from '../../common/errors.js';
import type { AgentView } from '../agent-registry.js';

/** @throws FedmeshError FAILED_PRECONDITION (field secure) naming the agents registered without an identity key */
export function checkAttested(secure: string, agents: readonly Pick<AgentView, 'name' | 'identity'>[]): void {
  const unattested = agents.filter((a) => !a.identity);
  if (unattested.length === 0) return;
  throw new FedmeshError(
    'FAILED_PRECONDITION',
    `secure: ${secure} needs every agent's identity key vouched for by its mTLS certificate; ${unattested.map((a) => a.name).join(', ')} registered without one (is the mesh running --insecure? secure jobs are refused without mTLS)`,
    { field: 'secure' },
  );
}
