"""Reproduce the MNIST accuracy table of benchmarks/RESULTS.md (issue 6).

Each row is one ``microgradnn train mnist ...`` command run in a fresh process (so the
BLAS thread count can be set before numpy starts); the script records the final test
accuracy from the history file, the epochs, the wall time of the whole command and the
1-minute load average before and after (the machine is shared: read times with it).

    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/mnist_results.py
    python benchmarks/mnist_results.py --only cnn --threads 2 --out /tmp/mnist_runs

Prints a Markdown table. Seeds are fixed; a rerun gives the same accuracies (the same
numpy/BLAS build), only the times move.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]

RUNS: Dict[str, Dict[str, object]] = {
    "classic": {
        "what": "784-16-16-10 sigmoid, the classic recipe (SGD 0.1, 10 epochs)",
        "goal": None,
        "args": "--model mlp --hidden 16,16 --activation sigmoid --optimizer sgd --lr 0.1 "
                "--epochs 10 --batch-size 32 --seed 0",
    },
    "mlp16": {
        "what": "784-16-16-10 sigmoid (13,002 parameters)",
        "goal": 0.960,
        "args": "--model mlp --hidden 16,16 --activation sigmoid --optimizer adam --lr 0.003 "
                "--lr-decay 0.95 --augment 1 --epochs 40 --batch-size 32 --seed 0",
    },
    "mlp128": {
        "what": "784-128-64-10 relu",
        "goal": 0.980,
        "args": "--model mlp --hidden 128,64 --activation relu --optimizer adam --lr 0.001 "
                "--lr-decay 0.9 --augment 1 --epochs 20 --batch-size 64 --seed 0",
    },
    "cnn": {
        "what": "CNN conv3x3:16-pool-conv3x3:32-pool-fc128-10 relu",
        "goal": 0.992,
        "args": "--model cnn --channels 16,32 --hidden 128 --optimizer adam --lr 0.002 "
                "--lr-decay 0.8 --augment 1 --epochs 14 --batch-size 64 --seed 0",
    },
}


def run_one(name: str, out: Path, threads: int) -> Dict[str, object]:
    spec = RUNS[name]
    history = out / f"{name}.json"
    checkpoint = out / f"{name}.npz"
    args = shlex.split(str(spec["args"])) + ["--save", str(checkpoint), "--history",
                                             str(history), "--quiet"]
    command = [sys.executable, "-m", "microgradnn", "train", "mnist", *args]
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    load_after = os.getloadavg()[0]
    if result.returncode != 0:
        raise SystemExit(f"{name} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    records = json.loads(history.read_text())
    training_seconds = sum(r["seconds"] for r in records)
    return {"name": name, "what": spec["what"], "goal": spec["goal"],
            "accuracy": records[-1]["test_accuracy"],
            "best": max(r["test_accuracy"] for r in records), "epochs": len(records),
            "train_s": training_seconds, "wall_s": wall, "load": (load_before, load_after),
            "command": "microgradnn train mnist " + str(spec["args"])}


def table(rows: List[Dict[str, object]], threads: int) -> str:
    lines = ["| network | test accuracy | goal | epochs | training time | load (1 min) | command |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        goal = "-" if r["goal"] is None else f"{r['goal']:.1%}"
        met = "" if r["goal"] is None else (" ✓" if r["accuracy"] >= r["goal"] else " ✗")
        lines.append(
            f"| {r['what']} | {r['accuracy']:.2%}{met} | {goal} | {r['epochs']} | "
            f"{r['train_s']:.0f} s ({r['wall_s']:.0f} s wall incl. eval) | "
            f"{r['load'][0]:.1f} → {r['load'][1]:.1f} | `{r['command']}` |")
    lines.append("")
    lines.append(f"BLAS threads: {threads}; training time = sum of epoch times (test-set "
                 f"evaluation after each epoch excluded); {os.cpu_count()} CPUs.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(RUNS), default=list(RUNS),
                        help="rows to run (default: all)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads per run (default: 1; on a busy machine more "
                             "threads wait on each other)")
    parser.add_argument("--out", default="mnist_runs",
                        help="folder for checkpoints and histories (default: %(default)s)")
    args = parser.parse_args()
    if not os.environ.get("MICROGRADNN_DATA"):
        print("note: MICROGRADNN_DATA is not set; the cache or a download will be used",
              file=sys.stderr)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.only:
        print(f"running {name}: microgradnn train mnist {RUNS[name]['args']}", file=sys.stderr,
              flush=True)
        rows.append(run_one(name, out, args.threads))
        print(f"  {rows[-1]['accuracy']:.2%} in {rows[-1]['wall_s']:.0f} s", file=sys.stderr,
              flush=True)
    print(table(rows, args.threads))


if __name__ == "__main__":
    main()
