#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { isFedmeshError } from '../../common/errors.js';
import { FEDMESH_VERSION } from '../../common/agent-protocol.js';
import { EXIT, exitCodeFor } from '../sdk/exit-codes.js';

// Start-up (issue 14 #14): this module imports only commander and two dependency-free modules. Each command loads
// its own code (DuckDB, grpc-js, node-seal, Arrow) when it runs, so `--help` and client commands do not pay for
// what they do not use. benchmarks/startup.ts measures it.
const researcher = () => import('./commands/researcher.js');
const cells = () => import('./commands/cohort-commands.js');
const kinds = () => import('./commands/kind-commands.js');
const servers = () => import('./commands/servers.js');

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

let exitCode = 0;
/** Wraps an action that returns an exit code; the entry point exits with it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function exit<A extends any[]>(fn: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    exitCode = await fn(...args);
  };
}

function connection(cmd: Command, withName = true): Command {
  cmd
    .option('--coordinator <host:port>', 'coordinator address (env FEDMESH_COORDINATOR)')
    .option('--tls-dir <dir>', 'folder made by `fedmesh certs` (env FEDMESH_TLS_DIR)')
    .option('--profile <name>', 'section of the config file (env FEDMESH_PROFILE; file: FEDMESH_CONFIG or ~/.config/fedmesh/config.json)');
  if (withName) cmd.option('--name <name>', 'researcher certificate to use (env FEDMESH_NAME; default researcher)').option('--token-file <file>', 'authenticate with the OpenID Connect bearer token in FILE instead of a certificate (the CA is read from --tls-dir)');
  return cmd.option('--insecure', 'plaintext, no authentication: loopback development only');
}

/** --format and --out, on every command that prints a result. */
function output(cmd: Command): Command {
  return cmd
    .addOption(new Option('--format <format>', 'table | json | csv | parquet | arrow (parquet and arrow need --out or a redirect)').choices(['table', 'json', 'csv', 'parquet', 'arrow']))
    .option('--out <file>', 'write the output to FILE instead of stdout');
}


const logFormat = new Option('--log-format <format>', 'log lines on stderr (json: one pino object a line)').choices(['pretty', 'json', 'silent']).default('pretty');

/** Logging, metrics and health options shared by the two servers. */
function operations(cmd: Command): Command {
  return cmd
    .addOption(logFormat)
    .addOption(new Option('--log-level <level>', 'lowest level logged').choices(['debug', 'info', 'warn', 'error', 'silent']).default('info').env('FEDMESH_LOG_LEVEL'))
    .option('--metrics-port <port>', 'serve Prometheus metrics on http://HOST:PORT/metrics (off unless given; 0 lets the OS choose)')
    .option('--metrics-host <host>', 'address for the metrics endpoint (it has no authentication: keep it private)', '127.0.0.1')
    .option('--health-listen <host:port>', 'also serve the gRPC health service in plaintext here, for probes without a client certificate (off unless given)');
}

function buildProgram(): Command {
  const program = new Command('fedmesh')
    .description('Privacy-preserving federated analytics for healthcare data meshes')
    .version(FEDMESH_VERSION)
    .showHelpAfterError('(add --help for usage)')
    // Usage errors (unknown flag or command, missing argument) exit 2 like every other usage error, not commander's 1.
    .exitOverride()
    // Positional options all the way down: commander hands a parent the options after its subcommand unless every
    // ancestor stops parsing at the subcommand (see `budget` below).
    .enablePositionalOptions();

  const coordinator = program
    .command('coordinator')
    .description('run the coordinator (agents dial in over mTLS; researchers submit jobs)')
    .option('--listen <host:port>', 'address to listen on; port 0 lets the OS choose (required unless --check-state)')
    .requiredOption('--state <dir>', 'state folder (DuckDB job store, privacy ledger and its head file)')
    .option('--check-state', 'verify the state folder (tables, ledger chain, head file), report, exit 0 if sound or 1; does not start')
    .option('--tls-dir <dir>', 'folder made by `fedmesh certs`')
    .option('--insecure', 'plaintext, no authentication: loopback development only')
    .option('--heartbeat-ms <ms>', 'agent heartbeat interval')
    .option('--default-epsilon <e>', 'budget ε per researcher × population where none is set', '3')
    .option('--max-sites-per-person <m>', 'public assumption: a person is at no more than m sites (multiplies every DP sensitivity)', '1')
    .option('--max-running-jobs <n>', 'jobs one researcher may have running at once; one more is refused (RESOURCE_EXHAUSTED)', '32')
    .option('--default-delta <d>', 'budget δ per researcher × population where none is set', '1e-6')
    .option('--accept-ledger-loss', 'start although the privacy ledger lost changes its audit log recorded (an administrator\'s decision, recorded in the audit log)')
    .option('--oidc-issuer <url>', 'also accept OpenID Connect bearer tokens from this issuer (iss)')
    .option('--oidc-audience <aud>', 'audience (aud) the tokens must be issued for')
    .option('--oidc-jwks <url>', "the issuer's JWKS URL (https)")
    .option('--oidc-jwks-ca <file>', 'CA certificate (PEM) for the JWKS endpoint (default: public roots)')
    .option('--oidc-claims-map <file>', 'JSON mapping of token claims to name, organisation, roles, purposes, projects')
    .option('--oidc-algorithms <algs>', 'accepted signature algorithms, comma-separated (never none or HS*)')
    .option('--oidc-clock-skew-s <s>', 'clock skew tolerated on exp/nbf/iat, seconds (default 60)')
    .option('--policy <file>', 'mesh-wide Cedar access policy, pre-checked at submission')
    .option('--policy-schema <file>', 'Cedar schema the policy is validated against (default: the fedmesh schema)')
    .option('--dashboard-listen <host:port>', 'also serve the web dashboard here (HTTPS with the mesh certificates; port 0 lets the OS choose)')
    .option('--dashboard-oidc-client-id <id>', 'let browsers sign in to the dashboard with the --oidc-issuer (authorization code + PKCE) as this client (default: --oidc-audience)')
    .option('--dashboard-oidc-client-secret-file <file>', 'the dashboard client secret at the issuer (confidential clients; default: a public client)')
    .option('--dashboard-url <url>', "the dashboard's public https address, for the sign-in redirect URI (default: the address it listens on)");
  operations(coordinator).action(exit(async (opts) => (await servers()).runCoordinator(opts)));

  const agent = program
    .command('agent')
    .description("run a domain agent over a data folder; it dials out to the coordinator")
    .requiredOption('--coordinator <host:port>', 'coordinator address')
    .requiredOption('--name <name>', 'agent name (must match its certificate)')
    .option('--data <dir>', 'folder of CSV / Parquet files; each becomes a data product (with --database: consent records and manifest only)')
    .option('--database <url>', "serve the OMOP CDM of a site's PostgreSQL in place: postgres://user@host:port/db (no password: --database-password-file, PGPASSWORD or ~/.pgpass)")
    .option('--schema <name>', 'with --database: the schema holding the CDM tables')
    .option('--vocabulary-schema <name>', 'with --database: the schema holding the vocabulary tables (default: --schema)')
    .option('--database-password-file <file>', "with --database: file holding the role's password (mode 600)")
    .option('--database-pool-size <n>', 'with --database: connections the agent may hold on the server, 1 to 64 (default 4)')
    .option('--database-statement-timeout-ms <ms>', 'with --database: longest single statement on the server, 0 for none (default 600000)')
    .requiredOption('--state <dir>', 'state folder (the agent DuckDB database)')
    .option('--tls-dir <dir>', 'folder made by `fedmesh certs`')
    .option('--insecure', 'plaintext, no authentication: loopback development only')
    .option('--domain <domain>', 'domain the agent serves (default: its name)')
    .option('--min-cell-size <n>', 'in mode none, withhold groups, bins and cells with fewer distinct persons', '10')
    .option('--max-groups <n>', 'in mode none, refuse a job that would release more groups than this from the agent', '1000')
    .option('--secure-max-rows <n>', "largest per-agent bound (secureMaxRows) of a secure job this domain accepts; its statistics are clipped to the job's bound", '16777216')
    .option('--allow-modes <modes>', 'privacy modes this domain accepts (comma-separated)', 'central-dp,local-dp,distributed-dp')
    .option('--budget-cap-epsilon <e>', "this domain's cap on ε spent per researcher", '10')
    .option('--budget-cap-delta <d>', "this domain's cap on δ per researcher", '1e-5')
    .option('--reload-interval-ms <ms>', 're-read changed data files this often and re-register the catalogue (SIGHUP does it at once)')
    .option('--policy <file>', "this domain's Cedar access policy, checked before every job (a bad policy stops the agent with the file and line)")
    .option('--policy-schema <file>', 'Cedar schema the policy is validated against (default: the fedmesh schema)')
    .option('--coordinator-key <file>', "the coordinator's identity-assertion key (its state folder's coordinator-ed25519.pub; default: pinned at first registration)")
    .option('--vocabulary-complete', 'declare the public concept table complete (independent of this site\'s data): names may then be sent for concept ids the researcher supplied')
    .option('--stream-rows', 'data in the agent\'s DuckDB: glm, Cox and train read their rows every round instead of keeping them in memory between rounds (a PostgreSQL source always does)')
    .option('--stream-rows-above <rows>', 'stream (as --stream-rows) only jobs over a product of more rows than this; the default, 2000000, bounds what a job keeps in memory')
    .option('--max-concurrent-tasks <n>', 'tasks computed at once (default max(4, 2 x cores), at most 32); up to 512 more wait, beyond that a task is refused as busy (RESOURCE_EXHAUSTED)');
  operations(agent).action(exit(async (opts) => (await servers()).runAgent(opts)));

  program
    .command('health')
    .description('ask a gRPC health service (a server started with --health-listen); exit 0 if SERVING, else 1')
    .argument('<host:port>', 'address of the health listener')
    .option('--service <name>', "service to ask about ('' = the whole server)", '')
    .option('--timeout-ms <ms>', 'give up after this long', '3000')
    .action(exit(async (address: string, opts: { service: string; timeoutMs: string }) => (await servers()).runHealth(address, opts)));

  connection(
    program
      .command('query')
      .description('submit a job (JOB.json or flags), follow its progress, print the result')
      .argument('[job]', 'job spec as a JSON file')
      .option('--product <name>', 'data product')
      .option('--count', 'count rows')
      .option('--sum <col:lo:hi>', 'bounded sum (repeatable)', collect)
      .option('--mean <col:lo:hi>', 'bounded mean (repeatable)', collect)
      .option('--variance <col:lo:hi>', 'bounded variance (repeatable)', collect)
      .option('--histogram <col:e0,e1,...>', 'histogram over public bin edges (repeatable)', collect)
      .option('--quantile <col:lo:hi:q1,q2>', 'quantiles over a public grid of 101 candidates in [lo, hi] (repeatable)', collect)
      .option('--group-by <cols>', 'comma-separated group columns')
      .option('--group-keys <col=v1,v2>', 'public group keys of a groupBy column (repeatable; DP modes)', collect)
      .option('--max-rows-per-person <k>', 'contribution bound per person in the DP modes (default 1)')
      .option('--where <expr>', "filter, e.g. 'year_of_birth>=1950' (repeatable, ANDed)", collect)
      .option('--privacy <mode>', 'none | central-dp | local-dp | distributed-dp')
      .option('--epsilon <e>', 'privacy budget ε')
      .option('--delta <d>', 'privacy budget δ')
      .option('--rho <r>', 'zCDP budget ρ')
      .option('--secure <mode>', 'secagg | he: secure aggregation (modes none and distributed-dp)')
      .option('--secure-threshold <t>', 'secure jobs: SecAgg threshold and fewest contributors (default ⌊n/2⌋+1)')
      .option('--secure-max-rows <n>', 'secure distributed-dp jobs: public per-agent bound on rows; agents clip their statistics to it (at most what every agent accepts; default 16777216). Mode none uses the value the agents publish')
      .option('--tolerated <k>', 'distributed-dp: agents that may drop out or collude (default ⌊(n−1)/3⌋)')
      .option('--key-dir <dir>', 'HE jobs: key folder (default ~/.fedmesh/keys/<plan hash>; made if absent)')
      .option('--quorum <n>', 'agents that must answer (default: every agent serving the product, live or not); a result missing agents is marked PARTIAL')
      .option('--timeout-ms <ms>', 'job deadline')
      .option('--agents <names>', 'comma-separated agents to ask')
      .option('--json', 'print one JSON object (same as --format json)'),
  );
  output(program.commands.at(-1)!).action(exit(async (file: string | undefined, opts) => (await researcher()).runQuery(file, opts)));

  /** What `--quorum` means differs by kind: a floor with partial results (the one-round kinds), a fixed set of sites (glm), updates per round (train). */
  const QUORUM_HELP = {
    partial: 'agents that must answer (default: every agent serving the product, live or not); a result missing agents is marked PARTIAL',
    glm: 'the fewest agents the fit may be made over: refused at admission (QUORUM_NOT_MET) when fewer serve the product; every admitted agent must then answer every round or the job fails (no partial fit). With --agents it must equal their number',
    train: 'the fewest updates a training round aggregates (participation.minUpdates); a round with fewer fails the job, agents that miss a round drop out of it',
    survival: 'Kaplan–Meier: agents that must answer (default: every agent serving the product, live or not), a result missing agents is marked PARTIAL; Cox ("model": "cox"): the fewest agents the fit may be made over, every admitted agent answers every round (no partial fit); with --agents it must equal their number',
  } as const;
  const privacyOptions = (cmd: Command, quorum: keyof typeof QUORUM_HELP = 'partial'): Command =>
    cmd
      .option('--privacy <mode>', 'none | central-dp | local-dp | distributed-dp')
      .option('--epsilon <e>', 'privacy budget ε')
      .option('--delta <d>', 'privacy budget δ')
      .option('--rho <r>', 'zCDP budget ρ')
      .option('--secure <mode>', 'secagg | he')
      .option('--quorum <n>', QUORUM_HELP[quorum])
      .option('--timeout-ms <ms>', 'job deadline')
      .option('--agents <names>', 'comma-separated agents to ask')
      .option('--json', 'print one JSON object (same as --format json)')
      .addOption(new Option('--format <format>', 'table | json | csv | parquet | arrow (parquet and arrow need --out or a redirect)').choices(['table', 'json', 'csv', 'parquet', 'arrow']))
      .option('--out <file>', 'write the output to FILE instead of stdout');
  connection(privacyOptions(program.command('cohort').description('count a cohort (OHDSI Circe JSON or native spec) across the mesh: persons, entries, age, gender, agent, attrition').argument('<file>', 'cohort definition or cohort job JSON'))).action(
    exit(async (file: string, opts) => (await cells()).runCellCommand('cohort', file, opts)),
  );
  connection(
    privacyOptions(program.command('characterize').description("a cohort's age, gender and prevalence of public condition/drug concepts").argument('<file>', 'cohort definition or characterize job JSON'))
      .option('--conditions <ids>', 'comma-separated condition concept ids')
      .option('--drugs <ids>', 'comma-separated drug concept ids'),
  ).action(exit(async (file: string, opts) => (await cells()).runCellCommand('characterize', file, opts)));
  connection(privacyOptions(program.command('survival').description('Kaplan–Meier from cohort entry to an outcome, Greenwood bands, median, log-rank').argument('<spec>', 'survival job JSON'), 'survival').option('--plot <file.svg>', 'write the curves as SVG')).action(
    exit(async (file: string, opts) => (await cells()).runCellCommand('survival', file, opts)),
  );
  connection(privacyOptions(program.command('contingency').description('r × c table of persons over public levels, with a chi-square test').argument('<spec>', 'contingency job JSON'))).action(
    exit(async (file: string, opts) => (await cells()).runCellCommand('contingency', file, opts)),
  );
  connection(privacyOptions(program.command('glm').description("generalised linear model (gaussian, binomial, poisson) fitted across the mesh by Fisher scoring rounds; R's summary(glm) table").argument('<spec>', 'glm job JSON'), 'glm').option('--max-rows-per-person <k>', 'contribution bound per person in the DP modes (default 1)')).action(
    exit(async (file: string, opts) => (await kinds()).runKindCommand('glm', file, opts)),
  );
  connection(privacyOptions(program.command('train').description('federated training (logistic/linear regression, MLP, a TF.js Layers model.json) with FedAvg, FedProx, FedAdagrad/FedAdam/FedYogi or SCAFFOLD; a progress bar, then per-round loss, accuracy and AUC').argument('<spec>', 'train job JSON'), 'train').option('--rounds <n>', 'training rounds (training.rounds of the spec)').option('--plot <file.svg>', 'write the loss/accuracy/AUC curves per round (global and per agent) as SVG')).action(
    exit(async (file: string, opts) => (await import('./commands/train-command.js')).runTrainCommand(file, opts)),
  );
  // `model pull` (issue 10): a succeeded train job's model as TF.js files.
  const model = program.command('model').description('models trained by train jobs').enablePositionalOptions();
  connection(model.command('pull').description('write the model of one of your succeeded train jobs as DIR/model.json + DIR/weights.bin (tf.loadLayersModel loads them)').argument('<job>', 'train job id').requiredOption('--out <dir>', 'output folder (made if absent)').option('--json', 'print one JSON object')).action(
    exit(async (job: string, opts) => (await import('./commands/model-pull.js')).runModelPull(job, opts)),
  );
  connection(output(program.command('catalog').description('the mesh-wide data catalog: products, where they live, their schemas').option('--json', 'print JSON'))).action(exit(async (opts) => (await researcher()).runCatalog(opts)));

  const agents = connection(
    output(program.command('agents').description('list member agents: live ones with their data products, the others with why they are not live').option('--json', 'print JSON')),
  )
    // `agents remove --name admin` must give --name to `remove` (STYLE.md lesson 7).
    .enablePositionalOptions()
    .action(exit(async (opts) => (await researcher()).runAgents(opts)));
  connection(agents.command('remove').description('administrators: remove a member agent that is not live (it left the mesh for good), so default quorums stop counting it').argument('<agent>', 'agent name'), false)
    .option('--name <name>', 'administrator certificate to use (default: adminName of the profile, else admin)')
    .option('--token-file <file>', 'authenticate with an OpenID Connect bearer token (its roles must hold the administrator role) instead of a certificate')
    .action(exit(async (agent: string, opts) => (await researcher()).runAgentsRemove(agent, opts)));
  connection(output(program.command('jobs').description('list recent jobs: kind, product, privacy mode and ε').option('--json', 'print JSON').option('--limit <n>', 'how many', '50'))).action(exit(async (opts) => (await researcher()).runJobs(opts)));

  const budget = connection(
    program
      .command('budget')
      .description('show privacy budgets and spend (your own; everyone\'s with --admin)')
      .option('--json', 'print JSON')
      .option('--researcher <id>', 'one researcher (administrators)')
      .option('--admin', 'use an administrator certificate (--name defaults to admin)')
      // `budget set --researcher alice` must give --researcher to `set`, not to `budget` (STYLE.md lesson 7):
      // with positional options, what follows a subcommand belongs to the subcommand.
      .enablePositionalOptions(),
  ).action(exit(async (opts) => (await researcher()).runBudget(opts)));
  connection(
    budget
      .command('set')
      .description('administrators: set a researcher\'s or a project\'s (ε, δ) budget on a population (all products keyed by the same persons)')
      .option('--researcher <id>', 'researcher (certificate name)')
      .option('--project <id>', 'instead of --researcher: a project (ethics approval id), whose budget all its researchers\' jobs share')
      .option('--population <name>', 'population, e.g. person')
      .option('--product <name>', "a data product: sets the budget of the product's population (and says which)")
      .requiredOption('--epsilon <e>', 'total ε')
      .option('--delta <d>', 'total δ', '1e-6')
      .option('--json', 'print JSON'),
    false,
  )
    .option('--name <name>', 'administrator certificate to use (default: adminName of the profile, else admin)')
    .option('--token-file <file>', 'authenticate with an OpenID Connect bearer token (its roles must hold the administrator role) instead of a certificate')
    .action(exit(async (opts) => (await researcher()).runBudgetSet(opts)));

  const audit = program.command('audit').description("verify or read a tamper-evident audit log (the coordinator's STATE/audit or an agent's)").enablePositionalOptions();
  const auditLog = (c: Command): Command => c.requiredOption('--log <dir>', 'the audit folder, e.g. state/coordinator/audit').option('--public-key <file>', "the log's Ed25519 public key kept elsewhere (default: the copy in the folder)").option('--json', 'print JSON (show: JSON Lines)');
  auditLog(audit.command('verify').description('check every entry and signed checkpoint; names the first entry altered, removed, inserted or moved, or a cut file; exit 1 if any'))
    .option('--checkpoint <file>', 'checkpoint lines kept apart (the `checkpoint:` line of an earlier verify): the log must still hold them')
    .action(exit(async (opts) => (await import('./commands/audit.js')).runAuditVerify(opts)));
  auditLog(audit.command('show').description('print the verified entries, filtered'))
    .option('--since <when>', 'ISO date/time, or a duration back from now (30m, 2h, 7d)')
    .option('--type <type>', 'an event type or its prefix (job, job.admitted, ledger, auth)')
    .option('--job <id>', "one job's entries")
    .action(exit(async (opts) => (await import('./commands/audit.js')).runAuditShow(opts)));

  const guard = program.command('guard').description("a domain's view of its agent's mode-none differencing guard, on the agent's state folder with the agent stopped").enablePositionalOptions();
  guard
    .command('show')
    .description('per researcher: how many released cells and (cell, person) pairs the guard remembers')
    .requiredOption('--state <dir>', "the agent's state folder (its --state)")
    .option('--json', 'print JSON')
    .action(exit(async (opts) => (await import('./commands/guard.js')).runGuardShow(opts)));
  guard
    .command('forget')
    .description("drop one researcher's memory (after a data refresh or at a study's end: exact cells may then be differenced against earlier ones); recorded in the agent's audit trail")
    .requiredOption('--state <dir>', "the agent's state folder (its --state)")
    .requiredOption('--researcher <name>', 'whose memory to drop')
    .requiredOption('--name <name>', "the agent's name (its --name), as its audit trail records it")
    .option('--json', 'print JSON')
    .action(exit(async (opts) => (await import('./commands/guard.js')).runGuardForget(opts)));

  program
    .command('policy')
    .description('access policies (Cedar)')
    .command('check')
    .description('dry-run a domain policy decision on a job locally: prints allow or deny with the determining policies (exit 0 allow, 4 deny)')
    .argument('<job>', 'job spec as a JSON file')
    .requiredOption('--agent-policy <file>', "the domain's Cedar policy file")
    .requiredOption('--as <researcher>', 'the researcher to decide for')
    .option('--attr <key=value>', 'researcher attribute: organisation=X, role=R, purpose=P, project=J, authenticatedBy=oidc (repeatable)', collect)
    .option('--purpose <code>', "purpose of use (HL7 PurposeOfUse; overrides the job's)")
    .option('--project <id>', "project or approval id (overrides the job's)")
    .option('--domain <domain>', "the data product's domain")
    .option('--tag <tag>', "a tag of the data product (repeatable)", collect)
    .option('--sensitivity <level>', "the data product's sensitivity", 'sensitive')
    .option('--agent <name>', 'the deciding agent')
    .option('--min-cell-size <n>', "the domain's minimum cell size", '10')
    .option('--policy-schema <file>', 'Cedar schema (default: the fedmesh schema)')
    .option('--json', 'print one JSON object')
    .action(exit(async (job: string, opts) => (await import('./commands/policy-check.js')).runPolicyCheck(job, opts)));

  program
    .command('certs')
    .description('make a development CA and mTLS certificates')
    .requiredOption('--out <dir>', 'output folder')
    .requiredOption('--agents <names>', 'comma-separated agent names')
    .option('--researchers <names>', 'comma-separated researcher names', 'researcher')
    .option('--admins <names>', 'comma-separated administrator names (may set budgets)', 'admin')
    .option('--hosts <names>', 'extra DNS names for the coordinator certificate', 'localhost')
    .action(exit(async (opts: { out: string; agents: string; researchers: string; admins: string; hosts: string }) => {
      const split = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);
      const { makeDevCertificates } = await import('../tools/certs.js');
      const made = await makeDevCertificates({ outDir: opts.out, agents: split(opts.agents), researchers: split(opts.researchers), admins: split(opts.admins), coordinatorHosts: split(opts.hosts) });
      process.stdout.write(`wrote ${made.join(', ')} (and keys) to ${opts.out}\n`);
      return 0;
    }));

  program
    .command('synth')
    .description('write synthetic OMOP CDM sites (DIR/site-1 … site-N)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--sites <n>', 'number of sites', '3')
    .option('--persons <n>', 'persons per site', '1000')
    .option('--seed <s>', 'seed (same seed, same files)', '1')
    .addOption(new Option('--format <format>', 'file format').choices(['csv', 'parquet']).default('parquet'))
    .action(exit(async (opts: { out: string; sites: string; persons: string; seed: string; format: 'csv' | 'parquet' }) => {
      const { synthesize } = await import('../tools/synth/index.js');
      const r = await synthesize({ outDir: opts.out, sites: Number(opts.sites), persons: Number(opts.persons), seed: Number(opts.seed), format: opts.format });
      for (const s of r.sites) process.stdout.write(`${s.dir}: ${Object.entries(s.tables).map(([t, n]) => `${t}=${n}`).join(' ')}\n`);
      process.stdout.write(`${r.totalRows} rows in ${r.elapsedMs} ms (${Math.round(r.rowsPerSecond).toLocaleString('en-US')} rows/s)\n`);
      return 0;
    }));

  program
    .command('demo')
    .description('synthesise sites, start a coordinator and agents, run example jobs, shut down')
    .option('--sites <n>', 'number of sites', '3')
    .option('--persons <n>', 'persons per site', '5000')
    .option('--seed <s>', 'seed', '42')
    .option('--keep', 'keep the mesh (and its dashboard) up after the jobs until Ctrl-C, and the temporary folder')
    .action(exit(async (opts) => (await import('./commands/demo.js')).runDemo(opts)));

  return program;
}

/** Resolves once everything written to `stream` so far has been handed to the OS (a pipe is async in Node). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) return resolve();
    stream.write('', () => resolve());
  });
}

/** A handle left open (a timer, a socket) must not hang the CLI: give up this long after output has drained. */
const EXIT_GRACE_MS = 5000;

/**
 * Sets `process.exitCode` and lets Node end by itself: `process.exit()` right after a large write cuts stdout to a
 * pipe at 64 KiB (STYLE.md lesson 6). Only once stdout and stderr have drained does a fallback timer force the exit.
 */
async function main(): Promise<void> {
  let code: number;
  try {
    await buildProgram().parseAsync(process.argv);
    code = exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed its message (with a did-you-mean suggestion where one is close).
      code = e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    } else {
      if (isFedmeshError(e)) process.stderr.write(`error: ${e.code}: ${e.message}\n`);
      else process.stderr.write(`error: ${(e as Error)?.message ?? String(e)}\n`);
      code = exitCodeFor(e);
    }
  }
  process.exitCode = code;
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}

void main();
