#!/bin/sh
# InstEval ML fit, y ~ 1 + service + (1|s) + (1|d) + (1|dept): outcomes vs
# lme4 on this machine, and the ratio. Run from the repository root.
set -e
out=$(cargo test --release --bench lmm_speed -- --ignored --nocapture --test-threads 1 insteval 2>/dev/null)
echo "$out" | grep -o 'outcomes InstEval.*'
ours=$(echo "$out" | sed -n 's/^OUTCOMES_SECONDS //p')
if command -v Rscript >/dev/null 2>&1 && Rscript -e 'library(lme4)' >/dev/null 2>&1; then
  theirs=$(Rscript benches/lmm_insteval.R | sed -n 's/^LME4_SECONDS //p')
  echo "lme4 InstEval ML: $theirs s"
  echo "ratio lme4/outcomes: $(echo "$theirs / $ours" | bc -l | cut -c1-6)"
else
  echo "R with lme4 not found: no comparison"
fi
