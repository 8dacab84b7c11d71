/**
 * Complementary suppression of a histogram (or quantile buckets) within its group (red team 30, F2): the group's
 * count minus the released bins is what the withheld bins and the values in no bin (missing, below the first edge,
 * above the last: `outsideParts`, each readable from another measure of the column) hold together. When any of those parts is of 1 … k − 1 persons, that difference, alone or less another measure's
 * `_missing`, may be a small cell's, so the released bin of the fewest persons is withheld too: the difference then
 * always holds a bin of at least k persons.
 */
export function withholdComplement(bins: (bigint | null)[], original: readonly (bigint | null)[], count: bigint, sizes: readonly bigint[], outsideParts: readonly bigint[], k: bigint): void {
  const released = bins.reduce<bigint>((a, b) => a + (b ?? 0n), 0n);
  if (count - released === 0n) return;
  const small = (n: bigint): boolean => n > 0n && n < k;
  const smallPart = outsideParts.some(small) || bins.some((b, i) => b === null && original[i] !== null && small(sizes[i]!));
  if (!smallPart) return;
  let pick = -1;
  bins.forEach((b, i) => {
    if (b !== null && b > 0n && (pick < 0 || sizes[i]! < sizes[pick]!)) pick = i;
  });
  if (pick >= 0) bins[pick] = null;
}
