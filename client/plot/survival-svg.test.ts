import { describe, expect, it } from 'vitest';
import { niceTicks, renderSurvivalSvg } from './index.js';
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
  { label: '6-MP', times: [6, 7, 10, 23], survival: [0.857, 0.807, 0.753, 0.448], lower: [0.62, 0.56, 0.5, 0.19], upper: [0.95, 0.92, 0.89, 0.68] },
  { label: 'Placebo <&> "x"', times: [1, 2, 8, 23], survival: [0.9, 0.81, 0.38, 0], lower: [0.67, 0.57, 0.18, 0], upper: [0.98, 0.92, 0.58, 0] },
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

describe('renderSurvivalSvg', () => {
  const svg = renderSurvivalSvg(twoCurves, { title: 'Remission by arm', xLabel: 'Weeks', width: 800, height: 500 });
  const doc = parseXml(svg);

  it('is a well-formed standalone SVG document', () => {
    expect(doc.name).toBe('svg');
    expect(doc.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(doc.attrs.width).toBe('800');
    expect(doc.attrs.viewBox).toBe('0 0 800 500');
  });

  it('has one curve path and one band per stratum, with step-function path data', () => {
    const curves = all(doc, (e) => e.name === 'path' && e.attrs.class === 'km-curve');
    const bands = all(doc, (e) => e.name === 'path' && e.attrs.class === 'km-band');
    expect(curves).toHaveLength(2);
    expect(bands).toHaveLength(2);
    for (const [k, p] of curves.entries()) {
      const d = p.attrs.d!;
      expect(d).toMatch(/^M[\d.]+ [\d.]+( [HV][\d.]+)+$/);
      // M, then H (to t_i) and V (to S(t_i)) for every time: a right-continuous step function.
      expect(d.match(/[HV]/g)).toHaveLength(2 * twoCurves[k]!.times.length);
      expect(d.split(' ').slice(2).every((c, i) => c[0] === (i % 2 === 0 ? 'H' : 'V'))).toBe(true);
    }
    for (const b of bands) expect(b.attrs.d!).toMatch(/Z$/);
  });

  it('starts every curve at S = 1 on the top edge and ends the placebo curve on the x axis', () => {
    const curves = all(doc, (e) => e.attrs.class === 'km-curve');
    const startY = curves.map((p) => p.attrs.d!.split(' ')[1]);
    expect(new Set(startY).size).toBe(1);
    const yAxis = all(doc, (e) => e.name === 'line' && e.attrs.x1 === e.attrs.x2 && e.attrs.y1 === startY[0]);
    expect(yAxis.length).toBeGreaterThan(0);
    const lastV = curves[1]!.attrs.d!.split(' ').at(-1)!;
    const xAxis = all(doc, (e) => e.name === 'line' && e.attrs.y1 === e.attrs.y2 && e.attrs.y1 === lastV.slice(1));
    expect(xAxis.length).toBeGreaterThan(0);
  });

  it('has a title, axis labels, ticks and a legend entry per stratum, with labels escaped', () => {
    expect(all(doc, (e) => e.name === 'title')[0]!.text).toBe('Remission by arm');
    expect(all(doc, (e) => e.attrs.class === 'x-label')[0]!.text).toBe('Weeks');
    expect(all(doc, (e) => e.attrs.class === 'y-label')[0]!.text).toBe('Survival probability');
    const tickTexts = all(doc, (e) => e.attrs.class === 'tick-labels')[0]!.children.map((c) => c.text);
    expect(tickTexts).toEqual(expect.arrayContaining(['0', '10', '20', '0.0', '0.4', '1.0']));
    const legend = all(doc, (e) => e.attrs.class === 'legend')[0]!;
    expect(all(legend, (e) => e.name === 'text').map((t) => t.text)).toEqual(['6-MP', 'Placebo &lt;&amp;&gt; &quot;x&quot;']);
    expect(svg).not.toContain('<&>');
  });

  it('uses defaults without options and handles one stratum', () => {
    const one = parseXml(renderSurvivalSvg([twoCurves[0]!]));
    expect(one.attrs.width).toBe('720');
    expect(all(one, (e) => e.attrs.class === 'km-curve')).toHaveLength(1);
  });

  it('rejects bad input naming the argument', () => {
    expect(() => renderSurvivalSvg([])).toThrow(/curves must contain at least one/);
    expect(() => renderSurvivalSvg([{ ...twoCurves[0]!, lower: [0.1] }])).toThrow(/curves\[0\].lower has 1 entries/);
    expect(() => renderSurvivalSvg([{ ...twoCurves[0]!, survival: [0.9, 1.2, 0.5, 0.4] }])).toThrow(/curves\[0\].survival\[1\] must be in \[0, 1\]/);
    expect(() => renderSurvivalSvg([{ ...twoCurves[0]!, times: [6, 5, 10, 23] }])).toThrow(/non-decreasing/);
    expect(() => renderSurvivalSvg([{ ...twoCurves[0]!, times: [6, Number.NaN, 10, 23] }])).toThrow(RangeError);
    expect(() => renderSurvivalSvg([{ ...twoCurves[0]!, label: 3 as unknown as string }])).toThrow(TypeError);
    expect(() => renderSurvivalSvg(twoCurves, { width: 10 })).toThrow(/opts.width/);
    expect(() => renderSurvivalSvg(twoCurves, { title: 5 as unknown as string })).toThrow(/opts.title/);
  });
});

describe('niceTicks', () => {
  it('covers the range with 1-2-5 steps', () => {
    expect(niceTicks(35)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(23)).toEqual([0, 5, 10, 15, 20, 25]);
    expect(niceTicks(1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});
