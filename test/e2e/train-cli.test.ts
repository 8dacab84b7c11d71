/**
 * `fedmesh train` and `fedmesh model pull` as README.md documents them (section "`fedmesh train` and `fedmesh model
 * pull`"), run as written by the built CLI (`npm run build` first) against a coordinator and 3 agents over mTLS,
 * each serving a `study` product with a 3-level label. The connection comes from FEDMESH_COORDINATOR /
 * FEDMESH_TLS_DIR / FEDMESH_NAME; `JOB` in `model pull` is the job id the `--json` run printed (and, once more, the
 * id of a job whose model is a Keras-exported topology). Checked: every command exits 0 with what the README says
 * it prints; `--agents` asks only the named agents; the pulled model loads with `tf.loadLayersModel` and predicts
 * what the released weights predict. Negative controls: a bad topology is refused (exit 2, the field named) with
 * no budget charged, `--rounds 0` and `--plot x.png` are usage errors. `--plot` writes an SVG whose lines are the
 * global series and, with plain sums, one per agent (none under secagg).
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTrainPool, resolveTrainWorkerPath } from '../../node-agent/train/pool.js';
import { loadTf } from '../../node-agent/train/tf-runtime.js';
import { syntheticMulticlassData } from '../../jobs/train/synthetic-multiclass.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { extractCommands, extractJsonBlocks } from './readme-commands.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/client/cli/main.js');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const AGENTS = ['t1', 't2', 't3'];

/** The README section's commands and its train.json. */
function readmeSection(): { commands: string[]; spec: string } {
  const start = README.indexOf('#### `fedmesh train` and `fedmesh model pull`');
  if (start < 0) throw new Error('README has no "fedmesh train and fedmesh model pull" section');
  const end = README.indexOf('\n### ', start);
  const text = README.slice(start, end);
  const spec = extractJsonBlocks(text).find((b) => b.includes('"kind":"train"'));
  if (!spec) throw new Error('the README section has no train.json example');
  return { commands: extractCommands(text).map((c) => c.text), spec };
}

function sh(cmd: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile('sh', ['-c', cmd], { cwd, env, timeout: 170_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

/** 4 inputs (x1, x2, sex=F, sex=M) → Dense 6 relu → Dropout → Dense 3 softmax, as the TF.js converter writes a Keras Sequential. */
function kerasTopology(): unknown {
  const fixture = JSON.parse(readFileSync(join(ROOT, 'jobs/train/fixtures/keras-mlp.model.json'), 'utf8')) as { modelTopology: { model_config: { config: { layers: { config: Record<string, unknown> }[] } } } };
  const layers = fixture.modelTopology.model_config.config.layers;
  layers[0]!.config.batch_input_shape = [null, 4];
  layers[1]!.config.batch_input_shape = [null, 4];
  layers[1]!.config.units = 6;
  layers[3]!.config.units = 3;
  layers[3]!.config.activation = 'softmax';
  return fixture;
}

describe('fedmesh train and model pull, as the README writes them', () => {
  let mesh: TestMesh;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const section = readmeSection();

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    // The agents live in this process: without a current compiled train worker, training would block its event
    // loop and the coordinator would see them miss heartbeats ("disconnected before answering").
    if (!resolveTrainWorkerPath()) throw new Error('dist/node-agent/train/train-worker.js is missing or older than its sources: run `npm run build` first');
    mesh = await startMesh({ agentNames: AGENTS, heartbeatIntervalMs: 200 });
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-train-cli-'));
    let id = 1;
    for (const [k, name] of AGENTS.entries()) {
      const d = syntheticMulticlassData({ rows: 360, inputs: 2, classes: 3, shift: 0.1 * k, seed: 70 + k, strength: 10 });
      const lines = ['person_id,x1,x2,sex,grade,split'];
      for (const [part, rows] of [['train', d.train], ['test', d.test]] as const) {
        for (let i = 0; i < rows.n; i++) lines.push(`${id++},${rows.x[2 * i]},${rows.x[2 * i + 1]},${i % 2 ? 'F' : 'M'},${rows.y[i]},${part}`);
      }
      // Two rows with a label that is not a level: left out at the agent, counted only at or above the min cell size.
      lines.push(`${id++},0.5,0.5,F,7,train`, `${id++},0.5,0.5,M,7,test`);
      const dataDir = join(dir, 'data', name);
      await mkdir(dataDir, { recursive: true });
      await writeFile(join(dataDir, 'study.csv'), `${lines.join('\n')}\n`);
      await writeFile(join(dataDir, 'fedmesh.products.json'), JSON.stringify({ products: { study: { privacyUnit: 'person_id', allowedJobKinds: ['fl'], allowedPrivacyModes: ['none', 'central-dp'] } } }));
      await mesh.startAgent(name, dataDir, { allowModes: ['none', 'central-dp'], allowKinds: ['train'], minCellSize: 5, budgetCap: { epsilon: 40, delta: 1e-5 } });
    }
    await mesh.waitForAgents(3, 20_000);
    await writeFile(join(dir, 'train.json'), section.spec);
    const bin = join(dir, '.bin');
    await mkdir(bin);
    await writeFile(join(bin, 'fedmesh'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(join(bin, 'fedmesh'), 0o755);
    env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: dir, FEDMESH_COORDINATOR: `127.0.0.1:${mesh.server.port}`, FEDMESH_TLS_DIR: mesh.tlsDir, FEDMESH_NAME: 'researcher' };
  }, 120_000);

  afterAll(async () => {
    await mesh?.close();
    await closeTrainPool();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('documents four commands, and each runs as written', async () => {
    const [plain, json, agents, pull] = section.commands;
    expect(section.commands.length).toBe(4);
    expect(plain).toMatch(/^fedmesh train train\.json\s+#/);

    const r1 = await sh(plain!, dir, env);
    if (r1.code !== 0) console.log(r1.stdout, r1.stderr);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toMatch(/federated training: fedavg on a mlp model \(67 parameters\)/);
    expect(r1.stdout).toMatch(/final model on all agents' test rows: loss [\d.]+, accuracy 0\.\d+/);
    expect(r1.stdout).toMatch(/one-vs-rest/);
    // 2 rows per agent with label 7: below the min cell size (5), so withheld (0).
    expect(r1.stdout).toMatch(/0 rows left out because their label is not among the levels/);

    // `--plot` with `--json` (added here, not in the README line): stdout stays one JSON object; under secagg the
    // coordinator sees only sums, so the curves have no per-agent line (negative control for the plot below).
    const r2 = await sh(`${json!.replace(/\s+#.*$/, '')} --plot secagg.svg`, dir, env);
    expect(r2.code, r2.stderr).toBe(0);
    const secaggSvg = await readFile(join(dir, 'secagg.svg'), 'utf8');
    expectSvgDocument(secaggSvg);
    expect(curveSeries(secaggSvg)).toEqual(new Set(['global train', 'global test']));
    const out = JSON.parse(r2.stdout) as { jobId: string; status: string; rounds: { round: number; phase: string; testAccuracy: number }[]; final: { testAccuracy: number; testN: number }; model: { parameters: number } };
    expect(out.status).toBe('succeeded');
    expect(out.rounds.map((r) => r.phase)).toEqual(['train', 'train', 'train', 'train', 'train', 'eval']);
    expect(out.final.testAccuracy).toBeGreaterThan(0.6);
    // Federated accuracy is far above chance (1/3) on this data; the first round scores the untrained model.
    expect(out.final.testAccuracy).toBeGreaterThan(out.rounds[0]!.testAccuracy);

    expect(agents).toMatch(/--plot curves\.svg/);
    const r3 = await sh(agents!, dir, env);
    expect(r3.code, r3.stderr).toBe(0);
    // Plain sums in mode none release each agent's test metrics: a line per agent beside the global ones.
    const svg = await readFile(join(dir, 'curves.svg'), 'utf8');
    expectSvgDocument(svg);
    expect(curveSeries(svg)).toEqual(new Set(['global train', 'global test', 't1', 't2']));
    for (const axis of ['round', 'loss', 'test accuracy', 'test AUC']) expect(svg).toMatch(new RegExp(`font-weight="bold"[^>]*>${axis}</text>`));
    const last = (await mesh.client.listJobs(1))[0]!;
    expect(last.agents.asked).toEqual(['t1', 't2']);

    const r4 = await sh(pull!.replace('JOB', out.jobId), dir, env);
    expect(r4.code, r4.stderr).toBe(0);
    expect(r4.stdout).toMatch(/^wrote model\/model\.json and model\/weights\.bin \(67 parameters/);
    await expectLoadsAndPredicts(join(dir, 'model'), out.jobId);
    // Negative control: another researcher cannot pull it (a researcher sees only their own jobs).
    const other = await sh(pull!.replace('JOB', out.jobId).replace('--out model', '--out stolen'), dir, { ...env, FEDMESH_NAME: 'alice' });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/NOT_FOUND/);
    expect(existsSync(join(dir, 'stolen'))).toBe(false);
  }, 400_000);

  it('a Keras-exported topology trains end to end over the 3 agents; its pulled model predicts as the coordinator weights', async () => {
    const spec = { ...(JSON.parse(section.spec) as Record<string, unknown>), model: { type: 'layers', topology: kerasTopology() }, training: { rounds: 4, localEpochs: 1, batchSize: 16, learningRate: 0.3, seed: 2 } };
    await writeFile(join(dir, 'keras.json'), JSON.stringify(spec));
    const r = await sh('fedmesh train keras.json --json', dir, env);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { jobId: string; status: string; model: { type: string; shapes: number[][] } };
    expect(out.model.type).toBe('layers');
    expect(out.model.shapes).toEqual([[4, 6], [6], [6, 3], [3]]);
    const pull = section.commands[3]!.replace('JOB', out.jobId).replace('--out model', '--out keras-model');
    const p = await sh(pull, dir, env);
    expect(p.code, p.stderr).toBe(0);
    await expectLoadsAndPredicts(join(dir, 'keras-model'), out.jobId);
  }, 300_000);

  it('refusals: a bad topology exits 2 naming the field and charges nothing; --rounds 0 is a usage error', async () => {
    const before = JSON.stringify((await mesh.client.getBudget()).entries);
    const bad = kerasTopology() as { modelTopology: { model_config: { config: { layers: { config: Record<string, unknown> }[] } } } };
    bad.modelTopology.model_config.config.layers[1]!.config.activation = 'gelu';
    const spec = { ...(JSON.parse(section.spec) as Record<string, unknown>), model: { type: 'layers', topology: bad }, loss: 'categorical-crossentropy', privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-5, clip: 1 } };
    await writeFile(join(dir, 'bad.json'), JSON.stringify(spec));
    const r = await sh('fedmesh train bad.json', dir, env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/INVALID_JOB: model\.topology\.modelTopology\.model_config\.config\.layers\[1\]\.config\.activation/);
    expect(JSON.stringify((await mesh.client.getBudget()).entries)).toBe(before);
    const z = await sh('fedmesh train train.json --rounds 0', dir, env);
    expect(z.code).toBe(2);
    expect(z.stderr).toMatch(/--rounds: must be a positive integer/);
    const png = await sh('fedmesh train train.json --plot curves.png', dir, env);
    expect(png.code).toBe(2);
    expect(png.stderr).toMatch(/--plot: only SVG .*PNG is not offered/);
    expect(existsSync(join(dir, 'curves.png'))).toBe(false);
  }, 120_000);

  /** A standalone SVG document (xmlns, one root, closed) with three metric panels. */
  function expectSvgDocument(svg: string): void {
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<svg[\s>]/g)).toHaveLength(1);
  }

  /** The series of the curves' line marks (vega labels each line by its first point: `…; series: NAME`). */
  function curveSeries(svg: string): Set<string> {
    return new Set([...svg.matchAll(/aria-label="[^"]*; series: ([^"]*)" role="graphics-symbol" aria-roledescription="line mark"/g)].map((m) => m[1]!));
  }

  /** The pulled files load with tf.loadLayersModel and predict what the job's released weights predict. */
  async function expectLoadsAndPredicts(modelDir: string, jobId: string): Promise<void> {
    const { tf } = await loadTf();
    const json = JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8')) as { modelTopology: object; weightsManifest: { paths: string[]; weights: never[] }[]; format: string; userDefinedMetadata: { fedmesh: { jobId: string; labelLevels: number[] } } };
    expect(json.userDefinedMetadata.fedmesh.jobId).toBe(jobId);
    expect(json.userDefinedMetadata.fedmesh.labelLevels).toEqual([0, 1, 2]);
    const bin = await readFile(join(modelDir, json.weightsManifest[0]!.paths[0]!));
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0]!.weights, weightData: new Uint8Array(bin).buffer, format: json.format }));
    const rows = [[0.1, 0.9, 1, 0], [0.8, 0.2, 0, 1], [0.5, 0.5, 1, 0]];
    const got = Array.from((model.predict(tf.tensor2d(rows)) as { dataSync(): Float32Array }).dataSync());
    model.dispose();
    // The coordinator's weights, through TF.js with the same layers built from the released shapes.
    const job = await mesh.client.getJob(jobId);
    const m = (job.result!.summary as { model: { shapes: number[][]; activations: string[]; weights: number[] } }).model;
    const layers = m.activations.map((a, l) => tf.layers.dense({ units: m.shapes[2 * l]![1]!, activation: a as 'relu', ...(l === 0 ? { inputShape: [m.shapes[0]![0]!] } : {}) }));
    const ref = tf.sequential({ layers });
    let at = 0;
    ref.setWeights(m.shapes.map((s) => {
      const size = s.reduce((a, b) => a * b, 1);
      const t = tf.tensor(m.weights.slice(at, at + size), s);
      at += size;
      return t;
    }));
    const want = Array.from((ref.predict(tf.tensor2d(rows)) as { dataSync(): Float32Array }).dataSync());
    ref.dispose();
    expect(got.length).toBe(9);
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-6));
  }
});
