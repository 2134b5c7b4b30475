"""The layers are true: no import goes up a tier, the library never imports ``viz``, and
``import viz`` stays light.

Tiers, bottom to top (``TIERS`` below, module by module): core < tensor < training and
models < ``viz`` (pictures) < the CLI (``microgradnn.cli`` and ``microgradnn.commands``, the
application layer, imports ``viz`` inside its handlers only). An import goes down or stays
level, read from the source (inside functions too). matplotlib is loaded by the first plot
made, never by an import.

The import checks run in a fresh interpreter and read ``sys.modules``, so nothing this
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
    loaded = _loaded_after("from viz import *\nimport viz.graph, viz.steps, viz.plots, viz.explainer, viz.playground")
    assert loaded["viz"] and loaded["graphviz"]
    assert not loaded["matplotlib"]


def test_every_public_name_of_viz_is_there():
    import viz

    assert len(viz.__all__) == len(set(viz.__all__)) == 40
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


# -- the tiers: an import may go down or stay level, never up --

# module (or package: its submodules too) -> tier. Core (0) <- tensor (1) <- training and
# models (2) <- viz (3) <- CLI (4). A new module goes in this table (the test says so).
TIERS: Dict[str, int] = {
    # 0, core: the scalar engine and what needs no array path
    "microgradnn.engine": 0, "microgradnn.autodiff": 0, "microgradnn.module": 0,
    "microgradnn.nn": 0, "microgradnn.losses": 0, "microgradnn.optim": 0,
    "microgradnn.gradcheck": 0, "microgradnn.activations": 0, "microgradnn.expression": 0,
    "microgradnn.metrics": 0, "microgradnn.fileio": 0, "microgradnn.ziparchive": 0,
    "microgradnn.malloc": 0, "microgradnn.layout": 0,
    "microgradnn.blas": 0, "microgradnn.toy_training": 0, "microgradnn.datasets": 0,
    "microgradnn.exercises": 0, "microgradnn.practice": 0,
    # 1, the vectorized path, and the costs (each defined once, on both paths)
    "microgradnn.tensor": 1, "microgradnn.costs": 1,
    # 2, training and models (and the package's front door, whose load() reads checkpoints)
    "microgradnn": 2, "microgradnn.models": 2, "microgradnn.families": 2,
    "microgradnn.training": 2, "microgradnn.divergence": 2, "microgradnn.checkpoint": 2,
    "microgradnn.parallel": 2, "microgradnn.interop": 2, "microgradnn.snapshots": 2,
    # 3, the pictures
    "viz": 3,
    # 4, the application layer
    "microgradnn.cli": 4, "microgradnn.commands": 4, "microgradnn.__main__": 4,
}
TIER_NAMES = ("core", "tensor", "training and models", "viz", "CLI")


def tier_of(module: str) -> int:
    """The tier of the longest entry of ``TIERS`` that is ``module`` or a package above it."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        tier = TIERS.get(".".join(parts[:end]))
        if tier is not None and (end == len(parts) or ".".join(parts[:end]) != "microgradnn"):
            return tier
    raise KeyError(f"{module} has no tier: add it to TIERS in tests/test_layering.py")


def _source_modules() -> Dict[str, Path]:
    found = {}
    for package in ("microgradnn", "viz"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(module: str, path: Path) -> List[str]:
    """Every project module ``path`` imports, at the top or inside a function, relative
    imports resolved (``from . import x`` counts as the module x when there is one)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    known = _source_modules()
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:  # a submodule, or a name the module ``base`` defines
                sub = f"{base}.{alias.name}"
                names.append(sub if sub in known else base)
    return [n for n in names if n.split(".")[0] in ("microgradnn", "viz")]


def test_every_module_has_a_tier():
    assert [m for m in _source_modules() if not _has_tier(m)] == []


def _has_tier(module: str) -> bool:
    try:
        tier_of(module)
    except KeyError:
        return False
    return True


def test_no_import_goes_up_a_tier():
    upward = []
    for module, path in _source_modules().items():
        own = tier_of(module)
        for name in _imports(module, path):
            if tier_of(name) > own:
                upward.append(f"{module} ({TIER_NAMES[own]}) imports {name} "
                              f"({TIER_NAMES[tier_of(name)]})")
    assert upward == [], "\n".join(upward)


def test_the_tier_check_can_fail(tmp_path):
    assert tier_of("microgradnn.tensor.conv") == 1 and tier_of("microgradnn.engine") == 0
    assert tier_of("microgradnn") == 2 and tier_of("viz.graph.dot") == 3
    bad = tmp_path / "engine.py"
    bad.write_text("from .tensor import Tensor\ndef f():\n    import viz.graph\n")
    assert [tier_of(n) for n in _imports("microgradnn.engine", bad)] == [1, 3]
    with pytest.raises(KeyError, match="has no tier"):
        tier_of("somewhere.else")
