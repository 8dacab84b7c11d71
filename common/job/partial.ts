/** An agent a result does not include, and why (never data: liveness, schema, policy or transport reasons). */
export interface MissingAgentInfo {
  agent: string;
  reason: string;
}

/**
 * The one line that says a result is partial, shared by the coordinator (a note in the result) and the CLI (its
 * text output), so both say the same thing: "PARTIAL result: N of M agents answered; missing: a (reason), …".
 */
export function partialLine(answered: number, missing: readonly MissingAgentInfo[]): string {
  return `PARTIAL result: ${answered} of ${answered + missing.length} agents answered; missing: ${missing.map((m) => `${m.agent} (${m.reason})`).join(', ')}`;
}
