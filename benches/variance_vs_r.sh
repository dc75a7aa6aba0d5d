#!/bin/sh
# A five-factor variance decomposition (32 models) on 30,000 simulated clients
# of 400 therapists at 25 sites: outcomes (without and with --bootstrap 1000)
# against R with lm and lme4 on the same file and machine, and the ratio.
# Run from the repository root.
set -e
cargo build --release -q
bin=target/release/outcomes
file=${TMPDIR:-/tmp}/outcomes-variance-bench.csv
$bin simulate --clients 30000 --therapists 400 --sites 25 --seed 3 -o "$file" >/dev/null
best() { # best of 3 wall-clock seconds of a command
  b=""
  for i in 1 2 3; do
    s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
  done
  echo "$b"
}
ours=$(best $bin variance "$file" --bootstrap 0 --format json)
boot=$(best $bin variance "$file" --bootstrap 1000 --format json)
echo "outcomes 32 fits: $ours s (reading the CSV included)"
echo "outcomes 32 fits + bootstrap 1000 (32,000 fits): $boot s"
if command -v Rscript >/dev/null 2>&1 && Rscript -e 'library(lme4)' >/dev/null 2>&1; then
  theirs=$(Rscript benches/variance_32fits.R "$file" | sed -n 's/^R_SECONDS //p')
  echo "R lm + lme4 32 fits: $theirs s"
  echo "ratio R/outcomes (32 fits): $(echo "$theirs / $ours" | bc -l | cut -c1-6)"
else
  echo "R with lme4 not found: no comparison"
fi
