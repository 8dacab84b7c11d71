/**
 * Counter-based randomness in SQL. Every random draw is a pure function of (seed, key, stream): the 64-bit hash
 * of those three values, hashed once more and mapped to (0, 1). The output therefore does not depend on how
 * DuckDB splits work across threads, unlike `random()`.
 *
 * The second `hash` matters: DuckDB combines the hashes of several arguments cheaply, and draws that differ only
 * in `stream` came out strongly correlated (r ≈ 0.6) without it; hashing the combined value again runs it
 * through the full 64-bit finaliser (measured r ≈ 0.001 over 10^6 draws).
 *
 * SQL built here refers to the bound parameter `$seed`.
 */

const INV_2_POW_53 = '1.1102230246251565e-16';

/** A uniform draw in (0, 1) for the row identified by `keyExpr` (a BIGINT SQL expression). */
export function uniformSql(keyExpr: string, stream: number): string {
  return `(((hash(hash($seed::BIGINT, (${keyExpr})::BIGINT, ${streamLiteral(stream)})) >> 11)::DOUBLE + 0.5) * ${INV_2_POW_53})`;
}

/** A standard normal draw (Box–Muller) using streams `stream` and `stream + 1`. */
export function normalSql(keyExpr: string, stream: number): string {
  return `(sqrt(-2.0 * ln(${uniformSql(keyExpr, stream)})) * cos(2.0 * pi() * ${uniformSql(keyExpr, stream + 1)}))`;
}

/** The logistic function of a SQL expression: a probability from log-odds. */
export function sigmoidSql(logitExpr: string): string {
  return `(1.0 / (1.0 + exp(-(${logitExpr}))))`;
}

/** `value` clamped to [lo, hi] and rounded to `digits` decimals. */
export function clampRoundSql(valueExpr: string, lo: number, hi: number, digits: number): string {
  return `round(least(${hi}::DOUBLE, greatest(${lo}::DOUBLE, ${valueExpr})), ${digits})`;
}

function streamLiteral(stream: number): string {
  if (!Number.isSafeInteger(stream) || stream < 0) throw new RangeError(`stream must be a non-negative integer, got ${stream}`);
  return `${stream}::INTEGER`;
}

/**
 * Picks the `$name` parameters a statement uses out of a full set: DuckDB refuses values for parameters a
 * statement does not mention.
 */
export function paramsFor<T>(sql: string, all: Readonly<Record<string, T>>): Record<string, T> {
  const used: Record<string, T> = {};
  for (const [name, value] of Object.entries(all)) {
    if (new RegExp(`\\$${name}\\b`).test(sql)) used[name] = value;
  }
  return used;
}
