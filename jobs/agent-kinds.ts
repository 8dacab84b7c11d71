import { createKindRegistry, type AnyAgentKindDef, type KindRegistry } from '../common/kinds/index.js';
import { aggregateAgentKind } from './aggregate/agent.js';
import { characterizeAgentKind } from './characterize/agent.js';
import { cohortAgentKind } from './cohort/agent.js';
import { contingencyAgentKind } from './contingency/agent.js';
import { glmAgentKind } from './glm/agent.js';
import { coxAgentKind } from './survival-cox/agent.js';
import { kmAgentKind } from './survival-km/agent.js';
import { trainAgentKind } from './train/agent.js';

/**
 * The registry kinds, agent side (each kind's `agent.ts`: its local step over the agent's data). One line per
 * kind; only agents import this file (the coordinator never imports jobs/<kind>/agent.ts).
 */
export const AGENT_KINDS: KindRegistry<AnyAgentKindDef> = createKindRegistry<AnyAgentKindDef>([aggregateAgentKind, glmAgentKind, coxAgentKind, trainAgentKind, contingencyAgentKind, kmAgentKind, cohortAgentKind, characterizeAgentKind]);
