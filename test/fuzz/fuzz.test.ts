import { describe, expect, it } from 'vitest';
import { runCampaign } from './campaign.js';
import { KNOWN_FAILURES } from './known-failures.js';

/**
 * The CI fuzzer (issue 8): a seeded, bounded campaign against a real coordinator and two real agents (child
 * processes, mTLS, synthetic OMOP data). Every Coordinator method gets PER_METHOD random and mutated messages, and
 * the fuzzer plays a hostile agent on the AgentLink stream for AGENT_SESSIONS sessions. It fails on any crash,
 * hang, INTERNAL status, transport-made status, failed health probe or coordinator RSS growth over the bound.
 * Change the seed with FEDMESH_FUZZ_SEED=<n> to reproduce a run; `npm run fuzz -- --minutes N` runs longer.
 * Inputs known to fail before the issue-8 fixes are merged are gated in known-failures.ts and printed.
 */
const SEED = Number(process.env.FEDMESH_FUZZ_SEED ?? 20_261_203);
/** Upper bounds; each phase also stops at its time share, so the test stays near 100 s on a loaded 2-core machine. */
const PER_METHOD = 3_000;
const AGENT_SESSIONS = 40;
const SHARE_MS = { SubmitJob: 20_000, GetJob: 4_000, WatchJob: 4_000, ListJobs: 4_000, ListAgents: 4_000, GetBudget: 4_000, SetBudget: 4_000 };
const AGENT_SHARE_MS = 12_000;
/** Coordinator VmRSS growth allowed over the campaign (after a warm-up). */
const RSS_GROWTH_LIMIT_MIB = 200;

describe('fuzzer (seeded, bounded, real mesh over mTLS)', () => {
  it(`survives random and mutated messages on every Coordinator method and hostile agent sessions (seed ${SEED})`, async () => {
    const lines: string[] = [];
    const report = await runCampaign({
      seed: SEED,
      perMethod: PER_METHOD,
      agentSessions: AGENT_SESSIONS,
      maxMessagesPerSession: 200,
      methodShareMs: SHARE_MS,
      agentShareMs: AGENT_SHARE_MS,
      rssGrowthLimitMiB: RSS_GROWTH_LIMIT_MIB,
      restartOnFatal: false,
      log: (l) => {
        lines.push(l);
        console.log(`[fuzz] ${l}`);
      },
    });
    if (KNOWN_FAILURES.length > 0) console.log(`[fuzz] ${KNOWN_FAILURES.length} known-failure gates active: ${KNOWN_FAILURES.map((g) => `${g.id} (item ${g.item})`).join(', ')}`);
    const failures = report.failures.map((f) => `${f.kind} on ${f.target}: ${f.detail}\n    input: ${f.input}`);
    expect(failures, lines.join('\n')).toEqual([]);
    // A fuzzer that sends nothing proves nothing: every target must have been exercised at volume.
    for (const [target, c] of Object.entries(report.counts)) expect(c.sent, target).toBeGreaterThan(10);
  }, 170_000);
});
