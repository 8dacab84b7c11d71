/** Okabe–Ito palette: distinguishable with the common colour-vision deficiencies, and each ≥ 3:1 on white but yellow (left last). */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'] as const;
