/**
 * One TF.js per thread, loaded on first use. `@tensorflow/tfjs-node` (native TensorFlow) is used when it is
 * installed — it is an optional dependency that cannot install everywhere, so it is imported by a computed name
 * and its absence is not an error; otherwise the wasm backend (SIMD, single-threaded in Node: parallelism comes
 * from one TF.js per worker thread), and the plain cpu backend if wasm cannot start.
 */
import type * as TF from '@tensorflow/tfjs';

export type Tf = typeof TF;
export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';

let loading: Promise<{ tf: Tf; backend: TfBackendName }> | undefined;

async function load(prefer: TfBackendName | undefined): Promise<{ tf: Tf; backend: TfBackendName }> {
  if (prefer === undefined || prefer === 'tensorflow') {
    try {
      const name = '@tensorflow/tfjs-node';
      const tfn = (await import(name)) as Tf;
      await tfn.ready();
      return { tf: tfn, backend: 'tensorflow' };
    } catch {
      // Not installed here: fall through to wasm.
    }
  }
  const tf = await import('@tensorflow/tfjs');
  if (prefer !== 'cpu') {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return { tf, backend: 'wasm' };
      }
    } catch {
      // wasm could not start: the cpu backend still works (about 3× slower).
    }
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return { tf, backend: 'cpu' };
}

/** TF.js for this thread with the best backend available (or the one asked for, for benchmarks). */
export function loadTf(prefer?: TfBackendName): Promise<{ tf: Tf; backend: TfBackendName }> {
  loading ??= load(prefer);
  return loading;
}

/** Switches this thread's TF.js to another backend (benchmarks comparing wasm and cpu). */
export async function useBackend(name: 'wasm' | 'cpu'): Promise<Tf> {
  const { tf } = await loadTf();
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`TF.js backend ${name} did not start`);
  await tf.ready();
  return tf;
}
