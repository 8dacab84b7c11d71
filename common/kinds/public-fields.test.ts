import { describe, expect, it } from 'vitest';
import { kindJobPublicFields } from './public-fields.js';
import type { KindJobCommon } from './kind.js';

const common: KindJobCommon = { kind: 'glm', product: 'person', privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 }, secure: 'plain', maxRounds: 3, roundTimeoutMs: 1000, dropout: 'fail', minAgents: 1 };

describe('what a log line says about a job on the kind seam', () => {
  it('the kind and public privacy parameters, the validated purpose and project', () => {
    expect(kindJobPublicFields({ ...common, spec: { purpose: 'CLINTRCH', project: 'irb-2026/17' } })).toEqual({ kind: 'glm', privacyMode: 'central-dp', delta: 1e-6, purpose: 'CLINTRCH', project: 'irb-2026/17' });
    expect(kindJobPublicFields({ ...common, secure: 'secagg', spec: {} })).toMatchObject({ secure: 'secagg', purpose: 'HRESCH' });
  });

  it('never a value the researcher typed beyond the codes: free text in purpose or project is not logged', () => {
    const typed = kindJobPublicFields({ ...common, spec: { purpose: 'patient 4711 diabetic', project: 'Alice Smith, MRN 12345' } });
    expect(typed).toEqual({ kind: 'glm', privacyMode: 'central-dp', delta: 1e-6, purpose: 'HRESCH' });
    expect(JSON.stringify(typed)).not.toMatch(/4711|Alice|12345/);
    expect(kindJobPublicFields({ ...common, spec: null })).toMatchObject({ purpose: 'HRESCH' });
  });
});
