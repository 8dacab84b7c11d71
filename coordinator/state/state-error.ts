import { FedmeshError } from '../../common/errors.js';

/** The refusal to start on a state that failed its integrity check: every problem, and what to do. */
export function stateRefused(stateDir: string, problems: readonly string[]): FedmeshError {
  return new FedmeshError(
    'FAILED_PRECONDITION',
    `coordinator state in ${stateDir} failed its integrity check; refusing to start:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
      `Run \`fedmesh coordinator --check-state --state ${stateDir}\` for a report, and restore the folder from a backup. ` +
      'Starting anyway would lose privacy-budget charges and let researchers overspend.',
    { details: { problems: [...problems] } },
  );
}
