/**
 * Monotone search for the smallest integer that satisfies a condition, with a bound on the work that holds for
 * every double input. It replaces `m--` / `m++` correction loops seeded from a float: above 2^53, `m + 1 === m`,
 * and such a loop never ends (one request with ε = 3e-16 spun the coordinator for ever).
 */

/**
 * The most evaluations `smallestIntegerSatisfying` makes: ≤ 1,100 galloping steps (the distance doubles each step
 * and reaches ±Infinity after at most 1,075 doublings from 2^-1074) plus ≤ 1,100 bisection steps (the bracket
 * halves each step, from at most 2^1024 wide down to 1).
 */
export const MAX_INTEGER_SEARCH_STEPS = 2200;

/**
 * The smallest integer m ≥ lo with ok(m), for a monotone condition (false … false, true … true), searching from
 * `guess` (a closed-form estimate; only the speed depends on it). Galloping from the guess, then bisection: at
 * most MAX_INTEGER_SEARCH_STEPS evaluations. Above 2^53 not every integer is a double: the result is then the
 * smallest double tried for which ok holds, an upper bound of the exact answer (the safe side for the thresholds
 * and interval widths computed with it).
 * @throws RangeError if lo or guess is not finite, or no finite double satisfies ok
 */
export function smallestIntegerSatisfying(ok: (m: number) => boolean, lo: number, guess: number): number {
  if (!Number.isFinite(lo) || !Number.isFinite(guess)) throw new RangeError(`search bounds must be finite, got lo=${lo} guess=${guess}`);
  const start = Math.max(lo, Math.ceil(guess));
  // Invariant: ok(b); a < b and (a < lo or !ok(a)).
  let a: number;
  let b = start;
  if (ok(start)) {
    a = -Infinity;
    for (let d = 1; ; d *= 2) {
      const c = start - d;
      if (c < lo) break;
      if (!ok(c)) {
        a = c;
        break;
      }
      b = c;
    }
    if (a === -Infinity) {
      if (lo < b && ok(lo)) return lo;
      a = lo;
      if (lo === b) return b;
    }
  } else {
    a = start;
    for (let d = 1; ; d *= 2) {
      const c = start + d;
      if (!Number.isFinite(c)) throw new RangeError('no finite integer satisfies the condition');
      if (ok(c)) {
        b = c;
        break;
      }
      a = c;
    }
  }
  while (b - a > 1) {
    const mid = Math.floor(a / 2 + b / 2);
    if (mid <= a || mid >= b) break; // no representable integer strictly between a and b
    if (ok(mid)) b = mid;
    else a = mid;
  }
  return b;
}
