/** Pure statistical functions: special functions, distributions and the χ² test of independence. */
export { lnGamma, regularizedGammaP, regularizedGammaQ } from './gamma.js';
export { normalCdf, normalSf, normalPdf, normalQuantile } from './normal.js';
export { chiSquareCdf, chiSquareSf } from './chi-square.js';
export { chiSquareIndependence } from './contingency.js';
export type { ChiSquareIndependenceOptions, ChiSquareIndependenceResult } from './contingency.js';
export { regularizedBeta, regularizedBetaUpper } from './beta.js';
export { studentTCdf, studentTSf, studentTTwoSidedP, studentTQuantile } from './student-t.js';
