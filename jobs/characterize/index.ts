/**
 * The `characterize` job kind on the kind seam: a cohort's persons, breakdowns by age band and gender, and the
 * prevalence of public condition and drug concepts in a window around the index date. The definition is shared with
 * `cohort` (jobs/cohort/cells-kind.ts).
 */
import { cohortCellKind } from '../cohort/cells-kind.js';

export const characterizeKind = cohortCellKind('characterize');
