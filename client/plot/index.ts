/** Plots for released results, as standalone SVG strings. */
export { renderSurvivalSvg, niceTicks, escapeXml } from './survival-svg.js';
export type { SurvivalCurveInput, SurvivalSvgOptions } from './survival-svg.js';
