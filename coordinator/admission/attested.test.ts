import { describe, expect, it } from 'vitest';
import type { AgentView } from '../agent-registry.js';
import { checkAttested } from './attested.js';

describe('a secure sum needs every agent\'s certificate-vouched identity key', () => {
  it('refuses at submission naming the agents registered without one; passes when all have one (control)', () => {
    const with_ = { name: 'a1', identity: {} } as unknown as AgentView;
    const without = { name: 'a2' } as unknown as AgentView;
    expect(() => checkAttested('secagg', [with_, without])).toThrow(/secure: secagg needs every agent's identity key vouched for by its mTLS certificate; a2 registered without one/);
    let refused: unknown;
    try {
      checkAttested('secagg', [without]);
    } catch (e) {
      refused = e;
    }
    expect(refused).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'secure' });
    expect(() => checkAttested('secagg', [with_])).not.toThrow();
  });
});
