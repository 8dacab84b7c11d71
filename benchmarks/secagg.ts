/**
 * SecAgg benchmark: one round run in-process (no transport) with the Node crypto provider. Reports per-agent
 * compute time, bytes each agent sends (messages sized as their protobuf encoding would be), coordinator time,
 * and the plaintext size (4 bytes × length) for the communication expansion. Writes no files; the caller records
 * the returned object.
 */
import { performance } from 'node:perf_hooks';
import {
  compileSecAggRoundConfig,
  createFixedPointCodec,
  estimateEncodedSize,
  ringAddInPlaceCarry,
  ringSum,
  runSecAggRoundInMemory,
  type InMemoryAgent,
  type SecAggCrypto,
  type SecAggRoundConfig,
} from '../algorithms/secagg/index.js';
import { createCryptoRng } from '../common/crypto-rng.js';
import { createIdentityKeyPair, createNodeSecAggCrypto } from '../common/crypto/index.js';

export interface SecAggBenchmarkOptions {
  /** @default 10 */
  agents?: number;
  /** Vector length. @default 100_000 */
  length?: number;
}

const CLIENT_STEPS = new Set(['advertiseKeys', 'shareKeys', 'maskInput', 'unmask']);

function summary(xs: readonly number[]) {
  const sorted = [...xs].sort((a, b) => a - b);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean: round(mean), min: round(sorted[0]!), max: round(sorted[sorted.length - 1]!) };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

interface ScenarioInput {
  config: SecAggRoundConfig;
  agents: readonly InMemoryAgent[];
  ids: readonly string[];
  crypto: SecAggCrypto;
  dropAfterShareKeys: readonly string[];
}

function runScenario({ config, agents, ids, crypto, dropAfterShareKeys }: ScenarioInput) {
  const clientMs = new Map<string, number>(ids.map((id) => [id, 0]));
  const sentBytes = new Map<string, number>(ids.map((id) => [id, 0]));
  const sentBreakdown: Record<string, number> = {};
  const reporter = ids.find((id) => !dropAfterShareKeys.includes(id));
  let coordinatorMs = 0;
  let receivedByEachAgent = 0;
  const startRound = performance.now();
  const result = runSecAggRoundInMemory({
    config,
    crypto,
    agents,
    dropBefore: { maskInput: dropAfterShareKeys },
    around: (actor, step, fn) => {
      const t0 = performance.now();
      const out = fn();
      const dt = performance.now() - t0;
      if (actor === 'server') {
        coordinatorMs += dt;
        if (step === 'closeAdvertiseKeys' || step === 'closeMaskedInput') receivedByEachAgent += estimateEncodedSize(out as object);
        if (step === 'closeShareKeys') receivedByEachAgent += estimateEncodedSize((out as object[])[0]!);
      } else {
        clientMs.set(actor, clientMs.get(actor)! + dt);
        if (CLIENT_STEPS.has(step)) {
          const size = estimateEncodedSize(out as object);
          sentBytes.set(actor, sentBytes.get(actor)! + size);
          if (actor === reporter) sentBreakdown[step] = size;
        }
      }
      return out;
    },
  });
  const endToEndMs = performance.now() - startRound;

  // Plaintext baseline: the coordinator adds the raw vectors (as the round's integers: with carries when it has any).
  const carry = compileSecAggRoundConfig(config).carry;
  const t0 = performance.now();
  const inputs = agents.filter((a) => !dropAfterShareKeys.includes(a.id)).map((a) => a.input);
  const plain = carry ? inputs.reduce((acc, v) => ringAddInPlaceCarry(acc, v, carry), new Uint32Array(config.vectorLength)) : ringSum(inputs);
  const plaintextSumMs = performance.now() - t0;
  const exact = plain.every((x, i) => x === result.sum[i]);

  const live = ids.filter((id) => !dropAfterShareKeys.includes(id));
  const sent = summary(live.map((id) => sentBytes.get(id)!));
  const plaintextBytes = 4 * config.vectorLength;
  return {
    droppedAfterShareKeys: dropAfterShareKeys.length,
    exactSum: exact,
    perAgentComputeMs: summary(live.map((id) => clientMs.get(id)!)),
    coordinatorMs: round(coordinatorMs),
    plaintextCoordinatorSumMs: round(plaintextSumMs),
    endToEndInProcessMs: round(endToEndMs),
    bytesSentPerAgent: sent,
    bytesSentBreakdownOneAgent: sentBreakdown,
    bytesReceivedPerAgent: receivedByEachAgent,
    plaintextBytesPerAgent: plaintextBytes,
    expansionRatio: round(sent.mean / plaintextBytes),
  };
}

export async function runSecAggBenchmarks(opts: SecAggBenchmarkOptions = {}): Promise<Record<string, unknown>> {
  const agentCount = opts.agents ?? 10;
  const length = opts.length ?? 100_000;
  if (!Number.isSafeInteger(agentCount) || agentCount < 3) throw new RangeError(`opts.agents must be an integer >= 3, got ${agentCount}`);
  if (!Number.isSafeInteger(length) || length < 1) throw new RangeError(`opts.length must be a positive integer, got ${length}`);
  const threshold = Math.floor(agentCount / 2) + 1;
  const rng = createCryptoRng();
  const crypto = createNodeSecAggCrypto();

  // Real-valued inputs in [−1, 1] at scale 2^20, encoded with stochastic rounding (timed separately).
  const codec = createFixedPointCodec({ minValue: -1, maxValue: 1, scale: 2 ** 20, agents: agentCount });
  const raw = new Uint32Array(length);
  const ids = Array.from({ length: agentCount }, (_, i) => `agent-${i}`);
  const identities = ids.map(() => createIdentityKeyPair());
  const encodeMs: number[] = [];
  const agents: InMemoryAgent[] = ids.map((id, i) => {
    rng.fill(new Uint8Array(raw.buffer));
    const values = Float64Array.from(raw, (x) => x / 2 ** 31 - 1);
    const t0 = performance.now();
    const input = codec.encode(values, rng);
    encodeMs.push(performance.now() - t0);
    return { id, identityPrivateKey: identities[i]!.privateKey, input, rng };
  });
  const config = { roundId: 'bench/secagg/0', threshold, vectorLength: length, participants: ids.map((id, i) => ({ id, identityPublicKey: identities[i]!.publicKey })) };

  const noDropout = runScenario({ config, agents, ids, crypto, dropAfterShareKeys: [] });
  // The coordinator's worst case: n − t agents vanish after ShareKeys, so their pairwise masks must be rebuilt.
  const dropped = ids.slice(0, agentCount - threshold);
  const withDropouts = runScenario({ config: { ...config, roundId: 'bench/secagg/1' }, agents, ids, crypto, dropAfterShareKeys: dropped });
  // The kind seam's rounds sum multi-limb entries as one integer each (carries between their limbs, so no limb's own
  // total is unmasked): the same vector as integers of 2 limbs, against the limb-wise round above, in the same run.
  // Both warm (the first round above pays the JIT): limb-wise again, then carried, then limb-wise; the ratio is to
  // the mean of the two limb-wise runs around it.
  const limbwiseBefore = runScenario({ config: { ...config, roundId: 'bench/secagg/2' }, agents, ids, crypto, dropAfterShareKeys: [] });
  const carried = runScenario({ config: { ...config, roundId: 'bench/secagg/3', elements: length % 2 === 0 ? [{ limbs: 2, count: length / 2 }] : [{ limbs: 2, count: (length - 1) / 2 }, { limbs: 1, count: 1 }] }, agents, ids, crypto, dropAfterShareKeys: [] });
  const limbwiseAfter = runScenario({ config: { ...config, roundId: 'bench/secagg/4' }, agents, ids, crypto, dropAfterShareKeys: [] });
  const limbwiseCoordinatorMs = (limbwiseBefore.coordinatorMs + limbwiseAfter.coordinatorMs) / 2;
  const limbwiseAgentMs = (limbwiseBefore.perAgentComputeMs.mean + limbwiseAfter.perAgentComputeMs.mean) / 2;
  return {
    benchmark: 'secagg',
    agents: agentCount,
    vectorLength: length,
    threshold,
    ring: 'Z_2^32',
    crypto: 'node:crypto X25519 / Ed25519 / HKDF-SHA256 / AES-256-GCM shares / AES-256-CTR PRG',
    bytesSizedAs: 'protobuf encoding of the plain message objects (estimateEncodedSize)',
    perAgentEncodeMs: summary(encodeMs),
    ...noDropout,
    withDropouts,
    carriedTwoLimbIntegers: {
      exactSum: carried.exactSum,
      coordinatorMs: carried.coordinatorMs,
      perAgentComputeMs: carried.perAgentComputeMs,
      limbwiseWarm: { coordinatorMs: round(limbwiseCoordinatorMs), perAgentComputeMsMean: round(limbwiseAgentMs) },
      ratioToLimbwise: { coordinator: round(carried.coordinatorMs / limbwiseCoordinatorMs), perAgentMean: round(carried.perAgentComputeMs.mean / limbwiseAgentMs) },
    },
  };
}
