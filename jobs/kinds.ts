import { createKindRegistry, type AnyKindDef, type KindRegistry } from '../common/kinds/index.js';
import { aggregateKind } from './aggregate/index.js';
import { characterizeKind } from './characterize/index.js';
import { cohortKind } from './cohort/index.js';
import { contingencyKind } from './contingency/index.js';
import { glmKind } from './glm/index.js';
import { coxKind } from './survival-cox/kind.js';
import { kmKind } from './survival-km/index.js';
import { trainKind } from './train/index.js';

/**
 * The registry kinds, coordinator and SDK side (pure: spec, compile, rounds, release, view). One line per kind;
 * the agent side is listed in jobs/agent-kinds.ts, which only agents import.
 */
export const KINDS: KindRegistry<AnyKindDef> = createKindRegistry<AnyKindDef>([aggregateKind, glmKind, coxKind, trainKind, contingencyKind, kmKind, cohortKind, characterizeKind]);
