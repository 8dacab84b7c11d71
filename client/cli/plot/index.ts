/** Charts of released results: vega-lite specs rendered to SVG on the server (CLI `--plot` and the dashboard). */
export { renderSurvivalSvg, escapeXml } from './survival-svg.js';
export type { SurvivalCurveInput, SurvivalSvgOptions } from './survival-svg.js';
export { renderVegaLiteSvg, type VegaLiteSpec } from './vega-svg.js';
export { attritionChart, atRiskAt, forestChart, groupedBarChart, histogramChart, kaplanMeierChart, niceTicks, trainingChart, type Chart, type ChartRow, type KmCurve } from './charts.js';
export { chartsForJob, MAX_CHARTS_PER_JOB } from './job-charts.js';
export { budgetHistoryCharts, type SpendCharge, type BudgetLine } from './budget-charts.js';
export { renderTrainCurvesSvg, trainCurvePoints, MAX_AGENT_SERIES, type TrainCurvesInput, type TrainCurvePoint, type TrainCurvesSvgOptions } from './train-curves.js';
