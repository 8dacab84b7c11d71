/**
 * How a failed round's error shows the agents' own messages: whole up to a bound (the agent link already cuts at
 * 1 000 characters, saying how long it was), by agent name so that a refusal reads the same however the replies
 * raced, and a bounded number of agents (the rest stay in the error's details). Pure.
 */

/** Longest part of an agent's error message a failed round's error shows (the agent link cuts at 1 000 characters). */
export const MAX_SHOWN_AGENT_ERROR = 1100;
/** Most agents whose messages a failed round's error lists. */
export const MAX_SHOWN_AGENTS = 5;

/** An agent's message as a round's error shows it. */
export function shownAgentMessage(message: string): string {
  return message.length <= MAX_SHOWN_AGENT_ERROR ? message : `${message.slice(0, MAX_SHOWN_AGENT_ERROR)}… (${message.length} characters)`;
}

/** "a: CODE: message; b: …" for the agents' errors, by agent name, at most MAX_SHOWN_AGENTS of them. */
export function shownAgentErrors(errors: Readonly<Record<string, { readonly code: string; readonly message: string }>>): string {
  const all = Object.entries(errors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const list = all.slice(0, MAX_SHOWN_AGENTS).map(([a, e]) => `${a}: ${e.code}: ${shownAgentMessage(e.message)}`);
  if (all.length > MAX_SHOWN_AGENTS) list.push(`and ${all.length - MAX_SHOWN_AGENTS} more agents' errors (in the error's details)`);
  return list.join('; ');
}
