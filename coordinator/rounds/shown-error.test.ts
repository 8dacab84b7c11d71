import { describe, expect, it } from 'vitest';
import { MAX_SHOWN_AGENTS, MAX_SHOWN_AGENT_ERROR, shownAgentErrors, shownAgentMessage } from './shown-error.js';

describe('agents\' errors in a failed round\'s message', () => {
  it('lists them by agent name, whatever order they failed in, each whole up to the bound', () => {
    const fix = 'use edges around every value and filter missing values out with where, or use a DP mode';
    const long = `measures[4]: 1 … 4 persons' values are missing; ${'x'.repeat(180)} (${fix})`;
    // Recorded as the replies raced: s3 first.
    const text = shownAgentErrors({ s3: { code: 'POLICY_DENIED', message: long }, s1: { code: 'POLICY_DENIED', message: long } });
    expect(text.indexOf('s1: POLICY_DENIED')).toBeLessThan(text.indexOf('s3: POLICY_DENIED'));
    // The fix at the end of a 300-character message is kept (the old 200-character cut lost it).
    expect(text.split(fix)).toHaveLength(3);
  });

  it('cuts a message past the bound, saying how long it was; a short one is unchanged (control)', () => {
    const m = 'y'.repeat(MAX_SHOWN_AGENT_ERROR + 50);
    expect(shownAgentMessage(m)).toBe(`${'y'.repeat(MAX_SHOWN_AGENT_ERROR)}… (${m.length} characters)`);
    expect(shownAgentMessage('short')).toBe('short');
  });

  it('names at most MAX_SHOWN_AGENTS agents and says how many more failed', () => {
    const errors = Object.fromEntries(Array.from({ length: MAX_SHOWN_AGENTS + 3 }, (_, i) => [`a${String(i).padStart(2, '0')}`, { code: 'AGENT_UNAVAILABLE', message: 'no answer' }]));
    const text = shownAgentErrors(errors);
    expect(text.match(/AGENT_UNAVAILABLE/g)).toHaveLength(MAX_SHOWN_AGENTS);
    expect(text).toMatch(/and 3 more agents' errors/);
    expect(shownAgentErrors({})).toBe('');
  });
});
