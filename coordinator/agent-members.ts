import type { JobStore } from './job-store.js';
import type { AgentMember } from './agent-registry.js';

/**
 * The mesh's members in the coordinator's state database, so that an agent that is down when the coordinator
 * restarts still counts in every default quorum (it would otherwise silently drop out of results). A member leaves
 * only when an administrator removes it (`fedmesh agents remove`).
 */
export class AgentMembers {
  private constructor(private readonly store: JobStore) {}

  static async open(store: JobStore): Promise<AgentMembers> {
    await store.withConnection((conn) =>
      conn.run(`CREATE TABLE IF NOT EXISTS agent_members (
        name VARCHAR PRIMARY KEY, domain VARCHAR NOT NULL, products_json VARCHAR NOT NULL,
        registered_at_ms BIGINT NOT NULL, last_heartbeat_ms BIGINT NOT NULL, not_live_since_ms BIGINT, not_live_reason VARCHAR)`),
    );
    return new AgentMembers(store);
  }

  async load(): Promise<AgentMember[]> {
    const rows = await this.store.withConnection(async (conn) => (await conn.runAndReadAll('SELECT * FROM agent_members ORDER BY name')).getRowObjectsJS());
    return rows.map((r) => ({
      name: String(r.name),
      domain: String(r.domain),
      products: JSON.parse(String(r.products_json)) as string[],
      registeredAtMs: Number(r.registered_at_ms),
      lastHeartbeatMs: Number(r.last_heartbeat_ms),
      ...(r.not_live_since_ms === null ? {} : { notLiveSinceMs: Number(r.not_live_since_ms) }),
      ...(r.not_live_reason === null ? {} : { notLiveReason: String(r.not_live_reason) }),
    }));
  }

  /** Writes a member's current state (one statement: atomic). */
  async save(m: AgentMember): Promise<void> {
    await this.store.withConnection((conn) =>
      conn.run(
        `INSERT OR REPLACE INTO agent_members VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [m.name, m.domain, JSON.stringify(m.products), m.registeredAtMs, m.lastHeartbeatMs, m.notLiveSinceMs ?? null, m.notLiveReason ?? null],
      ),
    );
  }

  async remove(name: string): Promise<void> {
    await this.store.withConnection((conn) => conn.run('DELETE FROM agent_members WHERE name = $1', [name]));
  }
}
