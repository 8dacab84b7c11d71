/**
 * The HE key holder of a kind-seam round sends each entry's decoded total (red team 51); the coordinator takes only
 * totals that the answering contributions can sum to, from public facts: on each block's grid and within m times its
 * per-agent bounds (red team 52: a forged 1e300, an off-grid or negative count was released as is). Control: the
 * totals of m honest vectors, decoded as the key holder decodes them, pass unchanged.
 */
import { describe, expect, it } from 'vitest';
import { compileKindJob, decodeSecureVector, encodeSecureVector, heVectorPlan, kindPrivacyModeOf, secureVectorEntries } from '../../common/kinds/index.js';
import { encodeEnvelope } from '../../common/secure/index.js';
import { KINDS } from '../../jobs/kinds.js';
import { studySpec } from '../../test/helpers/glm-data.js';
import { heRoundSum, type SecureRoundContext } from './secure-round.js';

const def = KINDS.get('glm')!;
const job = compileKindJob(def, studySpec('binomial', { secure: 'he' }));
const layout = def.layout(job as never, 0);
const n = 3;
const noise = kindPrivacyModeOf(def, job).roundNoise(job, layout, { agents: n });
const { vector, he } = heVectorPlan(job, layout, noise, n);
const entries = secureVectorEntries(vector);

function le(values: Float64Array): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  values.forEach((x, i) => new DataView(out.buffer).setFloat64(i * 8, x, true));
  return out;
}

/** One HE round whose key holder answers he-decrypt with `totals`. */
function round(totals: Float64Array): ReturnType<typeof heRoundSum> {
  const ctx: SecureRoundContext = {
    job,
    jobId: 'j',
    round: 0,
    layout,
    noise,
    participants: ['a1', 'a2', 'a3'],
    deadlineMs: Date.now() + 60_000,
    attestationOf: () => ({ identityPublicKey: 'x', signature: 'y', certificatePem: 'z' }) as never,
    ask: async (agent, phase) => {
      if (phase === 'he-keys') return { ok: true, bytes: encodeEnvelope({ keyHolder: agent, publicKey: new Uint8Array(he.publicKeyByteSize), signature: new Uint8Array(64) }) };
      if (phase === 'he-encrypt') return { ok: true, bytes: encodeEnvelope({ ciphertexts: new Uint8Array(he.ciphertextCount * he.ciphertextByteSize), signature: new Uint8Array(64) }) };
      return { ok: true, bytes: le(totals) };
    },
  };
  return heRoundSum(ctx);
}

/** The totals three agents' vectors of `x` everywhere decode to, as the key holder decodes them. */
function honest(x: number): Float64Array {
  const one = encodeSecureVector(vector, { values: new Float64Array(entries).fill(x) }, true) as BigInt64Array;
  const sum = one.map((v) => v * 3n);
  return decodeSecureVector(vector, sum).values;
}

describe('HE totals from the key holder', () => {
  it('control: honest totals pass unchanged (and -0 becomes 0)', async () => {
    const t = honest(1);
    expect(Array.from((await round(t)).sum.values)).toEqual(Array.from(t));
    const z = honest(0);
    z[0] = -0;
    expect(Object.is((await round(z)).sum.values[0], -0)).toBe(false);
  });

  it.each([
    ['far past m times the bounds', 0, 1e300],
    ['off the block grid', 0, 0.123456789],
    ['below m times the first block\'s lower bound (twice it)', 0, Number(3n * vector.blocks[0]!.lo) * 2 * 2 ** vector.blocks[0]!.gridExponent],
  ])('refuses a total %s, naming the block', async (_what, at, value) => {
    const t = honest(1);
    t[at] = value;
    await expect(round(t)).rejects.toMatchObject({ code: 'QUORUM_NOT_MET', message: expect.stringMatching(/decrypted total for block \S+ that 3 contributions cannot sum to/) });
  });
});
