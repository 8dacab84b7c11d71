import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import type { GlmDesign } from '../../algorithms/glm/index.js';

/** One synthetic study row: a binary and a continuous outcome on two bounded covariates and sex. */
export interface StudyRow {
  person_id: number;
  x1: number;
  x2: number;
  sex: 'F' | 'M';
  y: 0 | 1;
  z: number;
}

function uniform(rng: ReturnType<typeof createSeededRng>): number {
  const b = rng.fill(new Uint8Array(6));
  let v = 0;
  for (const x of b) v = v * 256 + x;
  return (v + 0.5) / 2 ** 48;
}

/**
 * Rows from a fixed logistic model (β = −0.5, 0.8, −1.2, 0.6 on intercept, x1 ∈ [−2, 2], x2 ∈ [0, 1], sexM) and a
 * gaussian one (z = 1 + 2·x1 − x2 + 0.5·sexM + N(0, 1) by Box–Muller), seeded. Test data only.
 */
export function makeStudyRows(n: number, seed: string, firstId: number): StudyRow[] {
  const rng = createSeededRng(seed);
  const rows: StudyRow[] = [];
  for (let i = 0; i < n; i++) {
    const x1 = Math.round((uniform(rng) * 4 - 2) * 1000) / 1000;
    const x2 = Math.round(uniform(rng) * 1000) / 1000;
    const sex = uniform(rng) < 0.5 ? 'F' : 'M';
    const eta = -0.5 + 0.8 * x1 - 1.2 * x2 + (sex === 'M' ? 0.6 : 0);
    const y = uniform(rng) < 1 / (1 + Math.exp(-eta)) ? 1 : 0;
    const g = Math.sqrt(-2 * Math.log(uniform(rng))) * Math.cos(2 * Math.PI * uniform(rng));
    const z = Math.round((1 + 2 * x1 - x2 + (sex === 'M' ? 0.5 : 0) + g) * 1e6) / 1e6;
    rows.push({ person_id: firstId + i, x1, x2, sex, y, z });
  }
  return rows;
}

/** Writes `<dir>/study.csv` and a manifest that opens product `study` to glm jobs. */
export async function writeStudy(dir: string, rows: readonly StudyRow[], allowedJobKinds: readonly string[] = ['aggregate', 'glm']): Promise<void> {
  await mkdir(dir, { recursive: true });
  const lines = ['person_id,x1,x2,sex,y,z', ...rows.map((r) => `${r.person_id},${r.x1},${r.x2},${r.sex},${r.y},${r.z}`)];
  await writeFile(join(dir, 'study.csv'), `${lines.join('\n')}\n`);
  await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ products: { study: { privacyUnit: 'person_id', allowedJobKinds, allowedPrivacyModes: ['none', 'central-dp'] } } }));
}

/** The pooled design (intercept, x1, x2, sexM) with outcome y (binomial) or z (gaussian). */
export function studyDesign(rows: readonly StudyRow[], outcome: 'y' | 'z'): GlmDesign {
  const p = 4;
  const x = new Float64Array(rows.length * p);
  rows.forEach((r, i) => x.set([1, r.x1, r.x2, r.sex === 'M' ? 1 : 0], i * p));
  return { n: rows.length, p, x, y: Float64Array.from(rows, (r) => r[outcome]) };
}

export const STUDY_TERMS = ['(Intercept)', 'x1', 'x2', 'sexM'];

/** The glm spec over the study product. */
export function studySpec(family: 'binomial' | 'gaussian', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'glm',
    product: 'study',
    family,
    outcome: family === 'binomial' ? 'y' : 'z',
    covariates: [
      { column: 'x1', type: 'numeric', bounds: [-2, 2] },
      { column: 'x2', type: 'numeric', bounds: [0, 1] },
      { column: 'sex', type: 'categorical', levels: ['F', 'M'], reference: 'F' },
    ],
    privacy: { mode: 'none' },
    ...extra,
  };
}
