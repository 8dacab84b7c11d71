/**
 * The coordinator must never hold an HE secret key. These tests check it three ways: the import graph of the
 * coordinator's HE code path (aggregate.ts, coordinator.ts, the worker) reaches no key-generation or
 * decryption code; the aggregation path runs with SEAL's secret-key APIs booby-trapped; and the API refuses
 * anything that is not public plan data or a ciphertext.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { selectHeParameters } from '../../algorithms/he/index.js';
import type { HePlan } from '../../algorithms/he/index.js';
import { addCiphertexts } from './aggregate.js';
import { decryptVector } from './decrypt.js';
import { encryptVector } from './encrypt.js';
import { generateHeKeyPair } from './keys.js';
import type { HeKeyPair } from './keys.js';
import { loadSeal } from './seal.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');

/** Secret-key APIs of node-seal and of this layer; none may appear on the coordinator's path. */
const FORBIDDEN = /\b(SecretKey|HeSecretKey|secretKey|Decryptor|KeyGenerator|invariantNoiseBudget|decrypt\w*|generateHeKeyPair|loadHeKeyFolder)\b/;

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

/** Every project file reachable from `entry` through relative imports (type-only imports included). */
function importClosure(entry: string): Map<string, string> {
  const seen = new Map<string, string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    const source = stripComments(readFileSync(file, 'utf8'));
    seen.set(file, source);
    for (const m of source.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      stack.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
    }
  }
  return seen;
}

function violations(entry: string): string[] {
  const out: string[] = [];
  for (const [file, source] of importClosure(entry)) {
    const name = relative(REPO, file);
    if (/\/(keys|decrypt)\.ts$/.test(file)) out.push(`${name} is imported`);
    const hit = FORBIDDEN.exec(source);
    if (hit) out.push(`${name} mentions ${hit[1]}`);
  }
  return out;
}

describe('the coordinator HE path cannot hold a secret key', () => {
  it.each(['aggregate.ts', 'coordinator.ts', 'he-worker.ts', 'pool.ts', 'load-guard.ts'])('%s reaches no secret-key code', (file) => {
    const closure = importClosure(join(HERE, file));
    expect(closure.size).toBeGreaterThan(2);
    expect(violations(join(HERE, file))).toEqual([]);
  });

  it('negative control: the scan does find the secret-key code of the researcher path', () => {
    expect(violations(join(HERE, 'decrypt.ts'))).toEqual(expect.arrayContaining([expect.stringMatching(/decrypt\.ts mentions/), expect.stringMatching(/keys\.ts is imported/)]));
    expect(violations(join(HERE, 'index.ts')).length).toBeGreaterThan(0);
  });

  describe('at run time', () => {
    let plan: HePlan;
    let keys: HeKeyPair;
    let uploads: Uint8Array[][];

    beforeAll(async () => {
      plan = selectHeParameters({ vectorLength: 5000, valueBounds: { min: -9n, max: 9n }, agents: 3, polyModulusDegree: 4096 });
      keys = await generateHeKeyPair(plan);
      uploads = await Promise.all([1n, -2n, 5n].map((x) => encryptVector(plan, keys.publicKey, new BigInt64Array(5000).fill(x))));
    });

    it('adds with SEAL secret-key APIs booby-trapped', async () => {
      const seal = await loadSeal();
      const trap = (): never => {
        throw new Error('secret-key API touched on the aggregation path');
      };
      const spies = (['SecretKey', 'KeyGenerator', 'Decryptor'] as const).map((name) => vi.spyOn(seal, name).mockImplementation(trap));
      let sum: Uint8Array[];
      try {
        sum = await addCiphertexts(plan, uploads);
        for (const s of spies) expect(s).not.toHaveBeenCalled();
      } finally {
        spies.forEach((s) => s.mockRestore());
      }
      expect((await decryptVector(plan, keys.secretKey, sum))[4999]).toBe(4n);
    });

    it('refuses a plan carrying anything beyond public parameters', async () => {
      const smuggled = { ...plan, secretKey: keys.secretKey } as unknown as HePlan;
      await expect(addCiphertexts(smuggled, uploads)).rejects.toThrow(/public parameters only; unexpected plan field 'secretKey'/);
    });

    it('refuses secret-key bytes offered as a ciphertext', async () => {
      const sk = keys.secretKey.exportBytes();
      await expect(addCiphertexts(plan, [uploads[0]!, [sk, sk]])).rejects.toThrow(/contribution 1 ciphertext 0 is 98392 bytes, expected exactly 65649/);
    });
  });
});
