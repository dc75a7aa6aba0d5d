#!/usr/bin/env python3
"""Execute every notebooks/*.ipynb in name order and say which pass.

Each notebook runs in a fresh python3 kernel with notebooks/ as the working
directory and a 600 s limit per cell. The executed copies stay in memory:
nothing is written back into the committed notebooks (their outputs stay
stripped). Exit status: 0 if every notebook passes, 1 otherwise.

Usage: python notebooks/run.py [--out DIR] [--strip] [NOTEBOOK ...]
  (default: every notebook, in name order)
  --out DIR  also write the executed copies (with outputs) to DIR, e.g.
             target/notebooks-executed, to read them without Jupyter
  --strip    clear the outputs and execution counts of the notebooks in
             place (before committing a notebook saved from Jupyter) and exit
A notebook saved with outputs fails: commit them stripped.
notebooks/run.sh sets up a virtual environment with nbclient and runs this.
"""

import argparse
import re
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
KERNEL = "python3"
TIMEOUT = 600  # seconds per cell


def kernel_python():
    """The interpreter the python3 kernel will run (for the log)."""
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    exe = spec.argv[0]
    # jupyter_client runs a spec's bare "python" as this interpreter.
    if exe in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"):
        exe = sys.executable
    return exe, spec.resource_dir


def failing_cell(nb):
    """The index and source of the first cell whose output is an error."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return i, cell.source
    return None, None


def has_outputs(nb):
    return any(c.get("outputs") or c.get("execution_count") is not None
               for c in nb.cells if c.cell_type == "code")


def strip(path):
    nb = nbformat.read(path, as_version=4)
    if not has_outputs(nb):
        return False
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)  # nbclient's timings
    nbformat.write(nb, path)
    return True


def run_one(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=TIMEOUT,
        resources={"metadata": {"path": str(HERE)}},  # cwd of the kernel
    )
    start = time.monotonic()
    error = None
    try:
        client.execute()
    except Exception as e:  # a cell failed or timed out, the kernel died ...
        error = e
    return time.monotonic() - start, error, nb


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write the executed copies here")
    parser.add_argument("--strip", action="store_true", help="clear saved outputs and exit")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted(HERE.glob("*.ipynb"))
    if not paths:
        print(f"no notebooks in {HERE}", file=sys.stderr)
        return 1
    if args.strip:
        for path in paths:
            print(("stripped  " if strip(path) else "clean     ") + path.name)
        return 0
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    exe, spec_dir = kernel_python()
    print(f"kernel {KERNEL}: {exe} (spec {spec_dir})")
    if Path(exe).resolve() != Path(sys.executable).resolve():
        print(f"  note: not this interpreter ({sys.executable})")
    failed = []
    total = time.monotonic()
    for path in paths:
        saved = has_outputs(nbformat.read(path, as_version=4))
        secs, error, nb = run_one(path)
        status = "PASS" if error is None and not saved else "FAIL"
        print(f"{status}  {path.name}  {secs:6.1f} s", flush=True)
        if args.out:
            nbformat.write(nb, args.out / path.name)
        if saved:
            failed.append(path.name)
            print("  saved with outputs: strip them before committing "
                  "(notebooks/run.sh --strip)")
        if error is not None:
            if not saved:
                failed.append(path.name)
            index, source = failing_cell(nb)
            if index is not None:
                print(f"  failing cell: #{index + 1} of {len(nb.cells)}")
                if not isinstance(error, CellExecutionError):  # that one quotes it
                    print(source)
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(error).strip())  # no colour codes
            print(f"{type(error).__name__}: {text}\n")
    print(f"{len(paths) - len(failed)} of {len(paths)} notebooks passed "
          f"in {time.monotonic() - total:.1f} s")
    if failed:
        print("failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
