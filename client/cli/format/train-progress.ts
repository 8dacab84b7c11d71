/**
 * `fedmesh train`'s progress bar (stderr, on a terminal): rounds done out of the job's rounds, the last round's
 * loss and test metrics as the coordinator's round events carry them (jobs/train/view.ts trainRoundLine), and the
 * privacy the job reserved at admission (the whole job's ε is charged up front, so "spent" is fixed once it runs).
 * Pure: it folds event messages into a state and renders one line.
 */

export interface TrainProgress {
  /** Rounds of the job (training rounds + the final evaluation), once known. */
  readonly rounds?: number;
  readonly done: number;
  readonly detail: string;
}

export const initialTrainProgress: TrainProgress = { done: 0, detail: 'submitting…' };

/** The state after one job event (`admitted`: "N agents, at most M rounds"; `round`: "round r of at most M: …"). */
export function foldTrainEvent(s: TrainProgress, e: { type: string; message: string; agent?: string }): TrainProgress {
  if (e.type === 'admitted') {
    const m = /at most (\d+) rounds/.exec(e.message);
    return { ...s, ...(m ? { rounds: Number(m[1]) } : {}), detail: e.message };
  }
  if (e.type === 'round') {
    const m = /^round (\d+) of at most (\d+): (.*)$/.exec(e.message);
    if (!m) return s;
    return { rounds: Number(m[2]), done: Number(m[1]), detail: m[3]! };
  }
  if (e.type === 'agent-failed') return { ...s, detail: `${e.agent ?? 'an agent'} dropped out: ${e.message.slice(0, 120)}` };
  return s;
}

/** The privacy part of the line, from the submitted spec. */
export function privacyLabel(spec: Record<string, unknown>): string {
  const p = (spec.privacy ?? {}) as { mode?: unknown; epsilon?: unknown; delta?: unknown; rho?: unknown };
  if (p.mode === undefined || p.mode === 'none') return 'no DP (mode none)';
  const budget = typeof p.epsilon === 'number' ? `ε ${p.epsilon}${typeof p.delta === 'number' ? `, δ ${p.delta}` : ''}` : typeof p.rho === 'number' ? `ρ ${p.rho}` : 'budget';
  return `${String(p.mode)}: ${budget} reserved`;
}

/** One line: `train [████████░░░░░░░░] 5/11 · <detail> · <privacy>` (a spinner-like line before the rounds are known). */
export function renderTrainProgress(s: TrainProgress, privacy: string, width = 20): string {
  if (s.rounds === undefined || s.rounds < 1) return `train · ${s.detail} · ${privacy}`;
  const filled = Math.max(0, Math.min(width, Math.round((width * s.done) / s.rounds)));
  return `train [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${s.done}/${s.rounds} · ${s.detail} · ${privacy}`;
}
