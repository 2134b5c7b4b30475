"""Notebook 05 with its solutions filled in: every check passes on the right answers and
fails, naming the entry, on a planted transpose and a planted missing factor."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
from test_notebooks import run as notebooks_run  # noqa: E402  (examples/notebooks/run.py)

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "examples" / "notebooks"
NOTEBOOK = FOLDER / "05_backprop_by_hand.ipynb"
SOLUTIONS = FOLDER / "solutions" / "05_backprop_by_hand.py"
MARK = "# exercise: "

pytestmark = pytest.mark.slow


def sections(text: str) -> dict:
    """``# exercise: NAMES`` -> the code below it, up to the next such line."""
    parts = re.split(r"^# exercise: (.+)$", text, flags=re.M)
    return {name.strip(): body.strip() + "\n" for name, body in zip(parts[1::2], parts[2::2])}


def solved(text: str):
    """The stored notebook with each exercise cell replaced by its solution in ``text``."""
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    code = sections(text)
    filled = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(MARK):
            name = cell.source.splitlines()[0][len(MARK):].strip()
            cell.source = f"{MARK}{name}\n{code[name]}"
            filled += 1
    assert filled == len(code) == 5
    return nb


def run(nb, tmp_path):
    path = tmp_path / "05.ipynb"
    nbformat.write(nb, str(path))
    executed = notebooks_run.execute(path)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o["output_type"] == "error"]
    return "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")


def verdicts(text: str) -> dict:
    return {m.group(2): m.group(1) for m in
            re.finditer(r"^(exact|approximate|wrong|missing) +(.+?): ", text, flags=re.M)}


def test_the_stored_notebook_leaves_every_exercise_empty():
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and c.source.startswith(MARK)]
    assert len(cells) == 5
    for source in cells:
        lines = source.splitlines()
        assert all(re.fullmatch(r"\w+ = None", line) for line in lines[1:]), source
    said = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "0 of 12 gradients right" in said


@pytest.mark.parametrize("mnist", [True, False], ids=["as-set", "without-mnist"])
def test_with_the_solutions_every_check_passes(tmp_path, monkeypatch, mnist):
    if not mnist:  # a synthetic batch instead
        (tmp_path / "empty").mkdir()
        monkeypatch.setenv("MICROGRADNN_DATA", str(tmp_path / "empty"))
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = run(solved(SOLUTIONS.read_text(encoding="utf-8")), tmp_path)
    if not mnist:
        assert "a synthetic batch" in text
    found = verdicts(text)
    assert len(found) == 12 and set(found.values()) <= {"exact", "approximate"}, found
    assert "12 of 12 gradients right" in text


@pytest.mark.parametrize("planted, name, wrong_too", [
    # a transpose: W[2] is 16x16, so the shape is right and the numbers are not
    ("dW2, db2 = delta2.T @ a1,", "∂C/∂W[2]", set()),
    # a missing factor: σ'(z[3]) left out of δ[3]; everything below it is wrong as well
    ("delta3 = dC_da3 * a3 * (1 - a3)", "δ[3]",
     {"δ[2]", "δ[1]", "∂C/∂W[3]", "∂C/∂b[3]", "∂C/∂W[2]", "∂C/∂b[2]", "∂C/∂W[1]",
      "∂C/∂b[1]"}),
])
def test_a_planted_mistake_is_wrong_and_the_entry_named(tmp_path, planted, name, wrong_too):
    text = SOLUTIONS.read_text(encoding="utf-8")
    assert planted in text
    mistake = {"dW2, db2 = delta2.T @ a1,": "dW2, db2 = (delta2.T @ a1).T,",
               "delta3 = dC_da3 * a3 * (1 - a3)": "delta3 = dC_da3 * 1.0"}[planted]
    said = run(solved(text.replace(planted, mistake)), tmp_path)
    found = verdicts(said)
    assert {k for k, v in found.items() if v == "wrong"} == {name} | wrong_too
    line = next(line for line in said.splitlines()
                if line.startswith("wrong") and name + ":" in line)
    assert re.search(r"at \[\d+, \d+\] yours is \S+, the reference \S+", line), line
