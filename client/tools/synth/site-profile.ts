/**
 * How one synthetic site differs from the others. Sites 1–3 have fixed, recognisable characters (an older
 * population, a diabetes-heavy population, a cardiology centre) so that demos and tests can rely on them; sites
 * from 4 on get characters drawn deterministically from (seed, site index).
 */
export interface SiteProfile {
  readonly siteIndex: number;
  readonly label: string;
  /** Mean age in years at the data extraction date. */
  readonly ageMeanYears: number;
  readonly ageSdYears: number;
  /** Added to the log-odds of type 2 diabetes. */
  readonly diabetesShift: number;
  /** Added to the log-odds of atrial fibrillation, myocardial infarction and heart failure. */
  readonly cardioShift: number;
  /** Added to the log-odds of COPD and asthma. */
  readonly respiratoryShift: number;
  /** Share of persons recorded as white; the remainder is split between black, asian and unknown. */
  readonly whiteShare: number;
}

const FIXED: readonly Omit<SiteProfile, 'siteIndex'>[] = [
  { label: 'older population', ageMeanYears: 58, ageSdYears: 19, diabetesShift: 0, cardioShift: 0, respiratoryShift: 0.2, whiteShare: 0.78 },
  { label: 'high diabetes prevalence', ageMeanYears: 46, ageSdYears: 21, diabetesShift: 0.9, cardioShift: 0, respiratoryShift: 0, whiteShare: 0.55 },
  { label: 'cardiology centre', ageMeanYears: 52, ageSdYears: 20, diabetesShift: 0, cardioShift: 0.9, respiratoryShift: -0.2, whiteShare: 0.7 },
];

/** The profile of site `siteIndex` (1-based) under `seed`. */
export function siteProfile(siteIndex: number, seed: number): SiteProfile {
  const fixed = FIXED[siteIndex - 1];
  if (fixed !== undefined) return { siteIndex, ...fixed };
  // Seeds are any safe integer: fold the high bits in so that seeds 2^32 apart still differ.
  const seedBits = mix32(seed % 4294967296) ^ mix32(Math.floor(seed / 4294967296) + 0x51ed);
  const draw = (k: number): number => mix32(seedBits ^ mix32(siteIndex * 0x9e37 + k)) / 4294967296;
  return {
    siteIndex,
    label: 'general population',
    ageMeanYears: round2(36 + 20 * draw(1)),
    ageSdYears: round2(18 + 5 * draw(2)),
    diabetesShift: round2(-0.4 + 0.9 * draw(3)),
    cardioShift: round2(-0.4 + 0.9 * draw(4)),
    respiratoryShift: round2(-0.3 + 0.6 * draw(5)),
    whiteShare: round2(0.5 + 0.35 * draw(6)),
  };
}

/** A 32-bit integer avalanche (xor-shift-multiply rounds), returned as an unsigned number. */
function mix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
