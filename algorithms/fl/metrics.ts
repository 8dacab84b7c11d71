/**
 * Evaluation from additive, public-threshold histograms: each agent counts, for a public grid of score thresholds
 * t_j, how many positive and negative test rows score ≥ t_j. Summed over agents, the histogram gives the pooled ROC
 * curve at those thresholds and its AUC by the trapezoidal rule, without any row-level score leaving an agent.
 * With T thresholds the AUC is exact up to ties within a bin (the error shrinks as 1/T for smooth score laws).
 */

/** T + 1 public thresholds 0, 1/T, …, 1 over a score in [0, 1]. */
export function thresholdGrid(bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  return Array.from({ length: bins + 1 }, (_, j) => j / bins);
}

/**
 * Adds rows to a histogram: pos[j] (neg[j]) counts positive (negative) rows with score ≥ thresholds[j].
 * Thresholds must increase.
 */
export function addToRocHistogram(scores: ArrayLike<number>, labels: ArrayLike<number>, thresholds: readonly number[], pos: Float64Array, neg: Float64Array): void {
  const T = thresholds.length;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    // Binary search for the number of thresholds ≤ s.
    let lo = 0;
    let hi = T;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (thresholds[mid]! <= s) lo = mid + 1;
      else hi = mid;
    }
    const target = labels[i]! > 0.5 ? pos : neg;
    // Counts are kept cumulative later; here count in the bin of the largest threshold ≤ s.
    if (lo > 0) target[lo - 1]! += 1;
  }
}

/** Turns per-bin counts (as {@link addToRocHistogram} leaves them) into "≥ threshold" counts, in place. */
export function cumulateFromTop(h: Float64Array): void {
  for (let j = h.length - 2; j >= 0; j--) h[j]! += h[j + 1]!;
}

/**
 * AUC by the trapezoidal rule over the ROC points (FPR_j, TPR_j) of the "≥ threshold" counts, plus (0, 0).
 * NaN when one class is empty.
 */
export function aucFromRoc(posAtLeast: ArrayLike<number>, negAtLeast: ArrayLike<number>, totalPos: number, totalNeg: number): number {
  if (!(totalPos > 0 && totalNeg > 0)) return Number.NaN;
  // Points from the lowest threshold (everything positive: (1, 1)) to above the highest ((0, 0)).
  let auc = 0;
  let prevF = 0;
  let prevT = 0;
  for (let j = posAtLeast.length - 1; j >= 0; j--) {
    const tpr = Math.min(1, Math.max(0, posAtLeast[j]! / totalPos));
    const fpr = Math.min(1, Math.max(0, negAtLeast[j]! / totalNeg));
    auc += ((fpr - prevF) * (tpr + prevT)) / 2;
    prevF = fpr;
    prevT = tpr;
  }
  auc += ((1 - prevF) * (1 + prevT)) / 2;
  return auc;
}

/** Exact AUC (Mann–Whitney, ties count one half) of row-level scores: the reference for tests and pooled runs. */
export function exactAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPos = 0;
  let nPos = 0;
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[idx[k]!]! > 0.5) {
        rankSumPos += rank;
        nPos++;
      }
    }
    i = j + 1;
  }
  const nNeg = idx.length - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}
