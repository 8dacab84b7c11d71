/**
 * Purpose of use of a job: an HL7 v3 PurposeOfUse code (value set
 * http://terminology.hl7.org/ValueSet/v3-PurposeOfUse, the codes under ActReason's PurposeOfUse abstract concept)
 * and the project or ethics approval it runs under. Both reach each domain's policy, the job record and the logs, so
 * a domain can say "research only" and an auditor can tie every release to an approval.
 */
import { invalidJob, quote } from '../errors.js';

/**
 * The PurposeOfUse codes accepted (HL7 Terminology, v3 ActReason, PurposeOfUse subtree). Research codes first; the
 * list is the code system's, not ours, so a domain policy written against HL7 codes means the same here.
 */
export const PURPOSE_OF_USE_CODES: readonly string[] = Object.freeze([
  // research
  'HRESCH', 'BIORCH', 'CLINTRCH', 'CLINTRCHNPC', 'CLINTRCHPC', 'PRECLINTRCH', 'DSRCH', 'POARCH', 'TRANSRCH',
  // public health
  'PUBHLTH', 'DISASTER', 'THREAT',
  // treatment
  'TREAT', 'CLINTRL', 'COC', 'ETREAT', 'BTG', 'ERTREAT', 'POPHLTH',
  // operations
  'HOPERAT', 'CAREMGT', 'DONAT', 'FRAUD', 'GOV', 'HACCRED', 'HCOMPL', 'HDECD', 'HDIRECT', 'HDM', 'HLEGAL', 'HOUTCOMS', 'HPRGRP', 'HQUALIMP',
  'HSYSADMIN', 'LABELING', 'METAMGT', 'MEMADMIN', 'MILCDM', 'PATADMIN', 'PATSFTY', 'PERFMSR', 'RECORDMGT', 'SYSDEV', 'HTEST', 'TRAIN',
  // payment, marketing, requests
  'HPAYMT', 'CLMATTCH', 'COVAUTH', 'COVERAGE', 'ELIGDTRM', 'ELIGVER', 'ENROLLM', 'MILDCRG', 'REMITADV', 'HMARKT',
  'PATRQT', 'FAMRQT', 'PWATRNY', 'SUPNWK',
]);

/**
 * The purpose of a job that states none: health research (HRESCH), the purpose a research mesh exists for. A
 * domain that wants every job to state its purpose writes a policy on `context.purposeStated`.
 */
export const DEFAULT_PURPOSE = 'HRESCH';

/** A project or ethics approval id: short, printable, no spaces (it appears in logs and policies verbatim). */
const PROJECT = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$/;

/** @throws FedmeshError INVALID_JOB naming `purpose` */
export function parsePurpose(v: unknown): string {
  if (typeof v !== 'string' || !PURPOSE_OF_USE_CODES.includes(v)) {
    throw invalidJob('purpose', `must be an HL7 PurposeOfUse code such as HRESCH, CLINTRCH, PUBHLTH or TREAT (see README, "Purpose of use"); got ${quote(v, 40)}`);
  }
  return v;
}

/** @throws FedmeshError INVALID_JOB naming `project` */
export function parseProject(v: unknown): string {
  if (typeof v !== 'string' || !PROJECT.test(v)) throw invalidJob('project', `must be a project or approval id (1 to 64 letters, digits, _ . : / -, starting with a letter or digit); got ${quote(v, 40)}`);
  return v;
}

/** The purpose a job runs under: its own, or the default. */
export function purposeOf(spec: { purpose?: string }): string {
  return spec.purpose ?? DEFAULT_PURPOSE;
}
