/**
 * Researcher side only: BFV key generation and the local key folder. The secret key never leaves the
 * researcher's client; the coordinator and agents receive the public key (and the plan) with the job.
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { hePlanToJson, parseHePlan, readSealHeader, SEAL_MAGIC } from '../../algorithms/he/index.js';
import type { HePlan, HePlanJson } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';
import { getSealContext } from './seal.js';
import { publicKeyFingerprint } from './encrypt.js';

/**
 * A serialised BFV secret key. Opaque on purpose: it does not serialise to JSON and prints as redacted, so it
 * cannot slip into logs, job specs or audit entries by accident.
 */
export class HeSecretKey {
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = Uint8Array.from(bytes);
  }

  /** A copy of the serialised key, for SEAL and for the key file. */
  exportBytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  get byteLength(): number {
    return this.#bytes.byteLength;
  }

  toJSON(): never {
    throw new FedmeshError('FAILED_PRECONDITION', 'an HE secret key must never be serialised to JSON');
  }

  toString(): string {
    return 'HeSecretKey [redacted]';
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

export interface HeKeyPair {
  readonly plan: HePlan;
  /** Serialised public key, uncompressed: exactly `plan.publicKeyByteSize` bytes. Travels with the job. */
  readonly publicKey: Uint8Array;
  readonly secretKey: HeSecretKey;
  /** SHA-256 of the public key, hex. */
  readonly keyId: string;
}

/** Generates a fresh BFV key pair for `plan`. Runs in the researcher's client only. */
export async function generateHeKeyPair(plan: HePlan): Promise<HeKeyPair> {
  const sc = await getSealContext(plan);
  const keygen = sc.seal.KeyGenerator(sc.context);
  const none = sc.seal.ComprModeType.none;
  const sk = keygen.secretKey();
  const pk = keygen.createPublicKey();
  try {
    const publicKey = pk.saveArray(none);
    const secretBytes = sk.saveArray(none);
    const secretKey = new HeSecretKey(secretBytes);
    secretBytes.fill(0);
    return Object.freeze({ plan, publicKey, secretKey, keyId: publicKeyFingerprint(publicKey) });
  } finally {
    pk.delete();
    sk.delete();
    keygen.delete();
  }
}

export const KEY_FOLDER_MANIFEST = 'he-key.json';
export const PUBLIC_KEY_FILE = 'public.key';
export const SECRET_KEY_FILE = 'secret.key';
const MANIFEST_FORMAT = 'fedmesh-he-key/1';

interface KeyFolderManifest {
  format: typeof MANIFEST_FORMAT;
  keyId: string;
  plan: HePlanJson;
  publicKeyFile: string;
  secretKeyFile: string;
}

export interface SaveHeKeyFolderOptions {
  /** Replace the key files of an existing folder. @default false */
  overwrite?: boolean;
}

/**
 * Writes a key pair into `dir` (created with mode 0700): public.key, secret.key (mode 0600) and he-key.json,
 * written last so a folder with a manifest is complete.
 * @throws FedmeshError ALREADY_EXISTS if the folder already holds a key and `overwrite` is not set.
 */
export async function saveHeKeyFolder(dir: string, keyPair: HeKeyPair, options: SaveHeKeyFolderOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const flag = options.overwrite === true ? 'w' : 'wx';
  const secretPath = join(dir, SECRET_KEY_FILE);
  try {
    const secretBytes = keyPair.secretKey.exportBytes();
    try {
      await writeFile(secretPath, secretBytes, { mode: 0o600, flag });
    } finally {
      secretBytes.fill(0);
    }
    await chmod(secretPath, 0o600); // an overwritten file keeps its old mode otherwise
    await writeFile(join(dir, PUBLIC_KEY_FILE), keyPair.publicKey, { mode: 0o644, flag });
    const manifest: KeyFolderManifest = {
      format: MANIFEST_FORMAT,
      keyId: keyPair.keyId,
      plan: hePlanToJson(keyPair.plan),
      publicKeyFile: PUBLIC_KEY_FILE,
      secretKeyFile: SECRET_KEY_FILE,
    };
    await writeFile(join(dir, KEY_FOLDER_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644, flag });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new FedmeshError('ALREADY_EXISTS', `HE key folder ${dir} already holds a key; pass overwrite to replace it`, { cause: e });
    }
    throw e;
  }
}

/**
 * Reads a key folder written by `saveHeKeyFolder`, re-validating the plan, the key sizes and headers, the
 * public key's fingerprint, and that the secret key file is not readable by group or others.
 * @throws FedmeshError FAILED_PRECONDITION for a loose file mode or a damaged folder; NOT_FOUND if absent.
 */
export async function loadHeKeyFolder(dir: string): Promise<HeKeyPair> {
  let manifestText: string;
  try {
    manifestText = await readFile(join(dir, KEY_FOLDER_MANIFEST), 'utf8');
  } catch (e) {
    throw new FedmeshError('NOT_FOUND', `no HE key folder at ${dir} (missing ${KEY_FOLDER_MANIFEST})`, { cause: e });
  }
  const damaged = (why: string): FedmeshError => new FedmeshError('FAILED_PRECONDITION', `HE key folder ${dir}: ${why}`);
  let manifest: KeyFolderManifest;
  try {
    manifest = JSON.parse(manifestText) as KeyFolderManifest;
  } catch {
    throw damaged(`${KEY_FOLDER_MANIFEST} is not valid JSON`);
  }
  if (manifest.format !== MANIFEST_FORMAT) throw damaged(`unknown format ${String(manifest.format)}`);
  if (manifest.publicKeyFile !== PUBLIC_KEY_FILE || manifest.secretKeyFile !== SECRET_KEY_FILE) throw damaged('unexpected key file names');
  let plan: HePlan;
  try {
    plan = parseHePlan(manifest.plan);
  } catch (e) {
    throw new FedmeshError('FAILED_PRECONDITION', `HE key folder ${dir}: invalid plan: ${(e as Error).message}`, { cause: e });
  }
  const secretPath = join(dir, SECRET_KEY_FILE);
  if (process.platform !== 'win32') {
    const mode = (await stat(secretPath)).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw damaged(`${SECRET_KEY_FILE} has mode 0${mode.toString(8)}, readable by others; run chmod 600 on it`);
    }
  }
  const publicKey = new Uint8Array(await readFile(join(dir, PUBLIC_KEY_FILE)));
  const secretBytes = new Uint8Array(await readFile(secretPath));
  try {
    for (const [name, bytes, want] of [
      [PUBLIC_KEY_FILE, publicKey, plan.publicKeyByteSize],
      [SECRET_KEY_FILE, secretBytes, plan.secretKeyByteSize],
    ] as const) {
      if (bytes.byteLength !== want) throw damaged(`${name} is ${bytes.byteLength} bytes, expected ${want}`);
      const h = readSealHeader(bytes);
      if (h.magic !== SEAL_MAGIC || h.compressionCode !== 0 || h.totalBytes !== BigInt(want)) throw damaged(`${name} is not an uncompressed SEAL object`);
    }
    if (publicKeyFingerprint(publicKey) !== manifest.keyId) throw damaged(`${PUBLIC_KEY_FILE} does not match the keyId in ${KEY_FOLDER_MANIFEST}`);
    return Object.freeze({ plan, publicKey, secretKey: new HeSecretKey(secretBytes), keyId: manifest.keyId });
  } finally {
    secretBytes.fill(0);
  }
}
