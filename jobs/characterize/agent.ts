/** The `characterize` kind at the agent (jobs/cohort/cells-agent.ts). */
import { cohortCellAgentKind } from '../cohort/cells-agent.js';

export const characterizeAgentKind = cohortCellAgentKind('characterize');
