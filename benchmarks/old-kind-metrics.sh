#!/bin/sh
# Issue 9's metrics for the five old kinds (aggregate, cohort, characterize, contingency, survival KM) at a commit,
# over product code (tests and benchmarks left out). See jobs/README.md, "Porting the old kinds".
# Usage: sh benchmarks/old-kind-metrics.sh [REV]   (default HEAD; compare e.g. the merge base with main)
rev="${1:-HEAD}"
files=$(git ls-tree -r --name-only "$rev" | grep '\.ts$' | grep -v -e '\.test\.ts$' -e '^test/' -e '^benchmarks/')
re="kind\s*[!=]==?\s*'(aggregate|cohort|characterize|contingency|survival)'|case '(aggregate|cohort|characterize|contingency|survival)':"
count() { for f in $1; do git show "$rev:$f" | grep -E -o "$2" | sed "s|^|$f:|"; done; }
hits=$(count "$files" "$re")
echo "old-kind branches: $(printf '%s\n' "$hits" | grep -c .) in $(printf '%s\n' "$hits" | grep . | cut -d: -f1 | sort -u | wc -l) files"
echo "  in coordinator/coordinator.ts: $(printf '%s\n' "$hits" | grep -c '^coordinator/coordinator.ts:'), in node-agent/agent.ts: $(printf '%s\n' "$hits" | grep -c '^node-agent/agent.ts:')"
echo "files naming the aggregate kind (AggregateJob or 'aggregate'): $(count "$files" "AggregateJob|'aggregate'" | cut -d: -f1 | sort -u | wc -l)"
glue=$(printf '%s\n' $files | grep -E '^(coordinator/jobs/(aggregate-job|aggregate-release|cell-job|old-kinds)\.ts|coordinator/secure/|node-agent/jobs/|node-agent/secure/|common/secure/)')
echo "lines of hand-wired old-kind glue (coordinator/jobs aggregate, cell and old-kinds, coordinator/secure, node-agent/jobs, node-agent/secure, common/secure): $(for f in $glue; do git show "$rev:$f"; done | wc -l)"
