#!/usr/bin/env bash
# Builds the fuzz targets once, then runs each for SECONDS (default 600), one
# after another, from the seeds in fuzz/seeds/ and the corpus it grows in
# fuzz/corpus/. Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
# A crash is saved under fuzz/artifacts/TARGET/; copy it to
# tests/fuzz_regressions/TARGET/ so `cargo test` replays it.
set -u
cd "$(dirname "$0")"
SECONDS_EACH="${1:-600}"
TARGETS="${TARGETS:-loader spec formula claims filter stream}"
cargo +nightly fuzz build -O || exit 1
bin=target/x86_64-unknown-linux-gnu/release
mkdir -p logs
for t in $TARGETS; do
  mkdir -p "corpus/$t" "artifacts/$t"
  start=$(date +%s)
  "$bin/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$SECONDS_EACH" \
    -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 "corpus/$t" "seeds/$t" \
    > "logs/$t.log" 2>&1
  echo "$t: exit $? after $(( $(date +%s) - start )) s;" \
    "$(grep -E '^stat::number_of_executed_units' "logs/$t.log" | tail -1)"
done
