/**
 * Vega-Lite → SVG on the server: the one rendering path for every chart fedmesh draws, in the CLI's `--plot` and
 * in the dashboard. Specs are built by fedmesh from released results (inline data only), so the renderer is given
 * a loader that refuses every URL and file: a chart can never make vega fetch anything.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** A vega-lite spec as fedmesh builds it: inline `data.values`, no URLs. */
export type VegaLiteSpec = TopLevelSpec;

const refusingLoader = {
  load: (): Promise<string> => Promise.reject(new Error('charts use inline data only')),
  sanitize: (): Promise<{ href: string }> => Promise.reject(new Error('charts use inline data only')),
  http: (): Promise<string> => Promise.reject(new Error('charts use inline data only')),
  file: (): Promise<string> => Promise.reject(new Error('charts use inline data only')),
};

/**
 * Renders a vega-lite spec to a standalone SVG document. Text in the data is escaped by vega's SVG writer.
 * @throws Error when vega-lite cannot compile the spec
 */
export async function renderVegaLiteSvg(spec: VegaLiteSpec): Promise<string> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader: refusingLoader as unknown as vega.Loader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
