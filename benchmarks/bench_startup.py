"""Start-up time of ``microgradnn graph`` and ``import viz``, against the interpreter itself.

Issue 11 asks that ``microgradnn graph --help`` and ``microgradnn graph ...`` start in
under 0.5 s (``import viz`` used to load matplotlib: 0.9 s). Every command runs in a
fresh process, ``--repeat`` times, interleaved so that a busy moment of a shared
machine hits them all alike; the best time of each is printed. The peers, measured
in the same run, are the bare interpreter (``python -c pass``) and ``import numpy``.

    python benchmarks/bench_startup.py [--repeat 7] [--tree DIR]

``--tree DIR`` also times another checkout (say, main's) the same way, side by side.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
COMMANDS: List[Tuple[str, List[str]]] = [
    ("python -c pass (peer)", ["-c", "pass"]),
    ("import numpy (peer)", ["-c", "import numpy"]),
    ("import viz", ["-c", "import viz"]),
    ("microgradnn graph --help", ["-m", "microgradnn", "graph", "--help"]),
    ("microgradnn graph 'tanh(x*w + b)' --backward",
     ["-m", "microgradnn", "graph", "tanh(x*w + b)", "--set", "x=2", "w=-3", "b=6.8814",
      "--backward"]),
]


def run_once(tree: Path, args: List[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *args], env=env, cwd=str(tree), capture_output=True,
                            timeout=120)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {tree}: {result.stderr.decode()[-300:]}")
    return seconds


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--tree", type=Path, default=None,
                        help="another checkout to time side by side (e.g. main's)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        raise SystemExit(f"--repeat must be a positive integer, got {args.repeat}")
    trees = [ROOT] + ([args.tree.resolve()] if args.tree else [])
    for tree in trees:
        if not (tree / "viz" / "__init__.py").is_file():
            raise SystemExit(f"--tree {tree}: no viz package there")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, "
          f"load average {load:.1f}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; best of {args.repeat} fresh processes")
    best: Dict[Tuple[str, Path], float] = {}
    for _ in range(args.repeat):
        for name, command in COMMANDS:
            for tree in trees:
                seconds = run_once(tree, command)
                best[name, tree] = min(best.get((name, tree), float("inf")), seconds)
    if args.tree:
        print(f"other tree: {args.tree.resolve()}")
    header = "".join(f"{('this tree' if t == ROOT else 'other tree'):>16}" for t in trees)
    print(f"{'command':<46}{header}")
    for name, _ in COMMANDS:
        print(f"{name:<46}" + "".join(f"{best[name, t]:>14.3f} s" for t in trees))
    peer = best["import numpy (peer)", ROOT]
    graph = best[COMMANDS[-1][0], ROOT]
    print(f"microgradnn graph / import numpy: {graph / peer:.2f}x; goal: under 0.5 s "
          f"({'met' if graph < 0.5 else 'missed'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
