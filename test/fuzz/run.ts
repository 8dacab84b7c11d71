/**
 * `npm run fuzz -- [--minutes N] [--seed S] [--per-method N] [--sessions N]`: a longer fuzz campaign with the
 * generators of the CI test. It restarts the mesh after a crash or hang and goes on, so one run lists every distinct
 * failure it meets; exit code 1 when there was any. `--no-gates` sends the inputs known-failures.ts gates.
 */
import { parseArgs } from 'node:util';
import { runCampaign } from './campaign.js';
import { KNOWN_FAILURES } from './known-failures.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    seed: { type: 'string' },
    'per-method': { type: 'string' },
    sessions: { type: 'string' },
    'no-gates': { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new RangeError(`--minutes must be a positive number, got ${values.minutes}`);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const deadlineMs = minutes * 60_000;
// Time is split: about 80 % for the Coordinator methods, the rest for agent sessions (about 3 s each).
const perMethod = values['per-method'] === undefined ? 1_000_000 : Number(values['per-method']);
const sessions = values.sessions === undefined ? Math.max(10, Math.round((deadlineMs * 0.2) / 3_000)) : Number(values.sessions);

const report = await runCampaign({
  seed,
  perMethod,
  agentSessions: sessions,
  maxMessagesPerSession: 300,
  deadlineMs,
  rssGrowthLimitMiB: 200,
  restartOnFatal: true,
  gates: values['no-gates'] ? [] : KNOWN_FAILURES,
  log: (l) => console.log(l),
  methodShareMs: (deadlineMs * 0.8) / 7,
});
console.log(`\nseed ${seed}; ${report.restarts} restarts; counts ${JSON.stringify(report.counts, null, 1)}`);
for (const f of report.failures) console.log(`- ${f.kind} on ${f.target}: ${f.detail}\n    input: ${f.input}`);
process.exitCode = report.failures.length > 0 ? 1 : 0;
