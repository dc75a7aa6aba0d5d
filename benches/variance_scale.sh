#!/bin/sh
# Scale (issue 9): a simulated national-programme file, N clients of T
# therapists at S sites (default 10,000,000 / 20,000 / 500), written to
# Parquet and CSV; `outcomes variance --bootstrap 0` on it read in one pass
# (`--ingest stream`, what `auto` does for files this large) and in memory
# (`--ingest memory`), wall time and peak memory from /usr/bin/time -v; the
# throughput of one-pass CSV ingest (`outcomes summarise`: read, check, hash,
# type, accumulate the per-therapist sums, write; and the reader alone,
# benches/ingest.rs) and of the in-memory input layer (`outcomes inspect`:
# read, type, audit); `lmm` with random intercepts read in one pass; and,
# when R with lme4 is
# installed (and SKIP_R is unset), the 32 models of the decomposition in
# lm + lme4 on a file of R_N clients (default 1,000,000) against
# `outcomes variance` on the same file, as a ratio. Run from the repository
# root:
#   benches/variance_scale.sh [N T S [R_N]]
set -e
n=${1:-10000000}; t=${2:-20000}; s=${3:-500}; rn=${4:-1000000}
cargo build --release -q
bin=$PWD/target/release/outcomes
dir=${TMPDIR:-/tmp}/outcomes-scale
mkdir -p "$dir"
measure() { # label, command...: wall seconds and peak RSS
  label=$1; shift
  /usr/bin/time -v "$@" >/dev/null 2>"$dir/time.txt" || { cat "$dir/time.txt"; exit 1; }
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/time.txt")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time.txt")
  echo "$label: $wall wall, peak $(echo "$rss / 1048576" | bc -l | cut -c1-5) GB"
}
$bin simulate --clients "$n" --therapists "$t" --sites "$s" --seed 1 -o "$dir/big.parquet" >/dev/null
$bin simulate --clients "$n" --therapists "$t" --sites "$s" --seed 1 -o "$dir/big.csv" >/dev/null
echo "== $n clients, $t therapists, $s sites; Parquet $(du -m "$dir/big.parquet" | cut -f1) MB, CSV $(du -m "$dir/big.csv" | cut -f1) MB"
for f in big.parquet big.csv; do
  for ingest in stream memory; do
    measure "variance --bootstrap 0 --ingest $ingest ($f)" $bin variance "$dir/$f" --bootstrap 0 --format json --ingest $ingest
  done
done
mb=$(du -m "$dir/big.csv" | cut -f1)
start=$(date +%s.%N); $bin summarise "$dir/big.csv" --ingest stream -o "$dir/big.summary.json" 2>/dev/null; end=$(date +%s.%N)
echo "CSV one-pass ingest (summarise --ingest stream): $(echo "$end - $start" | bc -l | cut -c1-6) s, $(echo "$mb / ($end - $start)" | bc -l | cut -c1-6) MB/s"
echo "CSV ingest alone (benches/ingest.rs: read, check, hash, split, type every column; 3 rounds):"
OUTCOMES_INGEST_FILE="$dir/big.csv" cargo test --release -q --bench ingest -- --ignored --nocapture 2>/dev/null | grep round
for f in big.parquet big.csv; do
  measure "lmm (random intercepts) --ingest stream ($f)" $bin lmm "$dir/$f" --formula "post ~ pre + alliance + technique + (1|therapist) + (1|site)" --format json --ingest stream
done
start=$(date +%s.%N); $bin inspect "$dir/big.csv" --format json >/dev/null; end=$(date +%s.%N)
echo "CSV read + type + audit in memory (inspect): $(echo "$end - $start" | bc -l | cut -c1-6) s, $(echo "$mb / ($end - $start)" | bc -l | cut -c1-6) MB/s"
if [ -n "$SKIP_R" ]; then
  echo "SKIP_R set: no comparison with R"
elif command -v Rscript >/dev/null 2>&1 && Rscript -e 'library(lme4)' >/dev/null 2>&1; then
  $bin simulate --clients "$rn" --therapists $((rn / 500)) --sites 50 --seed 2 -o "$dir/r.csv" >/dev/null
  s0=$(date +%s.%N); $bin variance "$dir/r.csv" --bootstrap 0 --format json >/dev/null; s1=$(date +%s.%N)
  ours=$(echo "$s1 - $s0" | bc -l)
  theirs=$(Rscript benches/variance_32fits.R "$dir/r.csv" | sed -n 's/^R_SECONDS //p')
  echo "== $rn clients: outcomes 32 fits $(echo "$ours" | cut -c1-6) s, R lm + lme4 32 fits $theirs s, ratio $(echo "$theirs / $ours" | bc -l | cut -c1-6)"
else
  echo "R with lme4 not found: no comparison"
fi
