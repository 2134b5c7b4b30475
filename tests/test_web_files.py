"""The pages' web code lives in web files: checked by ``node --check``, none left in Python.

Every ``.js`` file under ``viz/**/web/`` must parse (``node --check``); no Python file of the
package holds page code (the marks of a script or a style sheet in a string); the wheel
ships the web files, so a page can be built from an installed (not editable) package.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("microgradnn", "viz")
WEB_FILES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("web/*")
                   if p.suffix in (".js", ".css", ".html"))
JS_FILES = [p for p in WEB_FILES if p.suffix == ".js"]
# What only page code contains: DOM calls, functions, CSS declarations, HTML elements.
PAGE_CODE = re.compile(r"addEventListener|getElementById|querySelector|function\s*\(|=>|"
                       r"<!DOCTYPE|<script\b|<style\b|<div\b|\{[^{}]*:[^{}]*;")


def test_there_are_web_files():
    names = {p.relative_to(ROOT).as_posix() for p in WEB_FILES}
    assert {"viz/web/head.html", "viz/steps/web/page.js",
            "viz/explainer/web/main.js"} <= names


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("path", JS_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_javascript_parses(path):
    result = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_node_check_can_fail(tmp_path):
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    bad = tmp_path / "bad.js"
    bad.write_text("function (", encoding="utf-8")
    assert subprocess.run(["node", "--check", str(bad)], capture_output=True).returncode != 0


def _code_strings(source: str):
    """(line, text) of every string constant of three or more lines that is not a docstring."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings and node.value.count("\n") >= 2):
            yield node.lineno, node.value


def test_no_page_code_in_python_files():
    offenders = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            for line, text in _code_strings(path.read_text(encoding="utf-8")):
                match = PAGE_CODE.search(text)
                if match:
                    offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)!r}")
    assert not offenders, "page code in Python strings:\n" + "\n".join(offenders)


def test_the_page_code_check_can_fail():
    source = 'X = """\nconst a = 1;\ndocument.getElementById("a").addEventListener("x", f);\n"""\n'
    assert [PAGE_CODE.search(text) is not None for _, text in _code_strings(source)] == [True]


@pytest.mark.slow
def test_the_wheel_ships_the_web_files(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "-q", "-w", str(tmp_path), str(ROOT)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {result.stderr.strip()[-200:]}")
    (wheel,) = tmp_path.glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    missing = [p.relative_to(ROOT).as_posix() for p in WEB_FILES
               if p.relative_to(ROOT).as_posix() not in shipped]
    assert not missing, f"not in the wheel: {missing}"
