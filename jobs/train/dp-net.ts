/**
 * The network DP training differentiates, from a compiled job: the declared hidden layers (an `mlp`, a `logistic`
 * model's none, or the dense stack a TF.js/Keras topology was validated into by topology.ts — the same `layers`), then
 * a linear output layer of the loss's units (1 for binary cross-entropy, one logit per declared level for
 * categorical cross-entropy). Both DP paths (privacy-agent.ts, privacy-local-agent.ts) take it from here, so a
 * topology or a categorical label reaches the per-example clipping of algorithms/fl/dp-grad.ts unchanged.
 */
import { FedmeshError } from '../../common/errors.js';
import type { DenseActivation, DenseNet } from '../../algorithms/fl/dp-grad.js';
import type { LocalModelConfig } from '../../node-agent/train/local-train.js';
import type { CompiledTrainJob } from './index.js';

export interface DpNet {
  readonly net: DenseNet;
  /** The same network for the TF.js evaluation of the test rows (no dropout: DP refuses it). */
  readonly model: LocalModelConfig;
}

/** @throws FedmeshError INVALID_ARGUMENT on `loss` for a loss DP training does not take (checkDpTraining refuses it first) */
export function dpNetOf(job: Pick<CompiledTrainJob, 'spec' | 'plan'>): DpNet {
  const spec = job.spec;
  if (spec.loss !== 'binary-crossentropy' && spec.loss !== 'categorical-crossentropy' && spec.loss !== 'mse') throw new FedmeshError('INVALID_ARGUMENT', 'loss: DP training takes binary-crossentropy, categorical-crossentropy or mse', { field: 'loss' });
  const layers = [...spec.model.layers.map((l) => ({ units: l.units, activation: l.activation as DenseActivation })), { units: job.plan.units.at(-1)!, activation: 'linear' as const }];
  const net: DenseNet = { inputs: job.plan.inputs.length, layers, loss: spec.loss };
  return { net, model: { inputs: net.inputs, layers: layers.map((l) => ({ ...l, dropout: 0 })), loss: spec.loss, l2: spec.model.l2 } };
}
