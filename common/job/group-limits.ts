/**
 * Most groups one agent sends for a job whose groups are data (groupBy without public `groupKeys`). Public: the
 * coordinator's result-size admission assumes every agent sends this many, and an agent never sends more. How an
 * agent stays under it never depends on data in a way a researcher could see: in central-dp it keeps the largest
 * noisy counts among the groups its DP partition selection released (post-processing); in mode none, which makes no
 * DP claim, more groups than this (released plus withheld, both counts the result reveals anyway) refuse the job.
 */
export const MAX_GROUPS_PER_AGENT = 10_000;
