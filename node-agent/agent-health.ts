/** Whether an agent can do its work: SERVING only with a clean last ingest and a registered link. */
export interface AgentHealth {
  serving: boolean;
  /** Why not serving (empty when serving): counts and states, never file contents. */
  reasons: string[];
}
