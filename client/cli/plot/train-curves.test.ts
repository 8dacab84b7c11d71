import { describe, expect, it } from 'vitest';
import { MAX_AGENT_SERIES, renderTrainCurvesSvg, trainCurvePoints, type TrainCurvesInput } from './train-curves.js';

/** Tag balance of an SVG document (elements open and close in order, one root): throws where it is not well formed. */
function checkBalanced(svg: string): void {
  const stack: string[] = [];
  let roots = 0;
  for (const m of svg.matchAll(/<(\/?)([A-Za-z][\w:.-]*)(?:\s+[A-Za-z][\w:.-]*="[^"<]*")*\s*(\/?)>|<|&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/g)) {
    if (m[2] === undefined) throw new Error(`stray ${m[0]} at ${m.index}`);
    if (m[1]) {
      if (stack.pop() !== m[2]) throw new Error(`</${m[2]}> does not close the open element`);
    } else {
      if (stack.length === 0) roots++;
      if (!m[3]) stack.push(m[2]);
    }
  }
  if (stack.length > 0 || roots !== 1) throw new Error('unbalanced document');
}

/** Vega labels each line by its first point: `round: 1; loss: 0.7; series: global train`. */
const lineLabels = (svg: string): string[] => [...svg.matchAll(/<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="line mark"/g)].map((m) => m[1]!);

const rows = [
  { round: 1, phase: 'train', trainLoss: 0.71, testLoss: 0.69, testAccuracy: 0.52, testAuc: 0.55 },
  { round: 2, phase: 'train', trainLoss: 0.6, testLoss: 0.62, testAccuracy: 0.61, testAuc: 0.7 },
  { round: 3, phase: 'eval', trainLoss: null, testLoss: 0.5, testAccuracy: 0.7, testAuc: 0.8 },
];
const withAgents: TrainCurvesInput = {
  rows,
  summary: {
    perAgent: {
      north: [{ round: 1, testLoss: 0.7, testAccuracy: 0.4, testAuc: 0.5 }, { round: 2, testLoss: 0.6, testAccuracy: 0.5, testAuc: 0.6 }, { round: 3, testLoss: 0.55, testAccuracy: 0.65, testAuc: 0.75 }],
      'south <&>': [{ round: 1, testLoss: 0.68, testAccuracy: 0.6, testAuc: 0.6 }, { round: 2, testLoss: 0.64, testAccuracy: 0.7, testAuc: 0.72 }, { round: 3, testLoss: 0.45, testAccuracy: 0.75, testAuc: 0.85 }],
    },
  },
};

describe('the tag-balance checker itself (so the SVG tests can fail)', () => {
  it.each(['<svg><g></svg>', '<svg><g></g>', '<svg></svg><svg></svg>', '<svg><text>1 < 2</text></svg>', '<svg>a & b</svg>'])('rejects %s', (bad) => {
    expect(() => checkBalanced(bad)).toThrow();
  });
  it('accepts a small document', () => expect(() => checkBalanced('<svg a="1"><g><path d="M0"/></g><text>a &amp; b</text></svg>')).not.toThrow());
});

describe('renderTrainCurvesSvg', async () => {
  const svg = await renderTrainCurvesSvg(withAgents);
  const globalOnly = await renderTrainCurvesSvg({ rows });

  it('is one well-formed SVG document', () => {
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    checkBalanced(svg);
  });

  it('draws one line per series and panel: global train + test loss, global test accuracy and AUC, and each agent in every panel', () => {
    const labels = lineLabels(svg);
    // loss: global train, global test, north, south; accuracy: global test, north, south; AUC: the same 3.
    expect(labels).toHaveLength(4 + 3 + 3);
    expect(labels).toContain('round: 1; loss: 0.71; series: global train');
    expect(labels).toContain('round: 1; loss: 0.69; series: global test');
    expect(labels).toContain('round: 1; test accuracy: 0.4; series: north');
    expect(labels).toContain('round: 1; test AUC: 0.6; series: south &lt;&amp;&gt;');
    expect(svg).not.toContain('south <&>');
  });

  it('titles the axes and labels the rounds', () => {
    for (const t of ['round', 'loss', 'test accuracy', 'test AUC']) expect(svg).toMatch(new RegExp(`font-weight="bold"[^>]*>${t}</text>`));
    expect(svg).toMatch(/X-axis titled 'round' for a linear scale with values from 1 to 3/);
    for (const r of [1, 2, 3]) expect(svg).toMatch(new RegExp(`>${r}</text>`));
  });

  it('negative control: no per-agent line when the result released none', () => {
    const labels = lineLabels(globalOnly);
    expect(labels).toHaveLength(2 + 1 + 1);
    expect(labels.every((l) => l.endsWith('series: global train') || l.endsWith('series: global test'))).toBe(true);
  });

  it('leaves withheld figures out instead of drawing zeros (DP: no losses released)', async () => {
    const dp = await renderTrainCurvesSvg({ rows: rows.map((r) => ({ ...r, trainLoss: null, testLoss: Number.NaN })) });
    expect(lineLabels(dp).some((l) => / loss: /.test(l))).toBe(false);
    expect(lineLabels(dp)).toHaveLength(2);
  });

  it('refuses a result with zero rounds, or one with no finite figure, instead of an empty chart', async () => {
    await expect(renderTrainCurvesSvg({ rows: [] })).rejects.toThrow(/no rounds: nothing to plot/);
    await expect(renderTrainCurvesSvg({ rows: [{ round: 1, trainLoss: null }] })).rejects.toThrow(/1 rounds but released no finite/);
    await expect(renderTrainCurvesSvg({} as TrainCurvesInput)).rejects.toThrow(TypeError);
    await expect(renderTrainCurvesSvg({ rows }, { title: 3 as unknown as string })).rejects.toThrow(/opts.title/);
  });

  it(`draws at most ${MAX_AGENT_SERIES} agents`, () => {
    const perAgent = Object.fromEntries(Array.from({ length: MAX_AGENT_SERIES + 5 }, (_, i) => [`a${String(i).padStart(2, '0')}`, [{ round: 1, testLoss: 0.5 }]]));
    const series = new Set(trainCurvePoints({ rows, summary: { perAgent } }).map((p) => p.series));
    expect(series.size).toBe(MAX_AGENT_SERIES + 2);
  });
});
