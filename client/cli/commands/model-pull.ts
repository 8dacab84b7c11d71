/**
 * `fedmesh model pull JOB --out DIR`: writes the released model of one of your succeeded train jobs as a TF.js
 * Layers model (DIR/model.json + DIR/weights.bin, loadable by `tf.loadLayersModel`; jobs/train/model-json.ts). The
 * coordinator shows a researcher only their own jobs, so another researcher's job id is "not found" here too.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FedmeshError, quote } from '../../../common/errors.js';
import { releasedModelOf, trainModelArtifacts, WEIGHTS_FILE } from '../../../jobs/train/model-json.js';
import { researcherClient, type ConnectionFlags } from './common.js';

export interface ModelPullFlags extends ConnectionFlags {
  out: string;
  json?: boolean;
}

/** The public encoding of the inputs and outputs, from the job's spec (features, label, levels, loss). */
function encodingOf(spec: unknown): Record<string, unknown> {
  const s = (spec ?? {}) as { features?: unknown; label?: unknown; labelLevels?: unknown; loss?: unknown };
  return {
    ...(Array.isArray(s.features) ? { features: s.features } : {}),
    ...(typeof s.label === 'string' ? { label: s.label } : {}),
    ...(Array.isArray(s.labelLevels) ? { labelLevels: s.labelLevels } : {}),
    ...(typeof s.loss === 'string' ? { loss: s.loss } : {}),
    scaling: 'numeric features: clamp to bounds, then (x − lower) / (upper − lower); categorical: one input per level (1 if the value is that level)',
  };
}

export async function runModelPull(jobId: string, flags: ModelPullFlags): Promise<number> {
  const client = researcherClient(flags);
  try {
    const job = await client.getJob(jobId);
    if (job.kind !== 'train') throw new FedmeshError('INVALID_ARGUMENT', `job ${quote(jobId, 40)} is a ${job.kind} job; model pull takes a train job`, { field: 'job' });
    if (job.state !== 'succeeded' || !job.result) throw new FedmeshError('FAILED_PRECONDITION', `job ${quote(jobId, 40)} is ${job.state}; its model can be pulled once it has succeeded`, { field: 'job' });
    const artifacts = trainModelArtifacts(releasedModelOf(job.result.summary), { jobId: job.jobId, ...encodingOf(job.spec) });
    await mkdir(flags.out, { recursive: true });
    const modelPath = join(flags.out, 'model.json');
    const weightsPath = join(flags.out, WEIGHTS_FILE);
    await writeFile(weightsPath, artifacts.weightsBin);
    await writeFile(modelPath, `${JSON.stringify(artifacts.modelJson, null, 1)}\n`);
    if (flags.json) process.stdout.write(`${JSON.stringify({ jobId: job.jobId, files: [modelPath, weightsPath], parameters: artifacts.parameters })}\n`);
    else process.stdout.write(`wrote ${modelPath} and ${weightsPath} (${artifacts.parameters} parameters; tf.loadLayersModel loads them)\n`);
    return 0;
  } finally {
    client.close();
  }
}
