import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withStateDb } from './state-db.js';

/**
 * Removes job `id`'s charge from a stopped coordinator's state so that the ledger stays consistent in itself: its
 * rows, its ledger-chain entries (they must be the last ones) and the head file. Only the audit log can tell.
 */
export function deleteLastCharge(state: string, id: string): Promise<void> {
  return withStateDb(state, async (conn) => {
    const seq = Number((await conn.runAndReadAll(`SELECT min(seq) AS s FROM ledger_chain WHERE entry LIKE '%"job":"${id}"%'`)).getRowObjectsJS()[0]!.s);
    const prev = String((await conn.runAndReadAll(`SELECT hash FROM ledger_chain WHERE seq = ${seq - 1}`)).getRowObjectsJS()[0]!.hash);
    await conn.run(`DELETE FROM ledger_chain WHERE seq >= ${seq}`);
    await conn.run(`DELETE FROM population_charges WHERE job_id = '${id}'`);
    await conn.run(`DELETE FROM jobs WHERE id = '${id}'`);
    writeFileSync(join(state, 'ledger-head.json'), `${JSON.stringify({ version: 1, seq: seq - 1, hash: prev })}\n`);
  });
}
