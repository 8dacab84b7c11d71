/**
 * The train/test split of a train job (pure): either a column (the heart-disease data's `split.csv`) or a
 * deterministic keyed hash of the privacy unit with a public fraction (issue 10):
 * `"split": {"hash": {"fraction": 0.2, "salt": "study-7"}}`.
 *
 * A person goes to the test side when their unit's draw u = (first 48 bits of MD5(salt | unit)) / 2^48 is below the
 * public fraction. Keyed by the privacy unit (not the row), so every row of one person lands on the same side at
 * every agent and in every job with the same salt — no person contributes to both the fit and its evaluation.
 * MD5 of the `|`-joined text is the SQL dialects' `keyedHash` (node-agent/sql), so the agent computes the side in
 * its database, on every engine, and this file's `isTestUnit` gives the same answer (tested against DuckDB): MD5 is
 * used for uniformity and portability here, not as a secret. The salt is public (it is in the spec and its hash);
 * it only decorrelates splits between studies. Which side a person is on reveals nothing about their data.
 */
import { createHash } from 'node:crypto';
import { invalidJob } from '../../common/errors.js';
import type { Scalar } from '../../common/job/index.js';
import { identifier, isObj, onlyKeys, scalar } from '../../common/job/index.js';

export interface HashSplit {
  /** Public share of privacy units on the test side, in [0.01, 0.99]. */
  readonly fraction: number;
  /** Public salt of the keyed hash (1–128 characters). */
  readonly salt: string;
}

export interface TrainColumnSplit {
  /** A column whose value says train or test (the heart-disease data's `split`). */
  readonly column: string;
  readonly train: Scalar;
  readonly test: Scalar;
}

/** A column split, or a keyed hash of the privacy unit. */
export type TrainSplit = TrainColumnSplit | { readonly hash: HashSplit };

export const isHashSplit = (s: TrainSplit): s is { readonly hash: HashSplit } => 'hash' in s;

const MAX_SALT = 128;
const TWO48 = 2 ** 48;

/** Validates `split.hash`. @throws FedmeshError INVALID_JOB naming the field */
export function parseHashSplit(raw: unknown, field = 'split.hash'): HashSplit {
  if (!isObj(raw)) throw invalidJob(field, 'must be {"fraction": <0.01–0.99>, "salt": "<text>"}');
  onlyKeys(raw, ['fraction', 'salt'], field);
  const { fraction, salt } = raw;
  if (typeof fraction !== 'number' || !Number.isFinite(fraction) || fraction < 0.01 || fraction > 0.99) {
    throw invalidJob(`${field}.fraction`, 'must be a number from 0.01 to 0.99 (the public test share)');
  }
  if (typeof salt !== 'string' || salt.length === 0 || salt.length > MAX_SALT) throw invalidJob(`${field}.salt`, `must be a string of 1–${MAX_SALT} characters`);
  return Object.freeze({ fraction, salt });
}

/**
 * Validates `split`: `{"column", "train", "test"}` or `{"hash": {"fraction", "salt"}}`.
 * @param taken columns the split column must not be (label, features)
 * @throws FedmeshError INVALID_JOB naming the field
 */
export function parseTrainSplit(raw: unknown, taken: ReadonlySet<string>): TrainSplit {
  if (!isObj(raw)) throw invalidJob('split', 'must be {"column": …, "train": <value>, "test": <value>} or {"hash": {"fraction": <0.01–0.99>, "salt": "<text>"}}');
  if (raw.hash !== undefined) {
    onlyKeys(raw, ['hash'], 'split');
    return Object.freeze({ hash: parseHashSplit(raw.hash) });
  }
  onlyKeys(raw, ['column', 'train', 'test'], 'split');
  const column = identifier(raw.column, 'split.column');
  if (taken.has(column)) throw invalidJob('split.column', 'must be neither the label nor a feature');
  const split = Object.freeze({ column, train: scalar(raw.train, 'split.train'), test: scalar(raw.test, 'split.test') });
  if (String(split.train) === String(split.test)) throw invalidJob('split.test', 'must differ from split.train');
  return split;
}

/** The unit's 48-bit draw: the first 48 bits of MD5(salt | unit), as the dialects' keyedHash(salt, [unit]) text. */
function unitDraw48(salt: string, unit: string): number {
  return createHash('md5').update(`${salt}|${unit}`, 'utf8').digest().readUIntBE(0, 6);
}

/** The unit's uniform draw in [0, 1). */
export function hashUniform(salt: string, unit: string): number {
  return unitDraw48(salt, unit) / TWO48;
}

/** The integer T with: test ⇔ draw48 < T ⇔ draw48 / 2^48 < fraction (fraction·2^48 is exact in a double). */
export function testThreshold48(fraction: number): number {
  return Math.ceil(fraction * TWO48);
}

/**
 * T as 12 lower-case hex digits: the MD5 hex text of a unit orders below it exactly when its first 48 bits are
 * below T (a longer string with an equal 12-character prefix orders after it), so SQL compares text with text.
 */
export function testThresholdHex(fraction: number): string {
  return testThreshold48(fraction).toString(16).padStart(12, '0');
}

/** True when the privacy unit's rows belong to the test side. Deterministic in (salt, unit, fraction). */
export function isTestUnit(split: HashSplit, unit: string): boolean {
  return unitDraw48(split.salt, unit) < testThreshold48(split.fraction);
}
