/**
 * Patient consent applied to every task, in one place: the agent's database handle is wrapped so that every
 * connection a task opens (whatever its kind or secure protocol: the aggregate and cell paths, the secure runner,
 * the registry kinds' runner) reads its products through the consent scope of the task's purpose of use. The
 * purpose travels with the task's async context (`run`), so no job kind has to remember to ask for the scope, and
 * connections opened outside a task (ingest, catalog, ledger) see the data as stored.
 *
 * Fail closed: when the consent records could not be read at the last (re)load, every task is refused with
 * FAILED_PRECONDITION until they can, because serving unscoped data would include persons who opted out.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError } from '../../common/errors.js';
import { DEFAULT_PURPOSE, PURPOSE_OF_USE_CODES } from '../../common/job/index.js';
import type { AgentDatabase } from '../data/database.js';
import { loadConsents } from './consent-load.js';
import { applyConsentScope, CONSENT_OPTOUT_TABLE, mapFhirPatients, writeConsentScope, type ScopedProduct } from './consent-scope.js';
import { quoteIdent } from '../data/database.js';
import { coarsenCount, type CoarseCount } from '../data/catalog/disclosure.js';
import type { ConsentProvision, PatientConsent } from './consent.js';
import type { PostgresSource, SessionOptions, SqlSession } from '../data/source/index.js';
import { applySourceConsentScope } from './consent-source.js';
import { writeLinkageKeep, writeSourceLinkageKeep } from '../linkage/linkage-scope.js';
import { describeReadError } from '../data/read-error.js';

type Log = (event: string, fields?: Record<string, unknown>) => void;

/** What a task's connections are scoped by. */
export interface ConsentTaskContext {
  purpose: string;
  /** The instant consent is decided at (the task's start), so all of a task's connections agree. */
  atMs: number;
  /** The task spec's `privacy.linkage` (raw), when the job is linkage-bounded: the person scope of node-agent/linkage. */
  linkage?: unknown;
}

/**
 * The purpose of use a task's spec states (an HL7 PurposeOfUse code), else the default. An unparsable spec or a
 * purpose that is not a code gives the default here; the task's own parse refuses it with the field named.
 */
export function taskPurpose(specJson: string): string {
  try {
    const p = (JSON.parse(specJson) as { purpose?: unknown } | null)?.purpose;
    return typeof p === 'string' && PURPOSE_OF_USE_CODES.includes(p) ? p : DEFAULT_PURPOSE;
  } catch {
    return DEFAULT_PURPOSE;
  }
}

export class ConsentScopes {
  private readonly context = new AsyncLocalStorage<ConsentTaskContext>();
  private consents: readonly PatientConsent[] = [];
  private failed = false;
  private products: () => readonly ScopedProduct[] = () => [];
  private sourceAttached = false;

  constructor(private readonly dataDir: string, private readonly log: Log) {}

  /** The records in force (for the catalog's per-purpose counts). */
  records(): readonly PatientConsent[] {
    return this.consents;
  }

  /**
   * Reads the consent records of the data folder again (with each ingest) and the products to scope (each with the
   * privacy unit the catalog publishes). A failure keeps nothing: tasks are refused until a reload succeeds.
   */
  async reload(conn: DuckDBConnection, products: () => readonly ScopedProduct[]): Promise<void> {
    this.products = products;
    try {
      const loaded = await loadConsents(this.dataDir, conn);
      this.consents = loaded.consents;
      this.failed = false;
      if (loaded.files.length > 0) this.log('consent-loaded', { files: loaded.files, records: loaded.consents.length, skipped: loaded.skipped });
    } catch (e) {
      this.consents = [];
      this.failed = true;
      // The domain's own log, with no data in it: fedmesh's own refusals name the file and line; DuckDB's CSV
      // errors quote the offending line (a person's id and decision), so those are scrubbed first.
      this.log('consent-load-failed', { error: e instanceof RangeError ? e.message.slice(0, 2000) : describeReadError(e).message });
    }
  }

  /** Runs `fn` (one task) with its connections scoped by consent for `purpose`. */
  run<T>(purpose: string, fn: () => Promise<T>, linkage?: unknown): Promise<T> {
    return this.context.run({ purpose, atMs: Date.now(), ...(linkage !== undefined ? { linkage } : {}) }, fn);
  }

  /** The database handle every task path uses: inside `run`, each new connection is consent-scoped first. */
  wrap(db: AgentDatabase): AgentDatabase {
    return {
      ...db,
      withConnection: <T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> => {
        const ctx = this.context.getStore();
        // Data on a wrapped source: the scope (consent and linkage) is applied there (wrapSource); this DuckDB holds no
        // product tables, only the agent's own working state.
        if (!ctx || this.sourceAttached) return db.withConnection(fn);
        if (this.failed) {
          return Promise.reject(new FedmeshError('FAILED_PRECONDITION', "patient consent records at this agent cannot be applied (the domain's log says why), so it computes nothing until they can", { field: 'consent' }));
        }
        return db.withConnection(async (conn) => {
          await this.scope(conn, ctx);
          return fn(conn);
        });
      },
    };
  }

  /**
   * The same for a site's PostgreSQL: inside `run`, every session a task opens on it is consent-scoped first (TEMP
   * views over the CDM tables, consent-source.ts). Once a source is wrapped, the catalog's per-purpose counts (which
   * read the agent's DuckDB) are not published: the products are not there.
   */
  wrapSource<S extends PostgresSource>(source: S): S {
    this.sourceAttached = true;
    return {
      ...source,
      withSession: <T>(fn: Parameters<S['withSession']>[0], options?: SessionOptions): Promise<T> => {
        const ctx = this.context.getStore();
        if (!ctx) return source.withSession(fn, options) as Promise<T>;
        if (this.failed) {
          return Promise.reject(new FedmeshError('FAILED_PRECONDITION', "patient consent records at this agent cannot be applied (the domain's log says why), so it computes nothing until they can", { field: 'consent' }));
        }
        return source.withSession(async (s) => {
          const products = this.products().flatMap((p) => {
            const found = source.catalogue.get(p.name);
            if (!found) return [];
            // A unit the server declares NOT NULL needs no view of its own (consent-source.ts).
            const at = p.privacyUnit === undefined ? -1 : found.columns.indexOf(p.privacyUnit);
            return [{ ...p, schema: found.schema, unitNotNull: found.notNull[at] === true }];
          });
          // Linkage-bounded job: only the persons this site is designated for, decided on the server as in DuckDB.
          const keepTable = ctx.linkage !== undefined ? await writeSourceLinkageKeep(s as SqlSession, ctx.linkage, products) : undefined;
          await applySourceConsentScope(s as SqlSession, { consents: this.consents, purpose: ctx.purpose, atMs: ctx.atMs, products, ...(keepTable !== undefined ? { keepTable } : {}) });
          return (fn as (s: unknown) => Promise<T>)(s);
        }, options);
      },
    };
  }

  /**
   * The catalog's view of consent: per product with a privacy unit, how many distinct persons it serves for each
   * purpose the records name (and the default purpose), coarsened like every published count (`< k` below the
   * minimum cell size, else two significant figures). Counted on `conn` without views, so the caller's connection
   * keeps reading the stored tables.
   */
  async personsByPurpose(conn: DuckDBConnection, minCellSize: number): Promise<Map<string, Record<string, CoarseCount>>> {
    const out = new Map<string, Record<string, CoarseCount>>();
    if (this.failed || this.consents.length === 0 || this.sourceAttached) return out;
    const purposes = [...new Set([DEFAULT_PURPOSE, ...this.consents.flatMap((c) => purposesOf(c.root))])].sort().slice(0, MAX_CATALOG_PURPOSES);
    const db = String((await conn.runAndReadAll('SELECT current_database() AS d')).getRowObjectsJS()[0]!.d);
    try {
      for (const purpose of purposes) {
        if ((await writeConsentScope(conn, this.consents, purpose, Date.now())) > 0) await mapFhirPatients(conn);
        for (const p of this.products()) {
          if (!p.privacyUnit) continue;
          const unit = quoteIdent(p.privacyUnit);
          // sql: duckdb-only (the agent's own DuckDB and its consent table)
          const n = (await conn.runAndReadAll(`SELECT count(DISTINCT t.${unit})::BIGINT AS n FROM ${quoteIdent(db)}.main.${quoteIdent(p.name)} t ANTI JOIN ${CONSENT_OPTOUT_TABLE} o ON CAST(t.${unit} AS VARCHAR) = o.person`)).getRowObjectsJS()[0]!.n;
          out.set(p.name, { ...out.get(p.name), [purpose]: coarsenCount(Number(n), minCellSize) });
        }
      }
    } finally {
      await conn.run(`DROP TABLE IF EXISTS ${CONSENT_OPTOUT_TABLE}`);
    }
    return out;
  }

  private async scope(conn: DuckDBConnection, ctx: ConsentTaskContext): Promise<void> {
    const products = this.products();
    // Linkage-bounded job: only the persons this site is designated for (node-agent/linkage/linkage-scope.ts).
    const keepTable = ctx.linkage !== undefined ? await writeLinkageKeep(conn, String((await conn.runAndReadAll('SELECT current_database() AS d')).getRowObjectsJS()[0]!.d), ctx.linkage, products) : undefined;
    await applyConsentScope(conn, { consents: this.consents, purpose: ctx.purpose, atMs: ctx.atMs, products, ...(keepTable ? { keepTable } : {}) });
  }
}

/** Purposes the catalog counts at most (the records' own codes; a record without one applies to every purpose). */
const MAX_CATALOG_PURPOSES = 16;

function purposesOf(p: ConsentProvision): string[] {
  return [...p.purposes, ...p.provisions.flatMap(purposesOf)];
}
