/**
 * A kind's own noise plan (issue 9 item 2, generic): a kind may state how its job's budget is split over its blocks
 * and which exact sampler each noisy block gets — discrete Laplace when the job states ε alone, a discrete Gaussian
 * at the ρ of (ε, δ) — instead of the seam's even ρ split and discrete Gaussian (noise-calibration.ts). The ported
 * built-in kinds use it so that their noise, their charge and their privacy statement stay what they were, draw for
 * draw. It covers the modes whose noise is one draw per entry of an integer block: central-dp (the coordinator, on
 * the sum) and local-dp (each agent, on its own vector). distributed-dp keeps the seam's shares (KLS 2021), which
 * only a discrete Gaussian gives.
 */
import { asBufferedRng } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import type { CompiledKindJob, KindJobCommon, KindNoisePlan } from './kind.js';
import { identityVector, NO_NOISE, type BlockNoise, type PrivacyModeDef, type RoundNoiseContext } from './noise-calibration.js';
import { privacyModeOf } from './privacy-modes.js';
import type { StatLayout, StatVector } from './stat-layout.js';

const PLANNED_MODES = new Set(['central-dp', 'local-dp']);

/**
 * The privacy mode module a job of `def` runs under: the kind's own noise plan where it states one (central-dp and
 * local-dp), else the seam's module for the job's mode.
 * @throws FedmeshError INVALID_JOB from the kind's plan (a budget it cannot calibrate)
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function kindPrivacyModeOf(def: { noisePlan?(job: CompiledKindJob<any, any>): KindNoisePlan }, job: CompiledKindJob): PrivacyModeDef {
  if (!def.noisePlan || !PLANNED_MODES.has(job.privacy.mode)) return privacyModeOf(job);
  const plan = def.noisePlan(job);
  const central = job.privacy.mode === 'central-dp';
  const add = (v: StatVector, layout: StatLayout, rng: Rng): StatVector => {
    const out = Float64Array.from(v.values);
    // One buffered stream per call, entries in layout order: the built-in kinds drew their noise exactly so.
    const r = asBufferedRng(rng);
    let at = 0;
    layout.blocks.forEach((b, i) => {
      const s = plan.blocks[i];
      if (s && 'select' in s) {
        if (b.selectedAtCoordinator !== true) throw new RangeError(`block ${b.name}: the noise plan selects it, but the layout does not say so (selectedAtCoordinator)`);
        // The exact sum goes into the mechanism and only its output comes out (checked: at most the block's length).
        const chosen = s.select(Array.from(out.subarray(at, at + b.length), (x) => BigInt(Math.round(x))), r);
        if (chosen.length > b.length) throw new RangeError(`block ${b.name}: the selection returned ${chosen.length} entries for a block of ${b.length}`);
        for (let j = 0; j < b.length; j++) out[at + j] = chosen[j] ?? 0;
      } else if (s) for (let j = 0; j < b.length; j++) out[at + j] = Number(BigInt(Math.round(out[at + j]!)) + s.sample(r));
      at += b.length;
    });
    return { values: out };
  };
  return Object.freeze({
    name: job.privacy.mode,
    cost: () => plan.cost,
    roundNoise(_job: KindJobCommon, layout: StatLayout, ctx?: RoundNoiseContext): BlockNoise[] {
      if (layout.blocks.length !== plan.blocks.length) throw new RangeError(`the kind's noise plan has ${plan.blocks.length} blocks, the layout ${layout.blocks.length}`);
      return layout.blocks.map((b, i) => {
        const s = plan.blocks[i];
        if (!s) return NO_NOISE;
        // A selection runs on the exact sum at the coordinator: central-dp only (an agent cannot select on its own share).
        if ('select' in s) {
          if (!central) throw new RangeError(`block ${b.name}: a selection block runs in central-dp only, not ${job.privacy.mode}`);
          return { std: 0, gridExponent: b.gridExponent ?? 0, sigma2Grid: 0, agentSigma2Grid: 0 };
        }
        const v = s.std * s.std;
        // local-dp: the sum of n agents' draws; at an agent (no ctx) its own draw.
        return { std: central ? s.std : Math.sqrt(ctx?.agents ?? 1) * s.std, gridExponent: b.gridExponent ?? 0, sigma2Grid: central ? v : 0, agentSigma2Grid: central ? 0 : v };
      });
    },
    atAgent: central ? identityVector : (v: StatVector, _n: readonly BlockNoise[], layout: StatLayout, rng: Rng) => add(v, layout, rng),
    atCoordinator: central ? (v: StatVector, _n: readonly BlockNoise[], layout: StatLayout, rng: Rng) => add(v, layout, rng) : identityVector,
  });
}
