"""Run the notebooks top to bottom and store them with their outputs: ``make notebooks``.

    python examples/notebooks/run.py [NOTEBOOK.ipynb ...]

Every notebook (default: all ``NN_*.ipynb`` here) is executed in a fresh ``python3``
kernel (nbclient + ipykernel) in its own folder, with the repository on ``PYTHONPATH``
and ``MICROGRADNN_DATA`` passed through, then written back in place atomically. The
stored outputs come only from here, never from hand edits; ``tests/test_notebooks.py``
runs the same ``execute`` and checks the stored files against it.

What is stored, and why (the stored files stay small, a few hundred kB):

- every output, except an HTML view larger than ``MAX_STORED_HTML`` bytes: its HTML is
  dropped and its text form kept, with a note saying so (run the notebook to see it).
  Today that is the explain page of notebook 03 (about 330 kB: the weights of the whole
  network travel with it); the stepper of notebook 01 (about 56 kB) is stored.
- the prints of one cell as one output per stream (the kernel splits them by timing);
  no timings (``record_timing=False``), no progress bars (``TQDM_DISABLE=1``) and no
  object addresses in text forms (``<... at 0x7f...>`` becomes ``<...>``), so a rerun
  changes only what really changed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MAX_STORED_HTML = 64_000  # bytes of text/html one output may keep in the stored file
CELL_TIMEOUT = 300  # seconds a single cell may take before the run fails
NOT_STORED = "[not stored: the {size:,}-byte HTML view; run the notebook to see it]"

__all__ = ["notebooks", "kernel_env", "execute", "stored_form", "main", "MAX_STORED_HTML"]


def notebooks() -> List[Path]:
    """The notebooks of this folder, in reading order."""
    return sorted(HERE.glob("[0-9][0-9]_*.ipynb"))


def kernel_env() -> Dict[str, str]:
    """The kernel's environment: ours, with the repository first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["TQDM_DISABLE"] = "1"
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return env


def execute(path: Path, timeout: int = CELL_TIMEOUT) -> Any:
    """Run the notebook at ``path`` in a fresh kernel; return it with its outputs.

    A cell that raises stops the run with nbclient's ``CellExecutionError`` (which names
    the cell and the error).
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=kernel_env())
    return nb


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")


def _joined(text: Any) -> str:
    return "".join(text) if isinstance(text, list) else text


def _coalesced(outputs: List[Any]) -> List[Any]:
    """Consecutive prints to the same stream as one output (the kernel splits them by timing)."""
    merged: List[Any] = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and last is not None
                and last.get("output_type") == "stream" and last.get("name") == output.get("name")):
            last["text"] = _joined(last["text"]) + _joined(output["text"])
        else:
            merged.append(output)
    return merged


def stored_form(nb: Any) -> Any:
    """``nb`` as it is stored: large HTML views replaced by their text form and a note."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        cell.outputs = _coalesced(cell.get("outputs", []))
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/plain" in data:
                data["text/plain"] = _ADDRESS.sub(">", _joined(data["text/plain"]))
            page = data.get("text/html")
            if page is None:
                continue
            size = len(_joined(page))
            if size > MAX_STORED_HTML:
                del data["text/html"]
                text = _joined(data.get("text/plain", ""))
                data["text/plain"] = f"{text}\n{NOT_STORED.format(size=size)}".lstrip("\n")
    return nb


def main(argv: Optional[List[str]] = None) -> int:
    import nbformat

    sys.path.insert(0, str(ROOT))
    from microgradnn.fileio import write_atomic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks to run (default: all)")
    args = parser.parse_args(argv)
    paths = args.paths or notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"run.py: no such notebook: {missing[0]}", file=sys.stderr)
        return 2
    total = 0.0
    for path in paths:
        start = time.perf_counter()
        nb = stored_form(execute(path.resolve()))
        seconds = time.perf_counter() - start
        total += seconds
        text = nbformat.writes(nb) + "\n"
        write_atomic(path, text)
        print(f"{path}: ran in {seconds:.1f} s, stored {len(text.encode('utf-8')):,} bytes")
    print(f"{len(paths)} notebook(s) in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
