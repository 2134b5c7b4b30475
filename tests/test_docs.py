"""The documentation site (``make docs``, ``mkdocs.yml``, ``docs/site_hooks.py``).

The build runs once per session into a temporary folder: strict (a warning or a broken link
fails it), offline (no page may load a script, style sheet, image or frame from the network).
Its reference pages must hold every public name with its docstring and every command and
option of the parser; a few pages are opened in chromium from disk, search included.
Without the docs extra the build tests skip, except in CI, which installs it.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MODULES = {"microgradnn": "api/microgradnn.html", "microgradnn.tensor": "api/tensor.html",
           "viz": "api/viz.html"}
DOCS_PACKAGES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python",
                 "mkdocs_jupyter")
REMOTE = re.compile(r"<(script|link|img|iframe|source|embed)\b[^>]*\b(src|href)=[\"']?(https?:)?//", re.I)


def public_objects():
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            yield module_name, name, getattr(module, name)


def documented(obj) -> bool:
    """A class or function with a docstring of its own (not one inherited from a base)."""
    if inspect.isclass(obj):
        return bool((obj.__dict__.get("__doc__") or "").strip())
    return bool((getattr(obj, "__doc__", None) or "").strip())


def test_every_public_name_has_its_own_docstring():
    missing = [f"{module}.{name}" for module, name, obj in public_objects()
               if (inspect.isclass(obj) or callable(obj)) and not documented(obj)]
    assert not missing, f"public names without a docstring: {missing}"


def test_the_gallery_shows_every_picture_of_docs():
    gallery = (DOCS / "gallery.md").read_text(encoding="utf-8")
    pictures = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*")
                if p.suffix in (".png", ".svg", ".gif")]
    assert len(pictures) >= 20
    missing = [p for p in pictures if f"({p})" not in gallery]
    assert missing == [], f"add to docs/gallery.md, each with the call that made it: {missing}"


def test_the_course_pictures_are_the_ones_its_script_makes():
    sys.path.insert(0, str(DOCS))
    try:
        course_pictures = importlib.import_module("course_pictures")
    finally:
        sys.path.remove(str(DOCS))
    made = {f"{example}_{name}" for example, names in course_pictures.PICTURES.items()
            for name in names}
    assert made == {p.name for p in (DOCS / "course" / "pictures").iterdir()}
    for example in course_pictures.PICTURES:
        assert (ROOT / "examples" / f"{example}.py").is_file(), example


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site built once, strict, into a temporary folder; its build log beside it."""
    absent = [name for name in DOCS_PACKAGES if importlib.util.find_spec(name) is None]
    if absent:
        reason = (f"the docs extra is not installed ({', '.join(absent)} missing): "
                  f"pip install -e '.[docs]', or make docs")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               NO_MKDOCS_2_WARNING="1")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean",
                             "--site-dir", str(out)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600)
    (out.parent / "build.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return out


@pytest.mark.slow
def test_the_site_builds_without_a_warning(site):
    log = (site.parent / "build.log").read_text(encoding="utf-8")
    assert not re.search(r"^(WARNING|ERROR)\b", log, re.M), log[-3000:]
    for page in ("index.html", "course/01_value.html", "concepts/notation.html",
                 "notebooks/03_mnist_classic.html", "cli.html", "gallery.html",
                 "search/search_index.js"):
        assert (site / page).is_file(), page


@pytest.mark.slow
def test_no_page_loads_anything_from_the_network(site):
    pages = list(site.rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        found = REMOTE.search(page.read_text(encoding="utf-8"))
        assert not found, f"{page.relative_to(site)}: {found.group(0)}"


@pytest.mark.slow
def test_every_public_name_has_an_entry_with_its_docstring(site):
    pages = {module: (site / page).read_text(encoding="utf-8") for module, page in MODULES.items()}
    for module, name, obj in public_objects():
        page = pages[module]
        if inspect.isclass(obj) or inspect.isfunction(obj):
            anchor = f'id="{obj.__module__}.{obj.__qualname__}"'
            assert anchor in page, f"{module}.{name}: no entry ({anchor})"
            entry = page[page.index(anchor):]
            first = inspect.getdoc(obj).strip().splitlines()[0]
            words = re.findall(r"[A-Za-z]{4,}", first)[:3]
            assert all(word in entry[:20000] for word in words), f"{module}.{name}: {first!r}"
        else:
            assert f"<code>{name}</code>" in page, f"{module}.{name}: no entry"


def _commands(parser, prefix="microgradnn"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _commands(sub, f"{prefix} {name}")


@pytest.mark.slow
def test_the_command_line_reference_holds_every_command_and_option(site):
    from microgradnn.cli import build_parser

    page = (site / "cli.html").read_text(encoding="utf-8")
    commands = list(_commands(build_parser()))
    assert len(commands) >= 10
    for line, sub in commands:
        assert f"<code>{line}</code>" in page, line
        for action in sub._actions:
            for option in action.option_strings:
                assert option in page, f"{line} {option}"


@pytest.mark.slow
@pytest.mark.browser
def test_pages_open_from_disk_with_no_network_and_no_console_error(site, open_page):
    for name in ("index.html", "course/02_neuron.html", "concepts/engine.html",
                 "notebooks/01_backprop_by_hand.html", "api/viz.html", "cli.html"):
        page = open_page(site / name, ready="article")
        assert page.title(), name
        images = page.eval_on_selector_all(
            "article img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0)"
                           ".map(i => i.getAttribute('src'))")
        assert images == [], f"{name}: broken pictures {images}"
        assert page.problems == [], f"{name}: {page.problems}"


@pytest.mark.slow
@pytest.mark.browser
def test_search_works_from_disk(site, open_page):
    page = open_page(site / "index.html", ready="article")
    query = "input[data-md-component='search-query']"
    for _ in range(20):  # the index loads in the background: type again until it answers
        page.fill(query, "")
        page.type(query, "descent_path")
        try:
            page.wait_for_selector(".md-search-result__item", timeout=1000)
            break
        except Exception:  # playwright's TimeoutError
            continue
    results = page.inner_text(".md-search-result")
    assert "descent_path" in results
    assert page.problems == [], page.problems
