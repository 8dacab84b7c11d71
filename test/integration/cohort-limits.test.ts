import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { nestedCirce } from '../helpers/nested-cohort.js';

/** Issue 8 #6a over the real transport (gRPC, mTLS): hostile cohort definitions are refused at submission. */
describe('oversized cohort definitions are INVALID_ARGUMENT at submission (issue 8 #6)', () => {
  let mesh: TestMesh;
  beforeAll(async () => {
    mesh = await startMesh({ agentNames: [] });
  });
  afterAll(async () => mesh?.close());

  it.each([
    ['groups nested 2,000 deep (was INTERNAL)', nestedCirce(2000), /Groups: criteria groups are nested deeper than 8/],
    ['a 3,000-criterion group', nestedCirce(1, 3000), /CriteriaList: the definition has more than 200 criteria/],
  ])('%s', async (_name, definition, message) => {
    const err = await mesh.client.submitJob({ kind: 'cohort', definition, privacy: { mode: 'none' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FedmeshError);
    expect((err as FedmeshError).details.grpcStatus).toBe('INVALID_ARGUMENT');
    expect((err as FedmeshError).message).toMatch(message);
    expect((err as FedmeshError).message).toMatch(/definition\.InclusionRules\[0\]\.expression/);
  });
});
