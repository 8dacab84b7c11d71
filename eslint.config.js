import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'benchmarks/results/**', '.tmp/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Use a CSPRNG (algorithms/dp Rng); Math.random is never used in fedmesh.' }],
    },
  },
  // common/ is a core with a public face per folder (its index.ts): outside a folder, import from the face, so a
  // module can move or split inside its folder without touching its users. common/job and common/cohort depend on
  // each other (the spec holds cohort definitions, the cohort limits read the spec), so they import each other's
  // modules directly: a face there would be an import cycle. common/he has a second face, coordinator.ts: the half the
  // coordinator may import, which cannot reach HE key generation or decryption (test/integration/secure-refusals).
  {
    files: ['**/*.ts'],
    ignores: ['common/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/common/*/*.js', '!**/common/*/index.js', '!**/common/he/coordinator.js'], message: 'Import from the folder\'s public face (common/<folder>/index.js), not from its modules.' }] }] },
  },
  ...[
    ['common/job/**', '../cohort/'],
    ['common/cohort/**', '../job/'],
    ['common/*/**', undefined],
  ].map(([files, allowed]) => ({
    files: [files],
    ...(allowed ? {} : { ignores: ['common/job/**', 'common/cohort/**'] }),
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../*/*.js', '!../*/index.js', ...(allowed ? [`!${allowed}*.js`] : [])], message: 'Import another common/ folder through its public face (../<folder>/index.js).' }] }] },
  })),
  {
    files: ['client/sdk/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/cli/**', '**/tools/**'], message: 'client/sdk/ is the importable SDK: it may not depend on the CLI (client/cli/) or the tools (client/tools/).' },
      ] }],
    },
  },
  {
    files: ['algorithms/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['node:*', 'fs', 'path', 'os', 'child_process', 'crypto', '@grpc/*', '@duckdb/*', '../../coordinator/*', '../../node-agent/*', '../../client/*'], message: 'algorithms/ is pure: no I/O, no node: imports, no transport.' },
      ] }],
    },
  },
);
