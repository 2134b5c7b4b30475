"""The layers are true: the library never imports ``viz``, and ``import viz`` stays light.

Layers, bottom to top: the library (``microgradnn`` minus its CLI) < ``viz`` (pictures,
imports the library) < the CLI (``microgradnn.cli`` and ``microgradnn.commands``, the
application layer, imports ``viz`` inside its handlers only). matplotlib is loaded by the
first plot made, never by an import.

Each check imports in a fresh interpreter and reads ``sys.modules``, so nothing this
test process already imported can hide a violation.
"""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

import microgradnn

ROOT = Path(__file__).resolve().parents[1]
CLI_MODULES = ("microgradnn.cli", "microgradnn.commands")


def _is_cli(name: str) -> bool:
    return any(name == cli or name.startswith(cli + ".") for cli in CLI_MODULES)


def _modules(package) -> List[str]:
    names = [package.__name__]
    names += [info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    return sorted(n for n in names if not n.endswith(".__main__"))  # __main__ runs the CLI


LIBRARY_MODULES = [n for n in _modules(microgradnn) if not _is_cli(n)]
CLI_MODULE_NAMES = [n for n in _modules(microgradnn) if _is_cli(n)]


def _loaded_after(code: str) -> Dict[str, bool]:
    """Run ``code`` in a fresh interpreter; which of viz / matplotlib / graphviz it loaded."""
    probe = (code + "\nimport json, sys\n"
             "print(json.dumps({name: name in sys.modules for name in "
             "('viz', 'matplotlib', 'graphviz')}))\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, cwd=str(ROOT), timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_module_lists_are_complete():
    assert {"microgradnn.engine", "microgradnn.autodiff", "microgradnn.nn",
            "microgradnn.tensor", "microgradnn.datasets.mnist"} <= set(LIBRARY_MODULES)
    assert {"microgradnn.cli", "microgradnn.commands.graph"} <= set(CLI_MODULE_NAMES)


@pytest.mark.parametrize("module", LIBRARY_MODULES)
def test_library_module_imports_neither_viz_nor_matplotlib(module):
    loaded = _loaded_after(f"import {module}")
    assert not loaded["viz"], f"importing {module} loads viz"
    assert not loaded["matplotlib"], f"importing {module} loads matplotlib"


def _imported_names(path: Path) -> List[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_no_library_source_imports_viz_even_inside_a_function():
    """An import inside a function escapes the ``sys.modules`` check; the source does not."""
    package_dir = Path(microgradnn.__file__).parent
    offenders = []
    for path in sorted(package_dir.rglob("*.py")):
        module = ".".join(path.relative_to(package_dir.parent).with_suffix("").parts)
        if _is_cli(module):
            continue
        offenders += [f"{module} imports {name}" for name in _imported_names(path)
                      if name.split(".")[0] in ("viz", "matplotlib")]
    assert offenders == []


@pytest.mark.parametrize("module", CLI_MODULE_NAMES)
def test_cli_modules_import_viz_only_inside_their_handlers(module):
    loaded = _loaded_after(f"import {module}")
    assert not loaded["viz"] and not loaded["matplotlib"], loaded


def test_import_viz_does_not_load_matplotlib():
    assert _loaded_after("import viz") == {"viz": True, "matplotlib": False, "graphviz": False}
    # every public name, and every part, can be imported without matplotlib
    loaded = _loaded_after("from viz import *\nimport viz.graph, viz.steps, viz.plots, viz.explainer")
    assert loaded["viz"] and loaded["graphviz"]
    assert not loaded["matplotlib"]


def test_every_public_name_of_viz_is_there():
    import viz

    assert len(viz.__all__) == len(set(viz.__all__)) == 39
    for name in viz.__all__:
        assert getattr(viz, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        viz.nope


def test_a_plot_function_loads_matplotlib_when_called():
    assert _loaded_after("import viz\nviz.plot_history([{'train_loss': 1.0}])")["matplotlib"]


def test_the_graph_command_never_loads_matplotlib(tmp_path):
    code = ("import contextlib, io\nfrom microgradnn.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['graph', 'tanh(x*w + b)', '--set', 'x=2', 'w=-3', 'b=6.88',"
            " '--backward']) == 0\n")
    loaded = _loaded_after(code)
    assert loaded["viz"] and not loaded["matplotlib"]


def test_explain_is_the_function_even_after_its_part_is_imported():
    code = ("import viz.explainer, viz.steps, viz.plots.descent\nimport viz\n"
            "assert callable(viz.explain) and viz.explain.__module__ == 'viz.explainer.page'\n"
            "assert callable(viz.descent_path)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=str(ROOT), timeout=120)
