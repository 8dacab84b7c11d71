/**
 * The importable SDK (`fedmesh`, `fedmesh/sdk` → client/sdk/index.ts) reaches no CLI, tools, dashboard or server
 * code by any import: static, re-exported through another folder, dynamic or require(). The eslint rule on
 * client/sdk/ sees only its own files' imports; this walks the whole closure (red team 37, F5: a re-export through
 * common/, a dynamic import and createRequire all passed eslint).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importClosure } from '../helpers/import-closure.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FORBIDDEN = /^(client\/cli|client\/tools|dashboard|coordinator|node-agent)\//;

describe('the SDK import closure', () => {
  it('holds the SDK and the core it needs, and nothing of the CLI, the tools, the dashboard or the servers', () => {
    const closure = importClosure(join(REPO, 'client', 'sdk', 'index.ts'), REPO);
    expect(closure).toContain('client/sdk/transport/coordinator-client.ts');
    expect(closure.filter((f) => FORBIDDEN.test(f))).toEqual([]);
  });

  it('negative control: the walk follows a re-export through another folder, a dynamic import and require()', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmesh-closure-'));
    try {
      writeFileSync(join(dir, 'entry.ts'), "export * from './via.js';\nexport const later = () => import('./dynamic.js');\n");
      writeFileSync(join(dir, 'via.ts'), "export { x } from './static.js';\nconst r = createRequire(import.meta.url);\nexport const y = r('./required.js');\n");
      for (const f of ['static', 'dynamic', 'required']) writeFileSync(join(dir, `${f}.ts`), 'export const x = 1;\n');
      expect(importClosure(join(dir, 'entry.ts'), dir).sort()).toEqual(['dynamic.ts', 'entry.ts', 'required.ts', 'static.ts', 'via.ts']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
