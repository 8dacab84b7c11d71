/** The `cohort` kind at the agent (cells-agent.ts). */
import { cohortCellAgentKind } from './cells-agent.js';

export const cohortAgentKind = cohortCellAgentKind('cohort');
