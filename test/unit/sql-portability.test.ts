import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT as ROOT, productSourceFiles } from '../helpers/source-files.js';

/**
 * The SQL builders that run on any engine (they take a SqlDialect) write only the portable core of SQL; everything
 * else goes through the dialect (node-agent/sql/dialect.ts), so a new engine is one file. This scans the text of
 * their string and template literals for constructs that DuckDB and PostgreSQL accept but T-SQL or BigQuery do not:
 *  - FILTER (WHERE …) on aggregates (T-SQL, BigQuery): `count(CASE WHEN … THEN 1 END)`;
 *  - TRUE / FALSE literals in conditions and values (T-SQL has no boolean values): `1 = 1`, `dialect.boolValue`;
 *  - GROUP BY / ORDER BY ordinals (T-SQL): the expression itself;
 *  - LIMIT (T-SQL): `dialect.limit`;
 *  - `::type` casts, `$n` placeholders, bit_or, QUALIFY, ANTI / SEMI JOIN, ILIKE, AS MATERIALIZED (engine-specific
 *    spellings; `dialect.placeholder`, `dialect.materializedCte`).
 * A statement that only ever runs on the agent's own DuckDB (its scratch tables) says so with a leading
 * `// sql: duckdb-only` comment. Files that belong to one engine are listed below with the reason.
 */
const RULES: [RegExp, string][] = [
  [/\bFILTER\s*\(\s*WHERE\b/i, 'FILTER (WHERE'],
  [/\bON\s+(true|false)\b/i, 'ON true'],
  [/\b(WHERE|AND|OR|NOT|THEN|ELSE|SELECT|WHEN|IS)\s+(true|false)\b/i, 'boolean literal'],
  [/[,(]\s*(true|false)\s*[),]/i, 'boolean literal'],
  [/^\s*\(?\s*(true|false)\s*\)?\s*$/i, 'boolean literal'],
  [/\bGROUP\s+BY\s+(?:[^()]*?,\s*)?\d+\s*(?:,|\)|$|\s+(?:HAVING|LIMIT|ORDER|UNION)\b)/i, 'GROUP BY ordinal'],
  [/\bORDER\s+BY\s+(?:[^()]*?,\s*)?\d+\s*(?:,|\)|$|\s+(?:ASC|DESC|NULLS|LIMIT|OFFSET|UNION)\b)/i, 'ORDER BY ordinal'],
  [/\bGROUP\s+BY\s+ALL\b/i, 'GROUP BY ALL'],
  [/\bNULLS\s+(FIRST|LAST)\b/i, 'NULLS FIRST/LAST'],
  [/\|\|/, '|| concatenation'],
  [/\bmd5\s*\(/i, 'md5('],
  [/\bsubstr\s*\(/i, 'substr('],
  [/\bLIMIT\s+[\d$]/i, 'LIMIT'],
  [/::\s*[A-Za-z]/, ':: cast'],
  [/(^|[^\w$])\$\d/, '$n placeholder'],
  [/\bbit_or\s*\(/i, 'bit_or'],
  [/\bQUALIFY\b/i, 'QUALIFY'],
  [/\b(ANTI|SEMI)\s+JOIN\b/i, 'ANTI/SEMI JOIN'],
  [/\bILIKE\b/i, 'ILIKE'],
  [/\bAS\s+MATERIALIZED\b/i, 'AS MATERIALIZED'],
];

/** Files that take a dialect but belong to one engine. */
const ONE_ENGINE: Record<string, string> = {
  [join('node-agent', 'data', 'source', 'postgres-source.ts')]: 'the PostgreSQL data source itself',
  [join('node-agent', 'data', 'ingest.ts')]: "loads files into the agent's own DuckDB",
  [join('node-agent', 'data', 'read-error.ts')]: 'scrubs error messages (regular expressions, not SQL)',
};

const MARKER = /sql:\s*duckdb-only/;

function leadingMarked(node: ts.Node, text: string): boolean {
  for (let n: ts.Node | undefined = node; n; n = n.parent) {
    // The marker covers the one statement it sits on, or a whole function declared DuckDB-only (its parameters are the
    // agent's DuckDB connection); never an \`if\` or a block around several statements.
    if (ts.isExpressionStatement(n) || ts.isVariableStatement(n) || ts.isReturnStatement(n) || ts.isPropertyAssignment(n) || ts.isVariableDeclaration(n) || ts.isFunctionDeclaration(n)) {
      const ranges = ts.getLeadingCommentRanges(text, n.getFullStart()) ?? [];
      if (ranges.some((r) => MARKER.test(text.slice(r.pos, r.end)))) return true;
    }
    if (ts.isSourceFile(n) || ts.isFunctionLike(n) || (ts.isBlock(n) && !ts.isFunctionDeclaration(n.parent))) break;
  }
  return false;
}

export function portabilityViolations(files: { path: string; text: string }[]): string[] {
  const out: string[] = [];
  for (const { path, text } of files) {
    if (ONE_ENGINE[path] || !/\bSql(Dialect|Session)\b|\.dialect\b|dialect:/.test(text)) continue;
    const src = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node): void => {
      let lit: string | undefined;
      if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) lit = n.text;
      else if (ts.isTemplateExpression(n)) lit = [n.head.text, ...n.templateSpans.map((s) => `\${…}${s.literal.text}`)].join('');
      // A 'true' compared in TypeScript (v === 'true') is a value, not SQL.
      const compared = lit !== undefined && n.parent !== undefined && ts.isBinaryExpression(n.parent) && [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken].includes(n.parent.operatorToken.kind);
      if (lit !== undefined && !compared && !leadingMarked(n, text)) {
        const line = src.getLineAndCharacterOfPosition(n.getStart()).line + 1;
        for (const [re, label] of RULES) if (re.test(lit)) out.push(`${path}:${line}: ${label}`);
      }
      ts.forEachChild(n, visit);
    };
    visit(src);
  }
  return out;
}

describe('SQL builders stay within the portable core (node-agent/sql/dialect.ts)', () => {
  it('no builder that takes a dialect writes an engine-specific construct itself', () => {
    const paths: string[] = [];
    for (const d of ['node-agent', 'jobs', 'common']) productSourceFiles(join(ROOT, d), paths);
    const files = paths
      .map((p) => ({ path: relative(ROOT, p), text: readFileSync(p, 'utf8') }))
      .filter((f) => !f.path.startsWith(join('node-agent', 'sql') + '/') || f.path.endsWith('contingency-counts.ts'));
    // The scan reaches the builders: cohorts, aggregates, analytics, glm, train, contingency.
    const scanned = files.filter((f) => /\bSql(Dialect|Session)\b|\.dialect\b|dialect:/.test(f.text) && !ONE_ENGINE[f.path]).map((f) => f.path);
    for (const must of ['cohort/compile.ts', 'query/aggregate-sql.ts', 'analytics/survival.ts', 'glm/design.ts', 'train/stream.ts', 'sql/contingency-counts.ts']) {
      expect(scanned.some((p) => p.endsWith(join(...must.split('/'))))).toBe(true);
    }
    expect(portabilityViolations(files)).toEqual([]);
  });

  it('negative control: planted constructs are found, marked DuckDB-only statements and other files are not', () => {
    const f = (text: string, path = join('jobs', 'x', 'agent.ts')): { path: string; text: string } => ({ path, text: `import type { SqlDialect } from './d.js';\n${text}` });
    const found = portabilityViolations([
      f('const a = `SELECT count(*) FILTER (WHERE y = 1) FROM t`;'),
      f("const b = 'SELECT 1 FROM r LEFT JOIN s ON true';"),
      f('const c = `SELECT ${x} AS k, count(*) FROM t GROUP BY 1`;'),
      f('const e = `SELECT * FROM t WHERE false`;'),
      f('const g = `SELECT coalesce(a > b, false) AS ok FROM t LIMIT 10`;'),
      f("// sql: duckdb-only (the agent's scratch table)\nconst h = `SELECT * FROM t WHERE x = $1`;"),
      f('const i = `SELECT * FROM t WHERE x = $1`;'),
      { path: join('node-agent', 'ledger.ts'), text: 'const j = `SELECT * FROM t WHERE x = $1 LIMIT 1`;' },
      f('const k = `SELECT a, count(*) FROM t WHERE TRUE GROUP BY a, 2 ORDER BY a NULLS LAST`;', join('jobs', 'y', 'agent.ts')),
      f("const l = `SELECT ${a} || 'x' AS c, substr(md5(k), 1, 8) FROM t`;", join('jobs', 'y', 'agent.ts')),
      f("const rows = opts.rows ?? 'true';\nconst ok = v === 'true';", join('jobs', 'y', 'agent.ts')),
      f("// sql: duckdb-only\nif (x) {\n  await c.run(`SELECT * FROM t WHERE x = $1`);\n}", join('jobs', 'y', 'agent.ts')),
      f("// sql: duckdb-only\nfunction local(c) {\n  for (const i of is) parts.push(`SELECT ${i} || 'b'`);\n}", join('jobs', 'y', 'agent.ts')),
    ]);
    const at = (line: number, label: string): string => `${join('jobs', 'x', 'agent.ts')}:${line}: ${label}`;
    expect(found).toEqual([
      at(2, 'FILTER (WHERE'),
      at(2, 'ON true'),
      at(2, 'GROUP BY ordinal'),
      at(2, 'boolean literal'),
      at(2, 'boolean literal'),
      at(2, 'LIMIT'),
      at(2, '$n placeholder'),
      `${join('jobs', 'y', 'agent.ts')}:2: boolean literal`,
      `${join('jobs', 'y', 'agent.ts')}:2: GROUP BY ordinal`,
      `${join('jobs', 'y', 'agent.ts')}:2: NULLS FIRST/LAST`,
      `${join('jobs', 'y', 'agent.ts')}:2: || concatenation`,
      `${join('jobs', 'y', 'agent.ts')}:2: md5(`,
      `${join('jobs', 'y', 'agent.ts')}:2: substr(`,
      `${join('jobs', 'y', 'agent.ts')}:2: boolean literal`,
      `${join('jobs', 'y', 'agent.ts')}:4: $n placeholder`,
    ]);
  });
});
