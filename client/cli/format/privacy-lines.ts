import { summariseMechanisms, type DpGuarantee } from '../../../common/job/index.js';

function num(v: unknown, digits = 4): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(Number(v.toPrecision(digits))) : '∞';
}

/**
 * The privacy block of a DP result as the lines a researcher reads: the cost in (ε, δ) and ρ, then the guarantee
 * (unit, bound k, sites per person, mechanism, colluders, what the coordinator sees). A field the result does not
 * carry is shown as "not stated", never as "undefined".
 */
export function privacyLines(p: Record<string, unknown>): string[] {
  const g = p.guarantee as DpGuarantee | undefined;
  const spent = (p.spent ?? {}) as { rho?: number; epsilon?: number | null; delta?: number };
  const k = g?.maxRowsPerPerson ?? (typeof p.maxRowsPerPerson === 'number' ? p.maxRowsPerPerson : undefined);
  const mechanisms = (p.mechanisms as Record<string, unknown>[] | undefined) ?? [];
  const lines = [
    `privacy: ${String(p.mode)}${p.secure ? ` over ${String(p.secure)}` : ''}; spent ε=${num(spent.epsilon)} at δ=${spent.delta ?? 0} (ρ=${num(spent.rho ?? 0)} zCDP)`,
    `  protects: ${g?.unit ?? 'a person (unit not stated by this result)'}`,
    g?.crossSiteBound === 'linkage-key'
      ? `  bound: k = ${k ?? 'not stated'} row(s) per person across all sites, via the linkage key; maxSitesPerPerson = ${g.maxSitesPerPerson}`
      : `  bound: k = ${k ?? 'not stated'} row(s) per person per site; maxSitesPerPerson = ${g?.maxSitesPerPerson ?? 'not stated'}`,
    `  mechanism: ${g?.mechanism ?? summariseMechanisms(mechanisms)}`,
  ];
  if (g) {
    if (g.crossSite) lines.push(`  across sites: ${g.crossSite}`);
    lines.push(`  composition: ${g.composition}`, `  colluders tolerated: ${g.colluders}`, `  coordinator sees: ${g.coordinatorSees}`);
  }
  return lines;
}
