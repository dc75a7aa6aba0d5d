#!/usr/bin/env bash
# Execute the notebooks (notebooks/*.ipynb) against the outcomes binary.
#
#   notebooks/run.sh [--out DIR] [NOTEBOOK ...]   run (all by default)
#   notebooks/run.sh --strip                       clear saved outputs
#
# - a virtual environment at ${NOTEBOOK_VENV:-target/notebook-venv} (relative
#   to the repository root), created on first use and reused, with the pinned
#   nbclient, nbformat and ipykernel of notebooks/requirements.txt; nothing is
#   installed or registered outside it (the python3 kernel is the venv's own
#   interpreter);
# - OUTCOMES_BIN, if unset, is ${CARGO_TARGET_DIR:-target}/debug/outcomes,
#   built with `cargo build` when missing;
# - OUTCOMES_SHARED (optional) is the folder holding datasets/ (default
#   ../shared beside the repository); cells that need it skip without it.
set -euo pipefail
args=()  # paths given relative to the caller's directory, made absolute
strip_only=false
for a in "$@"; do
    case $a in
        --strip) strip_only=true ;;
        -* | /*) ;;
        *) a=$PWD/$a ;;
    esac
    args+=("$a")
done
cd "$(dirname "$0")/.."
root=$PWD

venv=${NOTEBOOK_VENV:-target/notebook-venv}
case $venv in /*) ;; *) venv=$root/$venv ;; esac
req=notebooks/requirements.txt
stamp=$venv/.requirements.txt
if [[ ! -x $venv/bin/python ]]; then
    echo "== creating the notebook environment $venv"
    python3 -m venv "$venv"
fi
if ! cmp -s "$req" "$stamp"; then
    echo "== installing $(grep -v '^#' "$req" | tr '\n' ' ')"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
fi

if [[ $strip_only == false && -z ${OUTCOMES_BIN:-} ]]; then
    target=${CARGO_TARGET_DIR:-target}
    case $target in /*) ;; *) target=$root/$target ;; esac
    OUTCOMES_BIN=$target/debug/outcomes
    if [[ ! -x $OUTCOMES_BIN ]]; then
        echo "== $OUTCOMES_BIN missing: cargo build"
        cargo build
    fi
fi
if [[ $strip_only == false ]]; then
    export OUTCOMES_BIN
    echo "== notebooks with $OUTCOMES_BIN ($("$OUTCOMES_BIN" --version))"
fi

# The venv's python runs the kernel; PYTHONNOUSERSITE keeps ~/.local out.
PYTHONNOUSERSITE=1 exec "$venv/bin/python" notebooks/run.py ${args[@]+"${args[@]}"}
