/**
 * node-seal, loaded once per process (or worker thread), and one SEAL context per parameter set. Building a
 * context costs 100–450 ms, so contexts are cached for the life of the thread.
 *
 * This module deliberately knows nothing about secret keys: the coordinator's aggregation path imports it.
 */
import sealModule from 'node-seal/throws_wasm_node_umd.js';
import type { SEALLibrary } from 'node-seal/implementation/seal.js';
import type { Context } from 'node-seal/implementation/context.js';
import type { BatchEncoder } from 'node-seal/implementation/batch-encoder.js';
import type { Evaluator } from 'node-seal/implementation/evaluator.js';
import type { ParmsIdType } from 'node-seal/implementation/parms-id-type.js';
import { SEAL_BFV_DEFAULT_COEFF_MODULUS } from '../../algorithms/he/index.js';
import type { HePlan, PolyModulusDegree } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';

export type { SEALLibrary };

type SealFactory = () => Promise<SEALLibrary>;

// The package is UMD/CommonJS: under Node's ESM loader the default import is module.exports, the factory
// itself, while its .d.ts describes an ES default export. Accept both shapes.
function resolveFactory(mod: unknown): SealFactory {
  if (typeof mod === 'function') return mod as SealFactory;
  const inner = (mod as { default?: unknown } | null)?.default;
  if (typeof inner === 'function') return inner as SealFactory;
  throw new FedmeshError('INTERNAL', 'node-seal did not export its loader function');
}

let sealPromise: Promise<SEALLibrary> | undefined;

/** The node-seal library, instantiated once per thread (the WebAssembly module is compiled on first use). */
export function loadSeal(): Promise<SEALLibrary> {
  if (sealPromise === undefined) {
    sealPromise = resolveFactory(sealModule)().catch((cause: unknown) => {
      sealPromise = undefined;
      throw new FedmeshError('INTERNAL', 'failed to load node-seal', { cause });
    });
  }
  return sealPromise;
}

/** A SEAL context for one (degree, plain modulus) pair with the helpers that carry no key material. */
export interface SealContext {
  readonly seal: SEALLibrary;
  readonly context: Context;
  readonly encoder: BatchEncoder;
  readonly evaluator: Evaluator;
  readonly polyModulusDegree: PolyModulusDegree;
  readonly plainModulus: bigint;
  /** Primes at the key level (all of them, special prime included). */
  readonly keyCoeffModulusCount: number;
  readonly keyParmsId: ParmsIdType;
  /** parms_id of the data level with `k` primes, for k = 1 .. keyCoeffModulusCount − 1. */
  parmsIdForLevel(k: number): ParmsIdType;
  /** The same as plain values, for the byte screen. */
  parmsIdValuesForLevel(k: number): BigUint64Array;
}

const contexts = new Map<string, Promise<SealContext>>();

export function contextKey(plan: Pick<HePlan, 'polyModulusDegree' | 'plainModulus'>): string {
  return `bfv/${plan.polyModulusDegree}/${plan.plainModulus}`;
}

function buildContext(seal: SEALLibrary, n: PolyModulusDegree, t: bigint): SealContext {
  const recorded = SEAL_BFV_DEFAULT_COEFF_MODULUS[n];
  const parms = seal.EncryptionParameters(seal.SchemeType.bfv);
  const coeffModulus = seal.CoeffModulus.BFVDefault(n, seal.SecurityLevel.tc128);
  const plainModulus = seal.Modulus(t);
  try {
    parms.setPolyModulusDegree(n);
    parms.setCoeffModulus(coeffModulus);
    parms.setPlainModulus(plainModulus);
    const primes = Array.from(parms.coeffModulus);
    if (primes.length !== recorded.primes.length || primes.some((p, i) => p !== recorded.primes[i])) {
      throw new FedmeshError('INTERNAL', `SEAL's default BFV coefficient modulus for n=${n} is not the one fedmesh was sized for`);
    }
    const context = seal.Context(parms, true, seal.SecurityLevel.tc128);
    if (!context.parametersSet()) {
      throw new FedmeshError('INVALID_ARGUMENT', `SEAL rejected BFV parameters n=${n}, t=${t}`);
    }
    const byLevel = new Map<number, ParmsIdType>();
    for (let data = context.firstContextData; data !== undefined; data = data.nextContextData) {
      byLevel.set(data.parms.coeffModulus.length, data.parmsId);
      if (data.chainIndex === 0) break;
    }
    const parmsIdForLevel = (k: number): ParmsIdType => {
      const id = byLevel.get(k);
      if (id === undefined) throw new RangeError(`no data level with ${k} primes for n=${n}`);
      return id;
    };
    return Object.freeze({
      seal,
      context,
      encoder: seal.BatchEncoder(context),
      evaluator: seal.Evaluator(context),
      polyModulusDegree: n,
      plainModulus: t,
      keyCoeffModulusCount: recorded.primes.length,
      keyParmsId: context.keyParmsId,
      parmsIdForLevel,
      parmsIdValuesForLevel: (k: number) => parmsIdForLevel(k).values,
    });
  } finally {
    coeffModulus.delete();
    plainModulus.delete();
    parms.delete();
  }
}

/**
 * The cached SEAL context for a plan's (degree, plain modulus). The plan must already be compiled
 * (`compileHePlan` / `parseHePlan`); this function trusts its invariants.
 */
export function getSealContext(plan: Pick<HePlan, 'polyModulusDegree' | 'plainModulus'>): Promise<SealContext> {
  const key = contextKey(plan);
  let entry = contexts.get(key);
  if (entry === undefined) {
    entry = loadSeal().then((seal) => buildContext(seal, plan.polyModulusDegree, plan.plainModulus));
    entry.catch(() => contexts.delete(key));
    contexts.set(key, entry);
  }
  return entry;
}

/** Runs `fn` and turns anything SEAL throws into an INVALID_ARGUMENT FedmeshError labelled `what`. */
export function sealCall<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    if (cause instanceof FedmeshError) throw cause;
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new FedmeshError('INVALID_ARGUMENT', `${what}: SEAL refused it (${detail})`, { cause });
  }
}
