/**
 * Per-task cost of governance, measured in-process: signing and verifying an identity assertion (every task) and
 * a Cedar decision (every job task at a domain with a policy), against one SHA-256 of the spec as a baseline
 * measured interleaved. Run: `npx tsx benchmarks/governance.ts` (prints p50/p99 in microseconds).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createIdentityKeyPair } from '../common/crypto/index.js';
import { signIdentityAssertion, specSha256Hex, verifyIdentityAssertion } from '../common/identity/index.js';
import { compileAccessPolicy } from '../common/policy/index.js';

function time(fn: () => void, n: number): { p50: number; p99: number } {
  for (let i = 0; i < Math.min(200, n); i++) fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    fn();
    t.push((performance.now() - s) * 1000);
  }
  t.sort((a, b) => a - b);
  return { p50: Number(t[Math.floor(n / 2)]!.toFixed(1)), p99: Number(t[Math.floor(n * 0.99)]!.toFixed(1)) };
}

const key = createIdentityKeyPair();
const specJson = JSON.stringify({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 0.5 }, purpose: 'HRESCH' });
const claims = { v: 1 as const, researcher: 'alice', authenticatedBy: 'oidc' as const, attributes: { organisation: 'org-x', roles: ['researcher'], purposes: ['HRESCH'], projects: ['P1'] }, purpose: 'HRESCH', jobId: 'j1', round: 0, specSha256: specSha256Hex(specJson), agent: 'a1', issuedAtMs: Date.now(), expiresAtMs: Date.now() + 600_000 };
const token = signIdentityAssertion(claims, key.privateKey);
const policy = await compileAccessPolicy(readFileSync(join(import.meta.dirname, '../examples/policies/hospital-a.cedar'), 'utf8'), 'hospital-a.cedar');
const request = {
  principal: { name: 'alice', authenticatedBy: 'oidc', attributes: claims.attributes },
  job: JSON.parse(specJson) as never,
  product: { name: 'person', domain: 'a', tags: ['oncology'], sensitivity: 'sensitive' },
  minCellSize: 10,
  agent: 'a1',
};
const n = 5000;
const out = {
  baselineSha256: time(() => createHash('sha256').update(specJson).digest('hex'), n),
  signAssertion: time(() => signIdentityAssertion(claims, key.privateKey), n),
  verifyAssertion: time(() => verifyIdentityAssertion(token, key.publicKey, { jobId: 'j1', round: 0, specJson, agent: 'a1', researcher: 'alice', nowMs: Date.now() }), n),
  cedarDecision: time(() => policy.decide(request), n),
  assertionBytes: token.length,
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
