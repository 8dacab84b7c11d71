import { describe, expect, it } from 'vitest';
import { atRiskAt, niceTicks, renderSurvivalSvg } from './index.js';
import type { SurvivalCurveInput } from './index.js';

interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
  text: string;
}

/**
 * A deliberately small XML parser for the subset SVG output uses: elements, double-quoted attributes, text,
 * the five predefined entities and numeric references. Throws on anything malformed (unbalanced or crossed
 * tags, bad attributes, stray '<' or '&', text outside the root, more than one root).
 */
function parseXml(src: string): Element {
  const tagRe = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[A-Za-z][\w:.-]*="[^"<]*")*)\s*(\/?)>/y;
  const attrRe = /\s+([A-Za-z][\w:.-]*)="([^"<]*)"/g;
  const checkText = (t: string): void => {
    if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(t)) throw new Error(`bad entity in ${JSON.stringify(t)}`);
  };
  const stack: Element[] = [];
  let root: Element | null = null;
  let pos = 0;
  while (pos < src.length) {
    const lt = src.indexOf('<', pos);
    const textEnd = lt === -1 ? src.length : lt;
    const t = src.slice(pos, textEnd);
    if (t.trim() !== '') {
      if (stack.length === 0) throw new Error('text outside the root element');
      checkText(t);
      stack.at(-1)!.text += t;
    }
    if (lt === -1) break;
    tagRe.lastIndex = lt;
    const m = tagRe.exec(src);
    if (!m) throw new Error(`malformed tag at ${lt}: ${src.slice(lt, lt + 40)}`);
    const [whole, close, name, attrText, selfClose] = m;
    if (close) {
      if (attrText || selfClose) throw new Error(`bad closing tag ${whole}`);
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name ?? 'nothing'}>`);
    } else {
      const attrs: Record<string, string> = {};
      for (const a of attrText!.matchAll(attrRe)) {
        if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]}`);
        checkText(a[2]!);
        attrs[a[1]!] = a[2]!;
      }
      const el: Element = { name: name!, attrs, children: [], text: '' };
      if (stack.length > 0) stack.at(-1)!.children.push(el);
      else if (root) throw new Error('more than one root element');
      else root = el;
      if (!selfClose) stack.push(el);
    }
    pos = lt + whole!.length;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.at(-1)!.name}>`);
  if (!root) throw new Error('no root element');
  return root;
}

function all(el: Element, pred: (e: Element) => boolean): Element[] {
  return [...(pred(el) ? [el] : []), ...el.children.flatMap((c) => all(c, pred))];
}

const twoCurves: SurvivalCurveInput[] = [
  { label: '6-MP', times: [6, 7, 10, 23], survival: [0.857, 0.807, 0.753, 0.448], lower: [0.62, 0.56, 0.5, 0.19], upper: [0.95, 0.92, 0.89, 0.68], atRisk: [21, 17, 15, 6] },
  { label: 'Placebo <&> "x"', times: [1, 2, 8, 23], survival: [0.9, 0.81, 0.38, 0], lower: [0.67, 0.57, 0.18, 0], upper: [0.98, 0.92, 0.58, 0], atRisk: [21, 19, 12, 2] },
];

describe('the tiny XML checker itself (so the SVG tests can fail)', () => {
  it.each([
    '<svg><g></svg>',
    '<svg><g></g>',
    '<svg><a><b></a></b></svg>',
    '<svg x=1></svg>',
    '<svg>a & b</svg>',
    '<svg></svg><svg></svg>',
    '<svg><text>1 < 2</text></svg>',
  ])('rejects %s', (bad) => {
    expect(() => parseXml(bad)).toThrow();
  });
  it('accepts a small well-formed document', () => {
    expect(parseXml('<svg a="1"><g><path d="M0 0"/></g><text>a &amp; b</text></svg>').children).toHaveLength(2);
  });
});

/** Vega labels each mark with its data (`x: 6; Survival probability: 0.857; stratum: 6-MP`): the marks drawn. */
const marks = (doc: Element, role: string): Element[] => all(doc, (e) => e.attrs['aria-roledescription'] === role);

describe('renderSurvivalSvg (vega-lite)', async () => {
  const svg = await renderSurvivalSvg(twoCurves, { title: 'Remission by arm', xLabel: 'Weeks' });
  const doc = parseXml(svg);

  it('is a well-formed standalone SVG document', () => {
    expect(doc.name).toBe('svg');
    expect(doc.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(Number(doc.attrs.width)).toBeGreaterThan(500);
  });

  it('draws one step line and one band per stratum, starting at S = 1 at time 0', () => {
    const lines = marks(doc, 'line mark');
    const bands = marks(doc, 'area mark');
    expect(lines).toHaveLength(2);
    expect(bands).toHaveLength(2);
    // Vega labels a line by its first point: the curve starts at (0, 1), not at the first event time.
    for (const l of lines) expect(l.attrs['aria-label']).toMatch(/^Weeks: 0; Survival probability: 1; stratum: /);
    // A step-after path alternates horizontal and vertical moves: each segment keeps x or y of the one before.
    const pts = [...lines[0]!.attrs.d!.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    expect(pts.length).toBe(1 + 2 * twoCurves[0]!.times.length);
    for (let i = 1; i < pts.length; i++) expect(pts[i]![0] === pts[i - 1]![0] || pts[i]![1] === pts[i - 1]![1]).toBe(true);
  });

  it('covers the last time on the x axis and shows the number at risk under the plot', () => {
    const xAxis = all(doc, (e) => (e.attrs['aria-label'] ?? '').startsWith('X-axis'))[0]!;
    expect(xAxis.attrs['aria-label']).toMatch(/from 0 to 25/);
    const riskTexts = marks(doc, 'text mark').map((t) => t.attrs['aria-label']);
    // At tick 10 the 6-MP arm has 15 at risk (first released time >= 10 is 10), the placebo arm 2 (time 23).
    expect(riskTexts).toContain('time: 10; stratum: 6-MP; atRisk: 15');
    expect(riskTexts).toContain('time: 10; stratum: Placebo &lt;&amp;&gt; &quot;x&quot;; atRisk: 2');
  });

  it('escapes labels and titles', async () => {
    expect(svg).not.toContain('<&>');
    const hostile = await renderSurvivalSvg([{ ...twoCurves[0]!, label: '</text><script>alert(1)</script>' }], { title: '<img src=x onerror=alert(1)>' });
    expect(hostile).not.toMatch(/<script|<img/);
    expect(() => parseXml(hostile)).not.toThrow();
  });

  it('rejects bad input naming the argument', async () => {
    await expect(renderSurvivalSvg([])).rejects.toThrow(/curves must contain at least one/);
    await expect(renderSurvivalSvg([{ ...twoCurves[0]!, lower: [0.1] }])).rejects.toThrow(/curves\[0\].lower has 1 entries/);
    await expect(renderSurvivalSvg([{ ...twoCurves[0]!, survival: [0.9, 1.2, 0.5, 0.4] }])).rejects.toThrow(/curves\[0\].survival\[1\] must be in \[0, 1\]/);
    await expect(renderSurvivalSvg([{ ...twoCurves[0]!, times: [6, 5, 10, 23] }])).rejects.toThrow(/non-decreasing/);
    await expect(renderSurvivalSvg([{ ...twoCurves[0]!, times: [6, Number.NaN, 10, 23] }])).rejects.toThrow(RangeError);
    await expect(renderSurvivalSvg([{ ...twoCurves[0]!, label: 3 as unknown as string }])).rejects.toThrow(TypeError);
    await expect(renderSurvivalSvg([{ ...twoCurves[0]!, atRisk: [1, -2, 3, 4] }])).rejects.toThrow(/atRisk\[1\]/);
    await expect(renderSurvivalSvg(twoCurves, { title: 5 as unknown as string })).rejects.toThrow(/opts.title/);
  });
});

describe('niceTicks and atRiskAt', () => {
  it('covers the range with 1-2-5 steps', () => {
    expect(niceTicks(35)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(23)).toEqual([0, 5, 10, 15, 20, 25]);
    expect(niceTicks(1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
  it('reads the number at risk at the first released time at or after t, unknown past the last', () => {
    expect(atRiskAt(twoCurves[0]!, 0)).toBe(21);
    expect(atRiskAt(twoCurves[0]!, 7)).toBe(17);
    expect(atRiskAt(twoCurves[0]!, 8)).toBe(15);
    expect(atRiskAt(twoCurves[0]!, 24)).toBeNull();
  });
});
