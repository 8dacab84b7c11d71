import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTlsMaterial } from '../../../common/tls.js';
import { makeDevCertificates } from '../../tools/certs.js';
import { renderJob } from '../format/render.js';
import { synthesize } from '../../tools/synth/index.js';
import { CoordinatorClient } from '../../sdk/transport/coordinator-client.js';
import { startProcess, stopAll, waitForLine, type ManagedProcess } from './spawn-mesh.js';
import { dashboardLines, exportBrowserCertificate } from './demo-dashboard.js';
import { untilSignal } from './common.js';

export interface DemoFlags {
  sites?: string;
  persons?: string;
  seed?: string;
  keep?: boolean;
}

interface DemoJob {
  title: string;
  explain: string;
  spec: Record<string, unknown>;
}

/** The jobs the demo runs: what the engine does, on the synthetic OMOP sites. */
export function demoJobs(): DemoJob[] {
  return [
    {
      title: 'Persons by sex, with mean year of birth',
      explain: 'count + bounded mean, exact (mode none), grouped by gender_concept_id (8507 male, 8532 female)',
      spec: { kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: { mode: 'none' } },
    },
    {
      title: 'Year of birth histogram (persons born 1930 or later)',
      explain: 'public bin edges; bins below the minimum cell size would be suppressed at the agent',
      spec: { kind: 'aggregate', product: 'person', where: [{ column: 'year_of_birth', op: '>=', value: 1930 }], measures: [{ fn: 'histogram', column: 'year_of_birth', bins: [1930, 1950, 1970, 1990, 2010] }], privacy: { mode: 'none' } },
    },
    {
      title: 'Diagnoses of chronic conditions',
      explain: 'condition_occurrence rows for type 2 diabetes (201826), hypertension (320128), atrial fibrillation (313217), heart failure (316139)',
      spec: { kind: 'aggregate', product: 'condition_occurrence', where: [{ column: 'condition_concept_id', op: 'in', value: [201826, 320128, 313217, 316139] }], groupBy: ['condition_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } },
    },
    {
      title: 'HbA1c (LOINC 4548-4, concept 3004410): mean and variance',
      explain: 'values clamped to the declared bounds [3, 15] %, summed on a 2^-16 grid so that federated = pooled exactly',
      spec: { kind: 'aggregate', product: 'measurement', where: [{ column: 'measurement_concept_id', op: '=', value: 3004410 }], measures: [{ fn: 'count' }, { fn: 'mean', column: 'value_as_number', bounds: [3, 15] }, { fn: 'variance', column: 'value_as_number', bounds: [3, 15] }], privacy: { mode: 'none' } },
    },
    {
      title: 'Small cells are suppressed, never shown as zero',
      explain: 'persons born in 1930–1934 by exact year: groups under 10 persons at any agent are withheld',
      spec: { kind: 'aggregate', product: 'person', where: [{ column: 'year_of_birth', op: 'between', value: [1930, 1934] }], groupBy: ['year_of_birth'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } },
    },
    {
      title: 'Central DP (the default mode): persons by sex, ε = 1, δ = 1e-6',
      explain: 'exact partials of contribution-bounded rows go to the coordinator, which adds discrete Gaussian noise once; every value carries its std',
      spec: { kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], groupKeys: { gender_concept_id: [8507, 8532] }, measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } },
    },
    {
      title: 'Local DP: mean HbA1c with noise added at each agent (ρ = 0.05)',
      explain: 'each agent noises its own statistics before they leave; at most 5 measurements per person count, so persons measured more often weigh less: this mean differs from the exact all-rows mean above by more than its std (contribution bounding bias, not noise)',
      spec: { kind: 'aggregate', product: 'measurement', where: [{ column: 'measurement_concept_id', op: '=', value: 3004410 }], measures: [{ fn: 'mean', column: 'value_as_number', bounds: [3, 15] }], privacy: { mode: 'local-dp', rho: 0.05, maxRowsPerPerson: 5 } },
    },
    {
      title: 'Secure aggregation (SecAgg): the coordinator sees only the masked total',
      explain: 'pairwise masks cancel in the sum; exact counts by sex, equal to the plaintext job',
      spec: { kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], groupKeys: { gender_concept_id: [8507, 8532] }, measures: [{ fn: 'count' }], privacy: { mode: 'none' }, secure: 'secagg' },
    },
    {
      title: 'Distributed DP over SecAgg: each agent adds a noise share, only the noisy sum is unmasked (ρ = 0.05)',
      explain: 'discrete Gaussian shares sized so the total noise holds even if one agent drops out or colludes',
      spec: { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: { mode: 'distributed-dp', rho: 0.05 }, secure: 'secagg' },
    },
    {
      title: 'A bad job is refused with a message naming the field',
      explain: 'bounds reversed',
      spec: { kind: 'aggregate', product: 'person', measures: [{ fn: 'mean', column: 'year_of_birth', bounds: [2030, 1900] }], privacy: { mode: 'none' } },
    },
  ];
}

/**
 * `fedmesh demo` (`npm start`): synthesises sites, makes certificates, starts a coordinator and one agent per
 * site as separate processes on loopback (ports chosen by the OS), runs the demo jobs, prints them, and stops
 * everything.
 */
export async function runDemo(flags: DemoFlags): Promise<number> {
  const started = Date.now();
  const sites = Number(flags.sites ?? 3);
  const persons = Number(flags.persons ?? 5000);
  const seed = Number(flags.seed ?? 42);
  const say = (s: string): void => {
    process.stdout.write(s + '\n');
  };
  const dir = await mkdtemp(join(tmpdir(), 'fedmesh-demo-'));
  const procs: ManagedProcess[] = [];
  let client: CoordinatorClient | undefined;
  try {
    say(`fedmesh demo — working in ${dir}`);
    const synth = await synthesize({ outDir: join(dir, 'data'), sites, persons, seed, format: 'parquet' });
    say(`synthesised ${sites} OMOP CDM sites, ${persons} persons each: ${synth.totalRows.toLocaleString('en-US')} rows in ${synth.elapsedMs} ms`);
    const agentNames = synth.sites.map((s) => s.name);
    const tlsDir = join(dir, 'tls');
    await makeDevCertificates({ outDir: tlsDir, agents: agentNames, researchers: ['researcher'] });
    say(`made a development CA and mTLS certificates for the coordinator, ${agentNames.join(', ')} and one researcher`);

    const coord = startProcess('coordinator', ['coordinator', '--listen', '127.0.0.1:0', '--state', join(dir, 'coordinator'), '--tls-dir', tlsDir, '--log-format', 'silent', '--dashboard-listen', '127.0.0.1:0']);
    procs.push(coord);
    // Both lines, in either order (the dashboard starts before the coordinator prints its own line).
    const m = await waitForLine(coord, /^(?=[\s\S]*listening on (\S+))(?=[\s\S]*fedmesh dashboard on (\S+))/, 20_000);
    const address = m[1]!;
    say(`coordinator listening on ${address} (mTLS)`);
    for (const l of dashboardLines(m[2]!, flags.keep ? await exportBrowserCertificate(tlsDir) : undefined)) say(l);
    for (const s of synth.sites) {
      procs.push(
        startProcess(s.name, ['agent', '--coordinator', address, '--name', s.name, '--data', s.dir, '--state', join(dir, 'state', s.name), '--tls-dir', tlsDir, '--allow-modes', 'none,central-dp,local-dp,distributed-dp', '--log-format', 'silent']),
      );
    }
    client = new CoordinatorClient({ address, tls: loadTlsMaterial(tlsDir, 'researcher', 'researcher') });
    // Each agent ingests its site (about 150k rows) before it dials out: seconds on an idle machine, but a CI runner
    // shared with other work was seen to need more than 30 s, so the demo waits up to 2 minutes before giving up.
    const waitS = 120;
    const until = Date.now() + waitS * 1000;
    for (;;) {
      const agents = await client.listAgents();
      const connected = agents.filter((a) => a.connected).length;
      if (connected >= sites) break;
      const dead = procs.find((p) => p.child.exitCode !== null);
      if (dead) throw new Error(`${dead.name} exited early:\n${dead.stderr()}`);
      if (Date.now() > until) throw new Error(`only ${connected} of ${sites} agents connected within ${waitS} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    say(`${sites} agents connected (each dialled out; no inbound port at a site)\n`);

    let failures = 0;
    for (const [i, j] of demoJobs().entries()) {
      say(`── ${i + 1}. ${j.title}`);
      say(`   ${j.explain}`);
      try {
        const t0 = Date.now();
        const job = await client.run(j.spec);
        say(renderJob(job, process.stdout.isTTY === true));
        say(`   (${Date.now() - t0} ms)\n`);
        if (job.state !== 'succeeded') failures++;
      } catch (e) {
        const err = e as { code?: string; message: string };
        say(`refused: ${err.code ?? 'ERROR'}: ${err.message}\n`);
        if (!j.title.startsWith('A bad job')) failures++;
      }
    }
    const budget = await client.getBudget();
    say('privacy spent by this researcher (fedmesh budget):');
    for (const e of budget.entries) say(`  population ${e.population} (${e.products.join(', ')}): ε spent ${e.spentEpsilon.toFixed(3)} of ${e.budgetEpsilon} (δ ${e.budgetDelta}), ${e.jobs} DP job(s)`);
    say(`demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s${failures ? `, ${failures} job(s) failed` : ''}`);
    if (flags.keep) {
      say(`the mesh stays up (--keep): dashboard ${m[2]!} — press Ctrl-C to stop it`);
      await untilSignal();
    }
    return failures === 0 ? 0 : 1;
  } finally {
    client?.close();
    await stopAll(procs);
    if (!flags.keep) await rm(dir, { recursive: true, force: true });
  }
}
