/**
 * Hash-based train/test split (issue 10): `"split": {"hash": {"fraction": 0.2, "salt": "…"}}`.
 *
 * A row goes to the test side when HMAC-SHA256(salt, privacy unit) read as a uniform number in [0, 1) is below
 * the public fraction. Keyed by the privacy unit (not the row), so every row of one person lands on the same side
 * at every agent and in every job with the same salt — no person contributes to both the fit and its evaluation.
 * The salt is public (it is in the spec); it only decorrelates splits between studies, it is not a secret.
 *
 * Not wired into the train reader yet: the GLM design reader (jobs/glm/design.ts) does not hand out the privacy
 * unit per row, and adding that is a change to a shared reader; see jobs/train/README.md.
 */
import { createHmac } from 'node:crypto';
import { invalidJob } from '../../common/errors.js';
import { isObj, onlyKeys } from '../../common/job/validate.js';

export interface HashSplit {
  /** Public share of privacy units on the test side, in [0.01, 0.99]. */
  readonly fraction: number;
  /** Public salt of the keyed hash (1–128 characters). */
  readonly salt: string;
}

const MAX_SALT = 128;

/** Validates `split.hash`. @throws FedmeshError INVALID_ARGUMENT naming the field */
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

/** The unit's uniform draw in [0, 1): the first 48 bits of HMAC-SHA256(salt, unit) over 2^48. */
export function hashUniform(salt: string, unit: string): number {
  const h = createHmac('sha256', salt).update(unit, 'utf8').digest();
  return h.readUIntBE(0, 6) / 2 ** 48;
}

/** True when the privacy unit's rows belong to the test side. Deterministic in (salt, unit, fraction). */
export function isTestUnit(split: HashSplit, unit: string): boolean {
  return hashUniform(split.salt, unit) < split.fraction;
}
