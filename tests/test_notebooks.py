"""The notebooks of ``examples/notebooks/`` run top to bottom against this checkout, show
their pictures inline, and are stored exactly as ``make notebooks`` writes them.

Each notebook is executed once per session in a fresh ipykernel (nbclient), with the
repository on ``PYTHONPATH`` and ``MICROGRADNN_DATA`` passed through (see
``examples/notebooks/run.py``, the same code ``make notebooks`` runs). The MNIST
notebooks are marked ``mnist``: with the data they must really train and draw; without it
they must say so and still finish without an error (also checked with an empty data folder).
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "examples" / "notebooks"
NAMES = ["01_backprop_by_hand", "02_neuron_to_mlp", "03_mnist_classic", "04_cnn",
         "05_backprop_by_hand"]
MNIST_NOTEBOOKS = {"03_mnist_classic", "04_cnn"}
MNIST_DIR = os.environ.get("MICROGRADNN_DATA", "")
HAVE_MNIST = bool(MNIST_DIR) and Path(MNIST_DIR, "t10k-labels-idx1-ubyte.gz").exists()
SKIPPED_LINE = "(skipped: this cell needs MNIST, see the first cell)"

pytestmark = pytest.mark.slow


def _load_run():
    spec = importlib.util.spec_from_file_location("notebooks_run", FOLDER / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _load_run()


@pytest.fixture(scope="module")
def executed() -> Dict[str, Any]:
    """Every notebook, run once in a fresh kernel; also records how long all of them took."""
    out: Dict[str, Any] = {}
    start = time.perf_counter()
    for name in NAMES:
        out[name] = run.execute(FOLDER / f"{name}.ipynb")
    out["_seconds"] = time.perf_counter() - start
    return out


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else value


def outputs(nb: Any) -> List[Dict[str, Any]]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def bundles(nb: Any) -> List[Dict[str, Any]]:
    """The data of every display_data / execute_result output."""
    return [o["data"] for o in outputs(nb)
            if o["output_type"] in ("display_data", "execute_result")]


def printed(nb: Any) -> str:
    return "".join(_text(o["text"]) for o in outputs(nb) if o["output_type"] == "stream")


def shape(nb: Any) -> List[Tuple[str, List[Tuple[str, ...]]]]:
    """Per code cell: its source and the kind (and MIME types) of each output."""
    return [(cell.source, [(o["output_type"], o.get("name", ""), *sorted(o.get("data", {})))
                           for o in cell.outputs])
            for cell in nb.cells if cell.cell_type == "code"]


def iframe_page(bundle: Dict[str, Any]) -> str:
    """The page inside an ``<iframe srcdoc=...>`` HTML output, unescaped."""
    markup = _text(bundle["text/html"])
    match = re.fullmatch(r'\s*<iframe srcdoc="([^"]*)"[^>]*></iframe>\s*', markup)
    assert match, f"not one isolated iframe: {markup[:200]!r}"
    assert 'sandbox="allow-scripts"' in markup  # scripts run, but not with the notebook's origin
    return html.unescape(match.group(1))


def assert_offline(page: str) -> None:
    assert "<script" in page and "</html>" in page.lower()
    found = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, flags=re.I)
    assert not found, f"the page loads something from a network: {found[:3]}"


def needs_data(name: str) -> None:
    if name in MNIST_NOTEBOOKS and not HAVE_MNIST:
        pytest.skip("MNIST files not found: set MICROGRADNN_DATA (the Makefile does)")


def test_every_notebook_is_listed_and_run():
    assert sorted(p.stem for p in run.notebooks()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom_without_errors(executed, name):
    nb = executed[name]
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert not [o for o in outputs(nb) if o["output_type"] == "error"]
    assert "Traceback" not in printed(nb)
    if name in MNIST_NOTEBOOKS and HAVE_MNIST:
        assert SKIPPED_LINE not in printed(nb), "MNIST is there, yet cells were skipped"


def test_01_chain_rule_by_hand_agrees_with_backward_and_pictures_show(executed):
    nb = executed["01_backprop_by_hand"]
    text = printed(nb)
    by_hand = float(re.search(r"∂C/∂w\s+= ([-+]\d\.\d+)", text).group(1))
    from_backward = float(re.search(r"w\[1\]\[0,0\]\s+grad = ([-+]\d\.\d+)", text).group(1))
    assert by_hand == from_backward != 0
    slope, said = map(float, re.search(r"/ h = ([-+]\d\.\d+)\s+backward\(\) said ([-+]\d\.\d+)",
                                       text).groups())
    assert abs(slope - said) < 1e-5
    data = bundles(nb)
    # Value keeps its text repr: no HTML or picture for it
    value = [b for b in data if _text(b.get("text/plain", "")).startswith("Value(")]
    assert value and all(set(b) == {"text/plain"} for b in value)
    graphs = [b for b in data if "image/svg+xml" in b]
    assert len(graphs) == 1 and "z[1][0]" in _text(graphs[0]["image/svg+xml"])
    steppers = [b for b in data if "text/html" in b]
    assert len(steppers) == 1
    page = iframe_page(steppers[0])
    assert_offline(page)
    assert "One sigmoid neuron" in page and "w[1][0,0]" in page


def test_02_the_mlp_learns_and_its_figures_show_inline(executed):
    nb = executed["02_neuron_to_mlp"]
    match = re.search(r"cost (\d\.\d+) -> (\d\.\d+), accuracy (\d\.\d+) -> (\d\.\d+)", printed(nb))
    cost0, cost1, acc0, acc1 = map(float, match.groups())
    assert cost1 < cost0 / 2 and acc1 >= 0.85
    data = bundles(nb)
    figures = [b for b in data if "image/png" in b]
    assert len(figures) == 2  # the history and the decision boundary, as PNGs, inline
    assert all(_text(b["text/plain"]).startswith("<Figure") for b in figures)
    assert len([b for b in data if "image/svg+xml" in b]) == 1  # draw_network


@pytest.mark.mnist
def test_03_the_classic_net_trains_and_the_explain_page_shows(executed):
    needs_data("03_mnist_classic")
    nb = executed["03_mnist_classic"]
    text = printed(nb)
    before = float(re.search(r"before training: test accuracy (\d\.\d+)", text).group(1))
    after = float(re.search(r"digits: test accuracy (\d\.\d+)", text).group(1))
    assert before < 0.2 and after > 0.6
    data = bundles(nb)
    assert len([b for b in data if "image/png" in b]) == 2  # digits, weight images
    pages = [b for b in data if "text/html" in b]
    assert len(pages) == 1
    page = iframe_page(pages[0])
    assert_offline(page)
    assert "microgradnn-data" in page


@pytest.mark.mnist
def test_04_the_cnn_trains_and_its_pictures_show(executed):
    needs_data("04_cnn")
    nb = executed["04_cnn"]
    text = printed(nb)
    assert "feature maps: (1, 2, 26, 26)" in text
    assert float(re.search(r"test accuracy on 2,000 digits: (\d\.\d+)", text).group(1)) > 0.5
    assert len([b for b in bundles(nb) if "image/png" in b]) == 3
    diagrams = [html.unescape(_text(b["image/svg+xml"])) for b in bundles(nb)
                if "image/svg+xml" in b]
    assert len(diagrams) == 2  # draw_architecture of LeNet-5, then of ResNet
    assert "LeNet-5" in diagrams[0] and "ResNet" in diagrams[1] and "residual block" in diagrams[1]


@pytest.mark.parametrize("name", NAMES)
def test_stored_notebook_is_what_make_notebooks_writes(executed, name):
    stored = nbformat.read(str(FOLDER / f"{name}.ipynb"), as_version=4)
    nbformat.validate(stored)
    fresh = run.stored_form(nbformat.reads(nbformat.writes(executed[name]), as_version=4))
    assert [c.source for c in stored.cells] == [c.source for c in fresh.cells], \
        f"{name}: cells changed since the outputs were stored: run `make notebooks`"
    assert not [o for o in outputs(stored) if o["output_type"] == "error"]
    code = [c for c in stored.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert all("execution" not in c.metadata for c in code)  # no timings stored
    if name in MNIST_NOTEBOOKS and not HAVE_MNIST:
        return  # the stored file has MNIST's outputs; this run has the skip lines
    assert shape(stored) == shape(fresh), f"{name}: stored outputs differ: run `make notebooks`"
    assert (FOLDER / f"{name}.ipynb").stat().st_size < 1_000_000


def test_stored_form_keeps_small_html_and_drops_large_pages():
    small = {"text/html": "<b>x</b>", "text/plain": "x"}
    large = {"text/html": "<p>" + "y" * run.MAX_STORED_HTML + "</p>", "text/plain": "Page(...)"}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a", outputs=[
        nbformat.v4.new_output("execute_result", data=small, execution_count=1),
        nbformat.v4.new_output("display_data", data=large)])])
    out = run.stored_form(nb).cells[0].outputs
    assert out[0]["data"] == small
    assert set(out[1]["data"]) == {"text/plain"}
    assert out[1]["data"]["text/plain"].startswith("Page(...)\n[not stored: the ")


def test_without_mnist_the_notebook_says_so_and_finishes(tmp_path, monkeypatch):
    empty = tmp_path / "no-mnist"
    empty.mkdir()
    monkeypatch.setenv("MICROGRADNN_DATA", str(empty))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no cached copy either
    nb = run.execute(FOLDER / "03_mnist_classic.ipynb")
    text = printed(nb)
    assert "MNIST is not available" in text and str(empty) in text
    assert "mnist_or_skip(download=True)" in text
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert not [o for o in outputs(nb) if o["output_type"] == "error"]
    for cell in code[1:]:  # every later cell says it was skipped, and nothing else
        assert [_text(o.get("text", "")) for o in cell.outputs] == [SKIPPED_LINE + "\n"]


def test_run_py_refuses_a_missing_notebook(capsys, tmp_path):
    assert run.main([str(tmp_path / "nope.ipynb")]) == 2
    assert "no such notebook" in capsys.readouterr().err


def test_readmes_list_every_notebook():
    for readme in (ROOT / "README.md", ROOT / "examples" / "README.md"):
        text = readme.read_text(encoding="utf-8")
        assert all(name in text for name in NAMES), f"{readme} does not list every notebook"


@pytest.mark.browser
@pytest.mark.mnist
def test_the_inline_pages_run_in_a_browser_offline(executed, open_page, tmp_path):
    """The stepper (01) and the explain page (03) as a notebook shows them: each output's
    HTML inside a host page, opened from disk in chromium with no network."""
    needs_data("03_mnist_classic")
    html_outputs = [_text(b["text/html"]) for name in ("01_backprop_by_hand", "03_mnist_classic")
                    for b in bundles(executed[name]) if "text/html" in b]
    assert len(html_outputs) == 2
    host = tmp_path / "notebook.html"
    host.write_text("<!DOCTYPE html><html><body>"
                    + "".join(f"<div class=cell>{h}</div>" for h in html_outputs)
                    + "</body></html>", encoding="utf-8")
    page = open_page(host)
    stepper, explain = page.frames[1:]
    stepper.wait_for_selector("svg g.node")
    assert stepper.locator("svg g.node").count() >= 8 and stepper.locator("button").count() > 0
    explain.wait_for_selector("body[data-ready='1']")
    assert page.locator(".cell svg").count() == 0  # each page stays inside its own frame
    page.screenshot(path=str(tmp_path / "notebook.png"), full_page=True)
    assert page.problems == []


def test_stored_form_leaves_out_object_addresses():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("g", outputs=[
        nbformat.v4.new_output("execute_result", execution_count=1, data={
            "text/plain": "<viz.graph.dot.Picture at 0x7f05f4b17c50>",
            "image/svg+xml": "<svg/>"})])])
    data = run.stored_form(nb).cells[0].outputs[0]["data"]
    assert data == {"text/plain": "<viz.graph.dot.Picture>", "image/svg+xml": "<svg/>"}


def test_stored_form_joins_the_prints_of_a_cell():
    out = nbformat.v4.new_output
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("p", outputs=[
        out("stream", name="stdout", text="a\n"), out("stream", name="stdout", text="b\n"),
        out("stream", name="stderr", text="c\n"), out("stream", name="stdout", text="d\n")])])
    outputs = run.stored_form(nb).cells[0].outputs
    assert [(o["name"], o["text"]) for o in outputs] == [("stdout", "a\nb\n"), ("stderr", "c\n"),
                                                        ("stdout", "d\n")]


RECOVERY = """
import os
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
ip.run_cell("from _notebook import mnist_or_skip\\nmnist = mnist_or_skip()")
print("after:", ip.run_cell("x = 1 / 0").error_in_exec)  # skipped: no ZeroDivisionError
os.environ["MICROGRADNN_DATA"] = {data!r}
ip.run_cell("mnist = mnist_or_skip()")
print("rerun:", type(ip.run_cell("1 / 0").error_in_exec).__name__)  # runs again
"""


@pytest.mark.mnist
def test_running_the_first_cell_again_with_mnist_ends_the_skipping(tmp_path):
    needs_data("03_mnist_classic")
    env = {**run.kernel_env(), "MICROGRADNN_DATA": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", RECOVERY.format(data=MNIST_DIR)], cwd=FOLDER,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "MNIST is not available" in result.stdout
    assert SKIPPED_LINE in result.stdout and "after: None" in result.stdout
    assert "rerun: ZeroDivisionError" in result.stdout
