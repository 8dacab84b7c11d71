import type * as grpc from '@grpc/grpc-js';
import { bearerCredentials, clientCredentials, clientChannelOptions, fedmeshV1, fromGrpcError } from '../../../common/transport/index.js';
import { FedmeshError } from '../../../common/errors.js';
import { registryKindCandidates } from '../../../common/kinds/index.js';
import { KINDS } from '../../../jobs/kinds.js';
import { describeConnectionError, type ConnectionContext } from './connection-errors.js';
import type { TlsMaterial } from '../../../common/tls.js';
import type { AgentInfoView, IngestStatusView, BudgetEntryView, BudgetTarget, BudgetReportView, JobEventView, JobStateName, JobView } from '../types.js';
import type { HeJobOptions, PreparedHeJob } from '../secure/he-client.js';
import { requireMeshCa } from '../secure/he-verify.js';

// node-seal (WebAssembly) is loaded only by HE jobs: other commands start without it.
const heClient = () => import('../secure/he-client.js');

function isHeSpec(v: unknown): v is Record<string, unknown> {
  // Registry kinds (jobs/<kind>) run their HE sums among the agents (common/kinds/secure-sum.ts): nothing to decrypt here.
  // A kind ported in steps may leave HE specs on the built-in path (`accepts`), where this client decrypts.
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>).secure === 'he' && !registryKindCandidates(v).some((k) => KINDS.get(k)?.accepts?.(v) ?? KINDS.has(k));
}

interface WireJob {
  jobId: string;
  state: string;
  kind: string;
  researcher: string;
  createdAtMs: string;
  finishedAtMs: string;
  agentsAsked: string[];
  agentsAnswered: string[];
  agentsMissing: string[];
  resultJson: string;
  error: { code: string; message: string; field: string } | null;
  specJson: string;
  resultCiphertexts?: Buffer;
  resultOmitted?: boolean;
  specSummarised?: boolean;
}

interface WireChunk {
  part: string;
  offset: string;
  data: Buffer;
  partBytes: string;
}

/** Largest result part this client accepts from GetJobResult; above the coordinator's own admission limit. */
const MAX_RESULT_PART_BYTES = 256 * 1024 * 1024;

const STATES: Record<string, JobStateName> = {
  JOB_STATE_QUEUED: 'queued',
  JOB_STATE_RUNNING: 'running',
  JOB_STATE_SUCCEEDED: 'succeeded',
  JOB_STATE_FAILED: 'failed',
};

function jobFromWire(w: WireJob): JobView {
  return {
    jobId: w.jobId,
    state: STATES[w.state] ?? 'unknown',
    kind: w.kind,
    researcher: w.researcher,
    createdAtMs: Number(w.createdAtMs),
    finishedAtMs: Number(w.finishedAtMs),
    agents: { asked: w.agentsAsked ?? [], answered: w.agentsAnswered ?? [], missing: w.agentsMissing ?? [] },
    result: w.resultJson ? (JSON.parse(w.resultJson) as JobView['result']) : undefined,
    error: w.error && w.error.code ? w.error : undefined,
    spec: w.specJson ? (JSON.parse(w.specJson) as unknown) : undefined,
    ...(w.resultCiphertexts && w.resultCiphertexts.length > 0 ? { resultCiphertexts: new Uint8Array(w.resultCiphertexts.buffer, w.resultCiphertexts.byteOffset, w.resultCiphertexts.byteLength) } : {}),
    ...(w.resultOmitted ? { resultOmitted: true } : {}),
    ...(w.specSummarised ? { specSummarised: true } : {}),
  };
}

export interface CoordinatorClientOptions {
  address: string;
  tls: TlsMaterial | undefined;
  /** Per-call deadline for unary calls. @default 30000 */
  callTimeoutMs?: number;
  /** Files named in connection errors (which certificate failed). */
  files?: { caPath?: string; certPath?: string };
  /**
   * Authenticate with an OpenID Connect bearer token instead of a client certificate: TLS verifying the coordinator
   * against `ca`, the token on every call. Takes the place of `tls`.
   */
  bearer?: { ca: Buffer; token: string };
  /**
   * The CA that issued the agents' certificates: HE results are decrypted only after every contributor's signed
   * binding to the submitted spec verifies under it (client/secure/he-verify.ts); HE jobs are refused without it.
   * @default tls.ca, else bearer.ca (the `--tls-dir` ca.crt made by `fedmesh certs` signs agents and researchers alike)
   */
  meshCa?: Buffer | string;
}

/** The researcher's gRPC client. gRPC errors become FedmeshErrors here and nowhere else. */
export class CoordinatorClient {
  private readonly client: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  private readonly timeoutMs: number;
  private readonly connection: ConnectionContext;
  /** The mesh CA: HE results are checked against the agents' certificates with it (common/secure/he-binding.ts). */
  private readonly meshCa: Buffer | string | undefined;

  constructor(options: CoordinatorClientOptions) {
    this.connection = { address: options.address, ...(options.tls ? (options.files ?? { caPath: 'the CA given' }) : {}) };
    const Ctor = fedmeshV1().Coordinator!;
    const bearer = options.bearer;
    this.meshCa = options.meshCa ?? options.tls?.ca ?? bearer?.ca;
    const creds = bearer ? bearerCredentials(bearer.ca, () => bearer.token) : clientCredentials(options.tls);
    this.client = new Ctor(options.address, creds, clientChannelOptions(options.address, options.tls !== undefined || bearer !== undefined)) as never;
    this.timeoutMs = options.callTimeoutMs ?? 30_000;
  }

  private call<Res>(method: string, req: unknown): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const fn = this.client[method]!.bind(this.client);
      fn(req, { deadline: Date.now() + this.timeoutMs }, (err: grpc.ServiceError | null, res: Res) => (err ? reject(this.fromGrpc(err)) : resolve(res)));
    });
  }

  private fromGrpc(err: unknown): FedmeshError {
    return describeConnectionError(fromGrpcError(err), this.connection);
  }

  async submitJob(spec: unknown): Promise<JobView> {
    const specJson = typeof spec === 'string' ? spec : JSON.stringify(spec);
    return jobFromWire(await this.call<WireJob>('submitJob', { specJson }));
  }

  /** A job with its whole result: inline when small, else fetched in chunks with GetJobResult. */
  async getJob(jobId: string): Promise<JobView> {
    return this.withResult(jobFromWire(await this.call<WireJob>('getJob', { jobId })));
  }

  private async withResult(job: JobView): Promise<JobView> {
    if (!job.resultOmitted) return job;
    const parts = await this.getJobResult(job.jobId, ['RESULT_PART_JSON', 'RESULT_PART_CIPHERTEXTS']);
    const json = parts.get('RESULT_PART_JSON');
    const ct = parts.get('RESULT_PART_CIPHERTEXTS');
    const { resultOmitted: _, ...rest } = job;
    return {
      ...rest,
      result: json && json.length > 0 ? (JSON.parse(json.toString('utf8')) as JobView['result']) : undefined,
      ...(ct && ct.length > 0 ? { resultCiphertexts: new Uint8Array(ct.buffer, ct.byteOffset, ct.byteLength) } : {}),
    };
  }

  /**
   * Streams a succeeded job's result parts (GetJobResult) and checks each arrived whole, in order.
   * @returns part name (RESULT_PART_JSON / _ARROW / _CIPHERTEXTS) → bytes
   */
  getJobResult(jobId: string, parts: string[] = []): Promise<Map<string, Buffer>> {
    return new Promise((resolve, reject) => {
      const stream = (this.client.getJobResult as (req: unknown, opts: unknown) => grpc.ClientReadableStream<WireChunk>).call(this.client, { jobId, parts }, { deadline: Date.now() + 10 * this.timeoutMs });
      const got = new Map<string, { total: number; chunks: Buffer[]; bytes: number }>();
      let bad: Error | undefined;
      stream.on('data', (c: WireChunk) => {
        if (bad) return;
        const total = Number(c.partBytes);
        const p = got.get(c.part) ?? { total, chunks: [], bytes: 0 };
        if (!Number.isSafeInteger(total) || total < 0 || total > MAX_RESULT_PART_BYTES || total !== p.total || Number(c.offset) !== p.bytes || p.bytes + c.data.length > total) {
          bad = new FedmeshError('INTERNAL', `result part ${c.part} of job ${jobId} arrived out of order or over its stated size`);
          stream.cancel();
          return;
        }
        p.chunks.push(c.data);
        p.bytes += c.data.length;
        got.set(c.part, p);
      });
      stream.on('error', (err) => reject(bad ?? this.fromGrpc(err)));
      stream.on('end', () => {
        if (bad) return reject(bad);
        const out = new Map<string, Buffer>();
        for (const [part, p] of got) {
          if (p.bytes !== p.total) return reject(new FedmeshError('INTERNAL', `result part ${part} of job ${jobId} ended after ${p.bytes} of ${p.total} bytes`));
          out.set(part, Buffer.concat(p.chunks, p.total));
        }
        resolve(out);
      });
    });
  }

  /** The newest jobs the caller may see, as summaries (no result; `spec` holds kind, product, privacyMode, secure). */
  async listJobs(limit = 50): Promise<JobView[]> {
    const r = await this.call<{ jobs: WireJob[] }>('listJobs', { limit });
    return r.jobs.map(jobFromWire);
  }

  async listAgents(): Promise<AgentInfoView[]> {
    type WireProduct = Omit<AgentInfoView['products'][number], 'metadata'> & { metadataJson: string };
    type WireIngest = Omit<IngestStatusView, 'atMs'> & { atUnixMs: string };
    type WireAgent = Omit<AgentInfoView, 'connectedSinceMs' | 'lastHeartbeatMs' | 'products' | 'registeredProducts' | 'notLiveSinceMs' | 'notLiveReason' | 'ingest'> & {
      connectedSinceMs: string;
      lastHeartbeatMs: string;
      products: WireProduct[];
      registeredProducts?: string[];
      notLiveSinceMs?: string;
      notLiveReason?: string;
      ingest?: WireIngest | null;
    };
    const r = await this.call<{ agents: WireAgent[] }>('listAgents', {});
    return r.agents.map(({ ingest, registeredProducts, notLiveSinceMs, notLiveReason, ...a }) => ({
      ...a,
      ...(ingest ? { ingest: { state: ingest.state, failed: ingest.failed ?? [], notices: ingest.notices ?? [], omitted: ingest.omitted ?? 0, atMs: Number(ingest.atUnixMs) } } : {}),
      connectedSinceMs: Number(a.connectedSinceMs),
      lastHeartbeatMs: Number(a.lastHeartbeatMs),
      products: a.products.map(({ metadataJson, ...p }) => ({ ...p, metadata: metadataJson ? (JSON.parse(metadataJson) as Record<string, unknown>) : {} })),
      ...(a.connected ? {} : { registeredProducts: registeredProducts ?? [], notLiveSinceMs: Number(notLiveSinceMs ?? 0), notLiveReason: notLiveReason ?? '' }),
    }));
  }

  /** Administrators: removes a member agent that is not live (it left the mesh for good). */
  async removeAgent(name: string): Promise<void> {
    await this.call<{ name: string }>('removeAgent', { name });
  }

  async getBudget(researcher?: string): Promise<BudgetReportView> {
    return this.call<BudgetReportView>('getBudget', { researcher: researcher ?? '' });
  }

  /**
   * Sets a researcher's budget on a population. `target` names it (`{ population: 'person' }`) or names one of its
   * products (`{ product: 'measurement' }`, or a bare product name as before populations), which the coordinator
   * maps to the product's population and reports in `mappedFromProduct`.
   */
  async setBudget(researcher: string, target: string | BudgetTarget, epsilon: number, delta: number): Promise<BudgetEntryView> {
    const t: BudgetTarget = typeof target === 'string' ? { product: target } : target;
    return this.call<BudgetEntryView>('setBudget', { researcher, ...('population' in t ? { population: t.population } : { product: t.product }), epsilon, delta });
  }

  /** Administrators: sets a project's budget on a population, shared by every researcher's jobs under the project. */
  async setProjectBudget(project: string, target: BudgetTarget, epsilon: number, delta: number): Promise<BudgetEntryView> {
    return this.call<BudgetEntryView>('setBudget', { project, ...('population' in target ? { population: target.population } : { product: target.product }), epsilon, delta });
  }

  /** Follows a job's events until it finishes; resolves with the final status. */
  watchJob(jobId: string, onEvent?: (e: JobEventView) => void): Promise<JobView> {
    return new Promise<JobView>((resolve, reject) => {
      const stream = (this.client.watchJob as (req: unknown) => grpc.ClientReadableStream<Record<string, unknown>>).call(this.client, { jobId });
      let final: JobView | undefined;
      stream.on('data', (w: { jobId: string; type: string; agent: string; message: string; atMs: string; status: WireJob | null }) => {
        const e: JobEventView = { jobId: w.jobId, type: w.type, agent: w.agent, message: w.message, atMs: Number(w.atMs), status: w.status ? jobFromWire(w.status) : undefined };
        if (e.status) final = e.status;
        onEvent?.(e);
      });
      stream.on('error', (err) => reject(this.fromGrpc(err)));
      stream.on('end', () => (final ? this.withResult(final).then(resolve, reject) : this.getJob(jobId).then(resolve, reject)));
    });
  }

  /**
   * Submits and waits for the final state. An HE job (`secure: 'he'`) is prepared here first — participants fixed,
   * BFV plan chosen, key pair loaded or made in the key folder, public key put into the spec — and its aggregate
   * ciphertexts are decrypted here after the job: the secret key never leaves this process.
   */
  async run(spec: unknown, onEvent?: (e: JobEventView) => void, options: HeJobOptions = {}): Promise<JobView> {
    const parsed = typeof spec === 'string' ? (JSON.parse(spec) as unknown) : spec;
    if (isHeSpec(parsed)) {
      const prepared = await this.prepareHe(parsed, options);
      const submitted = await this.submitJob(prepared.spec);
      return (await heClient()).finalizeHeJob(await this.watchJob(submitted.jobId, onEvent), prepared, this.meshCa);
    }
    const submitted = await this.submitJob(spec);
    return this.watchJob(submitted.jobId, onEvent);
  }

  /** HE jobs: fixes participants and BFV plan and loads or makes the key pair (see client/secure/he-client.ts). */
  async prepareHe(spec: Record<string, unknown>, options: HeJobOptions = {}): Promise<PreparedHeJob> {
    // Refused before anything is submitted or charged: the result could never be verified, so never decrypted.
    requireMeshCa(this.meshCa, 'run an HE job');
    return (await heClient()).prepareHeJob(spec, await this.listAgents(), options);
  }

  /** HE jobs: decrypts the aggregate ciphertexts and releases the values. */
  async finalizeHe(job: JobView, prepared: PreparedHeJob): Promise<JobView> {
    return (await heClient()).finalizeHeJob(job, prepared, this.meshCa);
  }

  close(): void {
    this.client.close();
  }
}
