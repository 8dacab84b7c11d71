import type { JobStore } from '../job-store.js';
import type { RoundRecord } from '../../common/kinds/index.js';
import type { RoundStateStore } from './round-runner.js';

const ROUNDS = 'job_rounds';

/**
 * Completed rounds of multi-round jobs in the job store's database (public values only: the round's input, who
 * answered, the released sum and its noise). One row per (job, round), written before the next round starts, so a
 * restarted coordinator resumes after the last completed round; the primary key refuses a round stored twice.
 * `withheld_json` (added to older stores in place) keeps which entries agents withheld as small cells: without it a
 * resumed job would release their zeros as counts. `per_agent_json` (likewise added in place) keeps the per-agent
 * slices a kind asked for (`RoundRecord.perAgent`: mode none with plain sums only, where the coordinator holds each
 * agent's vector anyway), so a resumed job still releases them for the rounds before the restart. Stores it only
 * when present: under SecAgg/HE or in the DP modes the runner keeps none, and nothing more is written. `federation`
 * (likewise) is how many agents the job asked at its start (SCAFFOLD's N); `missed_json` who missed the round, so a
 * resumed job still names an agent that missed a round before the restart and came back; `min_cell_size_json` (mode
 * none) the answering agents' published minimum cell sizes, so a resumed release applies the thresholds it was
 * computed under.
 */
export async function openRoundStore(store: JobStore): Promise<RoundStateStore> {
  await store.withConnection((conn) =>
    conn.run(`CREATE TABLE IF NOT EXISTS ${ROUNDS} (job_id VARCHAR NOT NULL, round INTEGER NOT NULL, input_json VARCHAR NOT NULL, answered_json VARCHAR NOT NULL, released_json VARCHAR NOT NULL, noise_json VARCHAR NOT NULL, at_ms BIGINT NOT NULL, PRIMARY KEY (job_id, round))`),
  );
  await store.withConnection((conn) => conn.run(`ALTER TABLE ${ROUNDS} ADD COLUMN IF NOT EXISTS withheld_json VARCHAR`));
  await store.withConnection((conn) => conn.run(`ALTER TABLE ${ROUNDS} ADD COLUMN IF NOT EXISTS per_agent_json VARCHAR`));
  await store.withConnection((conn) => conn.run(`ALTER TABLE ${ROUNDS} ADD COLUMN IF NOT EXISTS federation INTEGER`));
  await store.withConnection((conn) => conn.run(`ALTER TABLE ${ROUNDS} ADD COLUMN IF NOT EXISTS missed_json VARCHAR`));
  await store.withConnection((conn) => conn.run(`ALTER TABLE ${ROUNDS} ADD COLUMN IF NOT EXISTS min_cell_size_json VARCHAR`));
  return {
    async loadRounds(jobId: string): Promise<RoundRecord[]> {
      const rows = await store.withConnection(async (conn) => (await conn.runAndReadAll(`SELECT * FROM ${ROUNDS} WHERE job_id = $1 ORDER BY round`, [jobId])).getRowObjectsJS());
      return rows.map((r, i) => {
        if (Number(r.round) !== i) throw new Error(`stored rounds of job ${jobId} are not contiguous at ${i}`);
        return {
          round: i,
          input: JSON.parse(String(r.input_json)) as unknown,
          answered: JSON.parse(String(r.answered_json)) as string[],
          released: JSON.parse(String(r.released_json)) as number[],
          noiseStd: JSON.parse(String(r.noise_json)) as number[],
          ...(r.withheld_json ? { withheld: JSON.parse(String(r.withheld_json)) as RoundRecord['withheld'] } : {}),
          ...(r.per_agent_json ? { perAgent: JSON.parse(String(r.per_agent_json)) as RoundRecord['perAgent'] } : {}),
          ...(r.federation !== null && r.federation !== undefined ? { federation: Number(r.federation) } : {}),
          ...(r.missed_json ? { missed: JSON.parse(String(r.missed_json)) as string[] } : {}),
          ...(r.min_cell_size_json ? { minCellSize: JSON.parse(String(r.min_cell_size_json)) as Record<string, number> } : {}),
        };
      });
    },
    async saveRound(jobId: string, rec: RoundRecord): Promise<void> {
      await store.withConnection((conn) =>
        conn.run(`INSERT INTO ${ROUNDS} (job_id, round, input_json, answered_json, released_json, noise_json, at_ms, withheld_json, per_agent_json, federation, missed_json, min_cell_size_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, [
          jobId,
          rec.round,
          JSON.stringify(rec.input),
          JSON.stringify(rec.answered),
          JSON.stringify(rec.released),
          JSON.stringify(rec.noiseStd),
          Date.now(),
          rec.withheld && rec.withheld.length > 0 ? JSON.stringify(rec.withheld) : null,
          rec.perAgent ? JSON.stringify(rec.perAgent) : null,
          rec.federation ?? null,
          rec.missed && rec.missed.length > 0 ? JSON.stringify(rec.missed) : null,
          rec.minCellSize && Object.keys(rec.minCellSize).length > 0 ? JSON.stringify(rec.minCellSize) : null,
        ]),
      );
    },
  };
}
