#!/bin/sh
# Metrics of issue 9 for the five old kinds, over product code (not tests, not benchmarks). Usage: sh benchmarks/old-kind-metrics.sh [repo]  (jobs/README.md, "Porting the old kinds")
cd "${1:-.}"
files=$(git ls-files '*.ts' | grep -v -e '\.test\.ts$' -e '^test/' -e '^benchmarks/')
re="kind\s*[!=]==?\s*'(aggregate|cohort|characterize|contingency|survival)'|case '(aggregate|cohort|characterize|contingency|survival)':"
echo "old-kind branches: $(grep -E -o "$re" $files | wc -l) in $(grep -E -l "$re" $files | wc -l) files"
echo "  of which in coordinator/*.ts (top level): $(grep -E -o "$re" coordinator/*.ts | wc -l)"
echo "files naming the aggregate kind (AggregateJob or 'aggregate'): $(grep -E -l "AggregateJob|'aggregate'" $files | wc -l)"
echo "lines of hand-wired old-kind glue (coordinator/jobs aggregate+cell, coordinator/secure, node-agent/jobs, node-agent/secure, common/secure): $(cat coordinator/jobs/aggregate-job.ts coordinator/jobs/aggregate-release.ts coordinator/jobs/cell-job.ts $(git ls-files coordinator/secure node-agent/jobs node-agent/secure common/secure | grep -v '\.test\.ts$') | wc -l)"
