import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The built CLI (`npm run build` writes it; `npm test` builds first). */
export const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');
export const BUILT = { cmd: process.execPath, args: [CLI] };

/** Runs the built CLI to completion; a non-zero exit is returned, not thrown. */
export async function fedmesh(args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { timeout: timeoutMs });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
