/**
 * The agent's durable job state (durable-job-state.ts): what a kind declares durable reads back bit for bit, and a
 * file that cannot be read back exactly fails with FAILED_PRECONDITION naming the file — never an empty state.
 */
import { lstat, mkdtemp, readFile, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DurableJobStates, jobStateFileName } from './durable-job-state.js';

const HASH = 'a'.repeat(64);
let root: string;
let dir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'fedmesh-job-state-'));
  dir = join(root, 'job-state');
});
afterEach(async () => rm(root, { recursive: true, force: true }));

const bits32 = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const bits64 = (a: Float64Array): bigint[] => Array.from(new BigUint64Array(a.buffer, a.byteOffset, a.length));

/** Float32 values with the awkward bit patterns (−0, subnormals, a NaN payload, ±∞, extremes) and a deterministic spread. */
function awkwardFloat32(): Float32Array {
  const u = new Uint32Array([0x80000000, 0x00000001, 0x807fffff, 0x7fc00123, 0x7f800000, 0xff800000, 0x7f7fffff, 0x3f800001]);
  const a = new Float32Array(u.length + 1000);
  a.set(new Float32Array(u.buffer));
  for (let i = 0; i < 1000; i++) a[u.length + i] = Math.sin(i * 12.9898) * 43758.5453;
  return a;
}

describe('durable job state', () => {
  it('round-trips Float32Array and Float64Array bit for bit, nested in plain JSON, and loads only the keys asked for', async () => {
    const s = new DurableJobStates({ dir });
    const f32 = awkwardFloat32();
    const f64 = Float64Array.from([-0, 5e-324, Math.PI, Number.MAX_VALUE, -Infinity, 0.1 + 0.2]);
    const json = { round: 3, when: null, ok: true, name: 'x', list: [1, -0, NaN, Infinity, 'y'], __proto__x: 1 };
    await s.save('job-1', HASH, new Map<string, unknown>([['c', f32], ['pending', { round: 2, ci: f32.subarray(8, 20) }], ['d', f64], ['j', json]]));
    // Read by a fresh instance, as after a restart.
    const back = await new DurableJobStates({ dir }).load('job-1', HASH, ['c', 'pending', 'd', 'j', 'absent']);
    expect([...back.keys()]).toEqual(['c', 'pending', 'd', 'j']);
    expect(back.get('c')).toBeInstanceOf(Float32Array);
    expect(bits32(back.get('c') as Float32Array)).toEqual(bits32(f32));
    const pending = back.get('pending') as { round: number; ci: Float32Array };
    expect(pending.round).toBe(2);
    expect(bits32(pending.ci)).toEqual(bits32(f32.subarray(8, 20)));
    expect(back.get('d')).toBeInstanceOf(Float64Array);
    expect(bits64(back.get('d') as Float64Array)).toEqual(bits64(f64));
    expect(back.get('j')).toEqual(json);
    expect(Object.is((back.get('j') as typeof json).list[1], -0)).toBe(true);
    expect(await s.load('job-1', HASH, ['c'])).toEqual(new Map([['c', back.get('c')]]));
    // Owner-only, as the rest of the agent's state.
    expect((await stat(join(dir, 'job-1.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    // Nothing saved: an empty state, not an error.
    expect((await s.load('job-2', HASH, ['c'])).size).toBe(0);
  });

  it('refuses a corrupt file with FAILED_PRECONDITION naming the file; control: the intact file loads', async () => {
    const s = new DurableJobStates({ dir });
    await s.save('job-1', HASH, new Map([['c', new Float32Array([1, 2, 3])]]));
    const path = join(dir, 'job-1.json');
    const good = await readFile(path, 'utf8');
    await expect(s.load('job-1', HASH, ['c'])).resolves.toHaveProperty('size', 1);
    const named = { code: 'FAILED_PRECONDITION', field: 'jobState', message: expect.stringContaining('job-state/job-1.json') as unknown };
    for (const bad of [good.slice(0, good.length - 10), '', 'null', JSON.stringify({ version: 2, jobId: 'job-1', hash: HASH, entries: {} }), good.replace(/"b64":"[^"]*"/, '"b64":"AAAAAAA="'), good.replace('"f32"', '"f16"'), good.replace(/"b64":"[^"]*"/, '"b64":"@@@@"')]) {
      await writeFile(path, bad);
      await expect(s.load('job-1', HASH, ['c'])).rejects.toMatchObject(named);
    }
    // Another job's file, copied over this one's: refused too, not read as this job's.
    await writeFile(path, good.replace('"jobId":"job-1"', '"jobId":"job-9"'));
    await expect(s.load('job-1', HASH, ['c'])).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/job-state\/job-1\.json.*another job/) as unknown });
    await writeFile(path, good);
    await expect(s.load('job-1', 'b'.repeat(64), ['c'])).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/another job/) as unknown });
    // A symlink is not the agent's own file.
    await rm(path);
    await writeFile(join(root, 'elsewhere.json'), good);
    await symlink(join(root, 'elsewhere.json'), path);
    await expect(s.load('job-1', HASH, ['c'])).rejects.toMatchObject(named);
  });

  it('refuses a file over the bound unread, naming the file; control: a file just within it loads', async () => {
    await new DurableJobStates({ dir }).save('job-1', HASH, new Map([['c', new Float32Array(100)]]));
    const size = (await stat(join(dir, 'job-1.json'))).size;
    await expect(new DurableJobStates({ dir, maxFileBytes: size - 1 }).load('job-1', HASH, ['c'])).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/job-state\/job-1\.json.*is \d+ bytes, over the bound/) as unknown });
    await expect(new DurableJobStates({ dir, maxFileBytes: size }).load('job-1', HASH, ['c'])).resolves.toHaveProperty('size', 1);
    // A state over the bound is not written either.
    await expect(new DurableJobStates({ dir, maxFileBytes: 100 }).save('job-1', HASH, new Map([['c', new Float32Array(100)]]))).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
  });

  it('refuses a job id that could name another file, and a value it could not read back as it was', async () => {
    const s = new DurableJobStates({ dir });
    for (const id of ['../job-1', 'a/b', '..', '.hidden', '', 'x'.repeat(129), 'a\\b']) {
      expect(() => jobStateFileName(id)).toThrow(/jobId:/);
      await expect(s.load(id, HASH, ['c'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'jobId' });
    }
    expect(jobStateFileName('0b6f6f0e-2f4e-4c1a-9d7e-0c1f5e7b9a3d')).toBe('0b6f6f0e-2f4e-4c1a-9d7e-0c1f5e7b9a3d.json');
    for (const v of [new Map(), new Int32Array(2), { x: 1n }, { y: undefined }, new Date(0)]) {
      await expect(s.save('job-1', HASH, new Map([['c', v]]))).rejects.toThrow(TypeError);
    }
  });

  it('keeps the most recently saved jobs only, and deletes a job on request', async () => {
    const s = new DurableJobStates({ dir, maxJobs: 2 });
    const c = new Map([['c', new Float32Array([1])]]);
    await s.save('a', HASH, c);
    await s.save('b', HASH, c);
    // mtimes set, not waited for: a older than b.
    await utimes(join(dir, 'a.json'), 1000, 1000);
    await utimes(join(dir, 'b.json'), 2000, 2000);
    await s.save('c', HASH, c);
    expect((await readdir(dir)).sort()).toEqual(['a.pruned', 'b.json', 'c.json']);
    await s.delete('b');
    expect((await readdir(dir)).sort()).toEqual(['a.pruned', 'c.json']);
    await s.delete('b');
  });

  it('a pruned job refuses to load rather than go on from empty state (red team 37, F6); control: a job never saved loads empty; saving again lifts it', async () => {
    const s = new DurableJobStates({ dir, maxJobs: 2 });
    const c = new Map([['c', new Float32Array([1, 2, 3])]]);
    await s.save('live', HASH, c);
    await utimes(join(dir, 'live.json'), 1000, 1000);
    await s.save('x', HASH, c);
    await s.save('y', HASH, c);
    // A fresh instance (a restarted agent) over the same folder.
    const again = new DurableJobStates({ dir, maxJobs: 2 });
    await expect(again.load('live', HASH, ['c'])).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/removed the job's kept state \(job-state\/live.json\) to keep at most 2 jobs/) as unknown });
    expect((await again.load('never-saved', HASH, ['c'])).size).toBe(0);
    // The job went on in memory at another agent process and saved again: its file is current, the tombstone gone.
    await again.save('live', HASH, c);
    expect((await again.load('live', HASH, ['c'])).size).toBe(1);
    expect(await readdir(dir)).not.toContain('live.pruned');
  });

  it('does not write through a link planted at the temporary file name (red team 37, F7)', async () => {
    const s = new DurableJobStates({ dir });
    await s.save('j', HASH, new Map([['k', 1]]));
    const victim = join(root, 'victim.txt');
    await writeFile(victim, 'original');
    await symlink(victim, join(dir, 'j.json.tmp'));
    await s.save('j', HASH, new Map([['k', 2]]));
    expect(await readFile(victim, 'utf8')).toBe('original');
    expect((await lstat(join(dir, 'j.json'))).isSymbolicLink()).toBe(false);
    expect((await s.load('j', HASH, ['k'])).get('k')).toBe(2);
  });

  it('a load racing the prune of its job finds the file or the tombstone, never neither (red team 38, F3)', async () => {
    const s = new DurableJobStates({ dir, maxJobs: 1 });
    let resets = 0;
    let seen = 0;
    for (let i = 0; i < 100; i++) {
      const live = `live-${i}`;
      await s.save(live, HASH, new Map([['c', [1, 2, 3]]]));
      let done = false;
      // Another job's save prunes `live` while `live` is loaded again (after an eviction) at the same time.
      const save = s.save(`other-${i}`, HASH, new Map([['c', [0]]])).finally(() => (done = true));
      const poll = async (): Promise<void> => {
        while (!done) {
          const outcome = await s.load(live, HASH, ['c']).then((m) => m.size, () => -1);
          if (outcome === 0) resets++;
          seen++;
        }
      };
      await Promise.all([save, poll(), poll()]);
    }
    expect(seen).toBeGreaterThan(100);
    expect(resets).toBe(0);
  });
});
