/**
 * Where a researcher command connects and as whom (issue 14 #10). Four sources, strongest first:
 * a command-line flag > an environment variable > a profile of the config file > the built-in default.
 *
 * The config file (`FEDMESH_CONFIG`, else `$XDG_CONFIG_HOME/fedmesh/config.json`, else
 * `~/.config/fedmesh/config.json`) holds named profiles:
 *
 *     { "defaultProfile": "lab", "profiles": { "lab": { "coordinator": "mesh.example.org:7443", "tlsDir": "~/tls", "name": "alice" } } }
 *
 * `--profile NAME` (or `FEDMESH_PROFILE`) picks one; without either, `defaultProfile` if the file names one.
 * Everything here is pure: the caller passes the environment and the file's text (env vars are read only at the
 * edge, STYLE.md).
 */
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { FedmeshError, quote } from '../../common/errors.js';

export const ENV = {
  coordinator: 'FEDMESH_COORDINATOR',
  tlsDir: 'FEDMESH_TLS_DIR',
  name: 'FEDMESH_NAME',
  profile: 'FEDMESH_PROFILE',
  config: 'FEDMESH_CONFIG',
} as const;

const profileSchema = z
  .object({
    coordinator: z.string().min(1).max(300).optional(),
    tlsDir: z.string().min(1).max(4096).optional(),
    /** Researcher certificate name. */
    name: z.string().min(1).max(200).optional(),
    /** Administrator certificate name (`budget --admin`, `budget set`). */
    adminName: z.string().min(1).max(200).optional(),
    insecure: z.boolean().optional(),
  })
  .strict();

const configSchema = z
  .object({
    defaultProfile: z.string().min(1).max(200).optional(),
    profiles: z.record(z.string().min(1).max(200), profileSchema).optional(),
  })
  .strict();

export type Profile = z.infer<typeof profileSchema>;
export type ConfigFile = z.infer<typeof configSchema>;

/** Parses and validates a config file; errors name the file and the bad key (`profiles.lab.coordinator`). */
export function parseConfigFile(text: string, path: string): ConfigFile {
  if (text.length > 1_000_000) throw new FedmeshError('INVALID_ARGUMENT', `config ${quote(path, 200)}: larger than 1 MB`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new FedmeshError('INVALID_ARGUMENT', `config ${quote(path, 200)}: malformed JSON: ${quote((e as Error).message, 200)}`);
  }
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const key = issue.path.map(String).join('.') || '(top level)';
    const what = issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.map((k) => quote(k, 60)).join(', ')} (known: ${knownKeys(issue.path.length)})` : issue.message;
    throw new FedmeshError('INVALID_ARGUMENT', `config ${quote(path, 200)}: ${key}: ${what}`);
  }
  if (r.data.defaultProfile !== undefined && !r.data.profiles?.[r.data.defaultProfile]) {
    throw new FedmeshError('INVALID_ARGUMENT', `config ${quote(path, 200)}: defaultProfile: no profile named ${quote(r.data.defaultProfile, 60)}`);
  }
  return r.data;
}

function knownKeys(depth: number): string {
  return depth === 0 ? 'defaultProfile, profiles' : Object.keys(profileSchema.shape).join(', ');
}

/** The config file's path: FEDMESH_CONFIG, else the XDG location. */
export function configPath(env: Readonly<Record<string, string | undefined>>, home: string): string {
  const explicit = env[ENV.config];
  if (explicit) return explicit;
  const base = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(home, '.config');
  return join(base, 'fedmesh', 'config.json');
}

export interface ConnectionSettings {
  coordinator?: string;
  tlsDir?: string;
  name?: string;
  insecure?: boolean;
}

export interface ResolveInput {
  /** Flags given on the command line (undefined = not given). */
  flags: ConnectionSettings & { profile?: string };
  env: Readonly<Record<string, string | undefined>>;
  /** The parsed config file, if there is one. */
  config?: ConfigFile;
  /** Where the config came from, for messages. */
  configPath: string;
  home: string;
  role: 'researcher' | 'admin';
}

export interface ResolvedConnection {
  coordinator: string;
  tlsDir?: string;
  name: string;
  insecure: boolean;
  /** Where each setting came from, e.g. `coordinator: env FEDMESH_COORDINATOR`. */
  sources: Record<'coordinator' | 'tlsDir' | 'name', string>;
}

const expandHome = (p: string, home: string): string => (p === '~' ? home : p.startsWith('~/') ? join(home, p.slice(2)) : p);

/**
 * Merges the four sources. Throws FedmeshError INVALID_ARGUMENT naming the setting when the coordinator is
 * missing or has no port, or when the profile asked for does not exist.
 */
export function resolveConnection(input: ResolveInput): ResolvedConnection {
  const { flags, env, config, role, home } = input;
  const profileName = flags.profile ?? env[ENV.profile] ?? config?.defaultProfile;
  let profile: Profile = {};
  let profileLabel = '';
  if (profileName !== undefined) {
    const p = config?.profiles?.[profileName];
    if (!p) {
      const known = Object.keys(config?.profiles ?? {});
      throw new FedmeshError(
        'INVALID_ARGUMENT',
        `--profile: no profile ${quote(profileName, 60)} in ${config ? quote(input.configPath, 200) : `${quote(input.configPath, 200)} (no such file)`}${known.length ? ` (profiles: ${known.join(', ')})` : ''}`,
      );
    }
    profile = p;
    profileLabel = `profile ${profileName}`;
  }
  const pick = <T>(flag: T | undefined, envName: string | undefined, envValue: T | undefined, prof: T | undefined, dflt: T | undefined): [T | undefined, string] =>
    flag !== undefined ? [flag, 'flag'] : envValue !== undefined && envValue !== '' ? [envValue, `env ${envName}`] : prof !== undefined ? [prof, profileLabel] : [dflt, 'default'];
  const [coordinator, coordSrc] = pick(flags.coordinator, ENV.coordinator, env[ENV.coordinator], profile.coordinator, undefined);
  const [tlsDir, tlsSrc] = pick(flags.tlsDir, ENV.tlsDir, env[ENV.tlsDir], profile.tlsDir, undefined);
  const [name, nameSrc] =
    role === 'admin' ? pick(flags.name, undefined, undefined, profile.adminName, 'admin') : pick(flags.name, ENV.name, env[ENV.name], profile.name, 'researcher');
  if (coordinator === undefined) {
    throw new FedmeshError('INVALID_ARGUMENT', `--coordinator HOST:PORT is required (or set ${ENV.coordinator}, or a profile in ${input.configPath})`);
  }
  checkAddress(coordinator, coordSrc === 'flag' ? '--coordinator' : coordSrc);
  return {
    coordinator,
    ...(tlsDir !== undefined ? { tlsDir: resolve(expandHome(tlsDir, home)) } : {}),
    name: name!,
    insecure: flags.insecure === true || (flags.insecure === undefined && profile.insecure === true),
    sources: { coordinator: coordSrc, tlsDir: tlsSrc, name: nameSrc },
  };
}

/**
 * HOST:PORT with a port in 1..65535 ([v6]:PORT for IPv6). A host without a port is an error: grpc-js would
 * quietly dial 443.
 * @throws FedmeshError INVALID_ARGUMENT naming `what` (the flag or environment variable)
 */
export function checkAddress(address: string, what = '--coordinator'): void {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    const hint = /^[^\s:[\]/]+$/.test(address) ? ` has no port: write ${quote(address, 100)}:PORT` : ' is not HOST:PORT (port 1–65535)';
    throw new FedmeshError('INVALID_ARGUMENT', `${what}: ${quote(address, 100)}${hint}`);
  }
}
