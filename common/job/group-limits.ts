/**
 * Most groups one agent sends for a job whose groups are data (groupBy without public `groupKeys`). Public: the
 * coordinator's result-size admission assumes every agent sends this many, and an agent never sends more. How an
 * agent stays under it never depends on data in a way a researcher could see: in central-dp it keeps the largest
 * noisy counts among the groups its DP partition selection released (post-processing); in mode none, which makes no
 * DP claim, more groups than this (released plus withheld, both counts the result reveals anyway) refuse the job.
 */
export const MAX_GROUPS_PER_AGENT = 10_000;

/**
 * Longest group key, in characters (Unicode code points), an agent sends for a group whose keys are data (a groupBy
 * column without public `groupKeys`, cast to text). Longer keys are truncated at the agent before grouping — on a
 * character, hence UTF-8, boundary — so keys sharing their first MAX_DATA_KEY_CHARS characters fall into one group.
 * Public, applied whatever the data, and stated in every such result's notes: the coordinator's reply-size admission
 * budgets MAX_DATA_KEY_BYTES per key, so a job with long text keys is admitted or refused from the spec alone, never
 * failed by the size of what the agents hold.
 */
export const MAX_DATA_KEY_CHARS = 128;
/** At most 4 bytes of UTF-8 per code point. */
export const MAX_DATA_KEY_BYTES = 4 * MAX_DATA_KEY_CHARS;

/** The groupBy columns of a job whose keys are data (no public `groupKeys` for them). */
export function dataKeyColumns(job: { readonly groupBy: readonly string[]; readonly groupKeys?: Readonly<Record<string, readonly unknown[]>> | undefined }): string[] {
  return job.groupBy.filter((g) => !job.groupKeys?.[g]);
}

/** The note every result with data-derived group keys carries, whether or not any key was long (that is data). */
export function dataKeyNote(job: Parameters<typeof dataKeyColumns>[0]): string[] {
  const cols = dataKeyColumns(job);
  if (cols.length === 0) return [];
  return [`group keys of ${cols.join(', ')} come from the data: text keys are truncated to their first ${MAX_DATA_KEY_CHARS} characters at every agent before grouping, so keys that agree on those characters form one group`];
}
