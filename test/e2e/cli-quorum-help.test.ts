import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');
const run = promisify(execFile);

/** `--help` text of one command, unwrapped (commander wraps long descriptions at the terminal width). */
async function help(command: string): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, command, '--help'], { env: { ...process.env, COLUMNS: '400' } });
  return stdout.replace(/\s+/g, ' ');
}

/**
 * Issue 9 leftover: `--quorum` meant "a result missing agents is marked PARTIAL" in every command's help, which is
 * wrong for glm (an exact fit never drops a site: quorum is a floor checked at admission) and for train (it is the
 * fewest updates per round). Each command now says what its quorum is.
 */
describe('`--quorum` help says what the quorum means for each command', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  });

  it('glm: a floor at admission, every admitted agent answers every round, no partial fit', async () => {
    const h = await help('glm');
    expect(h).toMatch(/--quorum <n>\s+the fewest agents the fit may be made over/);
    expect(h).toMatch(/no partial fit/);
    expect(h).not.toMatch(/PARTIAL/);
  });

  it('train: the fewest updates a round aggregates (participation.minUpdates)', async () => {
    const h = await help('train');
    expect(h).toMatch(/--quorum <n>\s+the fewest updates a training round aggregates \(participation\.minUpdates\)/);
    expect(h).not.toMatch(/PARTIAL/);
  });

  it('survival: partial for Kaplan–Meier, a floor with no partial fit for Cox', async () => {
    const h = await help('survival');
    expect(h).toMatch(/--quorum <n>\s+Kaplan–Meier: .* marked PARTIAL; Cox \("model": "cox"\): the fewest agents the fit may be made over/);
  });

  it('control: the one-round kinds keep the partial-result meaning', async () => {
    for (const c of ['query', 'cohort', 'contingency']) expect(await help(c)).toMatch(/--quorum <n>\s+agents that must answer .* a result missing agents is marked PARTIAL/);
  });
});
