/**
 * The `cohort` job kind on the kind seam: persons and entries of a cohort definition (Circe or native), its
 * attrition, and breakdowns by age band and gender. The definition is shared with `characterize`
 * (jobs/characterize): cells-kind.ts.
 */
import { cohortCellKind } from './cells-kind.js';

export const cohortKind = cohortCellKind('cohort');
