/**
 * GLM families and links as R's `stats` package defines them (family.R, and logit linkinv / mu.eta in C), so that
 * iteration counts, deviances and AIC match `glm()`: gaussian/identity, binomial/logit and poisson/log.
 *
 * R's numerical guards are *not* kept: R saturates the logit inverse at |η| > 30 and floors the log link's μ and
 * dμ/dη at DBL_EPSILON. In a federated fit the coordinator chooses η (through β), and each guard is a jump or a
 * corner it can place between two persons, so that two rounds difference to one person's row (red teams 4–6). Here
 * μ, dμ/dη, the deviance and the log-likelihood are smooth in η; they equal R's wherever |η| ≤ 30 (binomial) and
 * e^η ≥ ε (poisson), i.e. in every fit that is not separated, and the iteration counts match R there.
 */
import { lnGamma } from '../stats/gamma.js';

/** Smallest double d with 1 + d ≠ 1, R's `.Machine$double.eps`. */
export const DBL_EPSILON = 2.220446049250313e-16;

export const GLM_FAMILIES = ['gaussian', 'binomial', 'poisson'] as const;
export type GlmFamilyName = (typeof GLM_FAMILIES)[number];
export const GLM_LINKS = ['identity', 'logit', 'log'] as const;
export type GlmLinkName = (typeof GLM_LINKS)[number];

/** The canonical (and only supported) link of each family. */
export const CANONICAL_LINK: Readonly<Record<GlmFamilyName, GlmLinkName>> = Object.freeze({
  gaussian: 'identity',
  binomial: 'logit',
  poisson: 'log',
});

/** A family with its link; all functions are per observation and allocation-free. */
export interface GlmFamily {
  readonly name: GlmFamilyName;
  readonly link: GlmLinkName;
  /** Whether R estimates the dispersion (gaussian: yes, so t tests; binomial and poisson: fixed at 1, so z tests). */
  readonly estimatesDispersion: boolean;
  linkfun(mu: number): number;
  linkinv(eta: number): number;
  /** dμ/dη at η. */
  muEta(eta: number): number;
  variance(mu: number): number;
  /**
   * One observation's deviance residual (its contribution to the deviance), with prior weight `wt`, from the linear
   * predictor η (not from μ = linkinv(η)): linkinv saturates (binomial at |η| > 30, poisson at e^η < ε), and a deviance
   * of the saturated μ jumps there by an amount that depends on y, so a coordinator choosing β could read one
   * person's outcome from where the jump falls (red team 4, F1). From η the y-dependent part is linear in η
   * (binomial: softplus(η) − y·η; poisson: e^η − y·η), so the summed deviance tells only Σ y·η, an aggregate. Equal to
   * R's deviance wherever linkinv does not saturate.
   */
  devResid(y: number, eta: number, wt: number): number;
  /** R's starting value μ⁰ for one observation (`family$initialize`). */
  mustart(y: number, wt: number): number;
  /**
   * One observation's log-likelihood at μ for the AIC, as R's family$aic weighs it, for families with a fixed
   * dispersion (binomial, poisson), from η as `devResid` is. Gaussian returns 0: its AIC needs the total deviance.
   */
  logLik(y: number, eta: number, wt: number): number;
  /** Whether y is a valid outcome value for this family (binomial: a proportion in [0, 1], usually 0 or 1; poisson: ≥ 0). */
  validOutcome(y: number): boolean;
}

/** x·log x, 0 at 0. */
function xLogX(x: number): number {
  return x > 0 ? x * Math.log(x) : 0;
}

/** log(1 + e^z) without overflow or cancellation. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** ln Γ(y + 1) for a count y ≥ 0 (exact sum of logs below 50, Stirling via lgamma above). */
function lnFactorial(y: number, lnGamma: (x: number) => number): number {
  if (y < 2) return 0;
  if (y < 50 && Number.isInteger(y)) {
    let s = 0;
    for (let k = 2; k <= y; k++) s += Math.log(k);
    return s;
  }
  return lnGamma(y + 1);
}

const gaussian: GlmFamily = Object.freeze({
  name: 'gaussian',
  link: 'identity',
  estimatesDispersion: true,
  linkfun: (mu: number) => mu,
  linkinv: (eta: number) => eta,
  muEta: () => 1,
  variance: () => 1,
  devResid: (y: number, eta: number, wt: number) => wt * (y - eta) * (y - eta),
  mustart: (y: number) => y,
  logLik: () => 0,
  validOutcome: (y: number) => Number.isFinite(y),
});

const binomial: GlmFamily = Object.freeze({
  name: 'binomial',
  link: 'logit',
  estimatesDispersion: false,
  linkfun: (mu: number) => Math.log(mu / (1 - mu)),
  // Not saturated at |η| > 30 as R's binomial() is: with μ and dμ/dη continuous in η, the working weight W = w·dμ/dη
  // (canonical link) has no jump a coordinator's β could place between two persons (red team 5, N1: the jump from
  // e^-30 to ε at η = −30 made two rounds' XᵀWX differ by one person's xxᵀ). Equal to R's wherever |η| ≤ 30.
  linkinv: (eta: number) => (eta >= 0 ? 1 / (1 + Math.exp(-eta)) : Math.exp(eta) / (1 + Math.exp(eta))),
  muEta: (eta: number) => {
    const e = Math.exp(-Math.abs(eta));
    return e / ((1 + e) * (1 + e));
  },
  variance: (mu: number) => mu * (1 - mu),
  // 2w[y·log(y/μ) + (1 − y)·log((1 − y)/(1 − μ))] with log μ = −softplus(−η), log(1 − μ) = −softplus(η).
  devResid: (y: number, eta: number, wt: number) => 2 * wt * (xLogX(y) + xLogX(1 - y) + y * softplus(-eta) + (1 - y) * softplus(eta)),
  mustart: (y: number, wt: number) => (wt * y + 0.5) / (wt + 1),
  // R's binomial()$aic: dbinom(round(wt·y), round(wt), μ, log = TRUE) — y may be a proportion with the number
  // of trials as its weight; for a 0/1 outcome with weight 1 it is log μ or log(1 − μ).
  logLik: (y: number, eta: number, wt: number) => {
    const m = Math.round(wt);
    const k = Math.round(wt * y);
    const choose = k === 0 || k === m ? 0 : lnGamma(m + 1) - lnGamma(k + 1) - lnGamma(m - k + 1);
    return choose - (k > 0 ? k * softplus(-eta) : 0) - (m - k > 0 ? (m - k) * softplus(eta) : 0);
  },
  validOutcome: (y: number) => y >= 0 && y <= 1,
});

function makePoisson(lnGamma: (x: number) => number): GlmFamily {
  return Object.freeze({
    name: 'poisson',
    link: 'log',
    estimatesDispersion: false,
    linkfun: (mu: number) => Math.log(mu),
    // Not floored at ε as R's poisson() is: below η = ln ε every row's weight would be ε whatever β0, above it e^η, so
    // two rounds could difference to the rows between two thresholds (red team 6, F1). W = w·e^η is continuous.
    linkinv: (eta: number) => Math.exp(eta),
    muEta: (eta: number) => Math.exp(eta),
    variance: (mu: number) => mu,
    // 2w[y·log(y/μ) − (y − μ)] with log μ = η, μ = e^η (unfloored).
    devResid: (y: number, eta: number, wt: number) => (y > 0 ? 2 * wt * (y * Math.log(y) - y * eta - y + Math.exp(eta)) : 2 * wt * Math.exp(eta)),
    mustart: (y: number) => y + 0.1,
    // R: dpois(y, μ, log = TRUE)·wt = wt·(y·log μ − μ − ln y!).
    logLik: (y: number, eta: number, wt: number) => wt * ((y > 0 ? y * eta : 0) - Math.exp(eta) - lnFactorial(y, lnGamma)),
    validOutcome: (y: number) => Number.isFinite(y) && y >= 0,
  } satisfies GlmFamily);
}

const poisson = makePoisson(lnGamma);

const FAMILIES: Readonly<Record<GlmFamilyName, GlmFamily>> = Object.freeze({ gaussian, binomial, poisson });

/**
 * The family object for a name; the link, when given, must be the family's canonical link (the only one
 * supported: identity, logit, log).
 * @throws RangeError for an unknown family or a link the family does not support here
 */
export function glmFamily(name: GlmFamilyName, link?: GlmLinkName): GlmFamily {
  const fam = (FAMILIES as Record<string, GlmFamily | undefined>)[name];
  if (!fam) throw new RangeError(`glmFamily: unknown family ${JSON.stringify(name)} (supported: ${GLM_FAMILIES.join(', ')})`);
  if (link !== undefined && link !== fam.link) throw new RangeError(`glmFamily: family ${name} supports link ${fam.link} only, got ${JSON.stringify(link)}`);
  return fam;
}
