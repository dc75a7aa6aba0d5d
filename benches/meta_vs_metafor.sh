#!/bin/sh
# k simulated studies (default 100,000; META_K=10000 for a size metafor can
# fit: its rma.uni forms k x k matrices, 74.5 GB at k = 100,000), REML with
# Knapp-Hartung: outcomes vs metafor on this machine, and the ratio. Run from
# the repository root.
set -e
out=$(cargo test --release --bench meta_speed -- --ignored --nocapture 2>/dev/null)
echo "$out" | grep '^k = '
ours=$(echo "$out" | sed -n 's/^OUTCOMES_SECONDS //p')
file=${TMPDIR:-/tmp}/outcomes-meta-${META_K:-100000}.csv
if command -v Rscript >/dev/null 2>&1 && Rscript -e 'library(metafor)' >/dev/null 2>&1; then
  theirs=$(Rscript -e 'suppressMessages(library(metafor)); d <- read.csv(commandArgs(TRUE)[1]);
    t <- system.time(m <- rma(yi, vi, data = d, method = "REML", test = "knha"))[["elapsed"]];
    cat("metafor tau2", m$tau2, "estimate", coef(m), "\n"); cat("METAFOR_SECONDS", t, "\n")' "$file")
  echo "$theirs" | grep '^metafor'
  t=$(echo "$theirs" | sed -n 's/^METAFOR_SECONDS //p')
  echo "metafor REML + knha: $t s"
  echo "ratio metafor/outcomes: $(echo "$t / $ours" | bc -l | cut -c1-6)"
else
  echo "R with metafor not found: no comparison"
fi
