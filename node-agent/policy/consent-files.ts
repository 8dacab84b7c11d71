/**
 * Which files of a data folder hold patient consent rather than data: read by the consent loader, never ingested as
 * a data product (a consent table served as a product would let anyone count who opted out). Only files at the top
 * of the data folder, as the loader reads them there: FHIR `Consent*.ndjson` / `Consent*.json` and `consent.csv`.
 * Bundles under other names that mix Consents with other resources are ingested for their other resources only
 * (the FHIR ingest keeps no Consent resources).
 */
export function isConsentFileName(name: string): boolean {
  return /^consent.*\.(nd)?json$/i.test(name) || name === 'consent.csv';
}
