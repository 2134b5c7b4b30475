"""MkDocs hooks of the documentation site (``mkdocs.yml``, ``make docs``).

At build time, so that nothing here can drift from the code:

- the notebooks of ``examples/notebooks/`` become the pages ``notebooks/NAME.ipynb``
  (rendered by mkdocs-jupyter with their stored outputs, never run), each in the navigation
  under its own first heading, so a new notebook needs no edit here;
- ``api/microgradnn.md``, ``api/tensor.md`` and ``api/viz.md`` list every name of the
  module's ``__all__``, each rendered by mkdocstrings from its docstring;
- ``cli.md`` walks the argparse parser of ``microgradnn.cli.build_parser`` (every command,
  its usage and its options with their help and defaults);
- the gallery must show every picture committed under ``docs/``: one it misses fails the build;
- no page may load anything from the network: a script, style sheet, image or frame with an
  http(s) address fails the build. The notebook pages lose the two loaders nbconvert's
  template adds (MathJax with an empty address, mermaid from a CDN when a diagram is present;
  the notebooks have neither).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import re
from pathlib import Path
from typing import Iterator, List, Tuple

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "examples" / "notebooks"
PICTURE_SUFFIXES = (".png", ".svg", ".gif")
REMOTE = re.compile(r"<(?:script|link|img|iframe|source|video|audio|embed)\b[^>]*?"
                    r"\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^>]*>", re.I)
NOTEBOOK_LOADERS = (
    re.compile(r"<script src=\"\">\s*</script>"),
    re.compile(r"<script type=\"module\">(?:(?!</script>).)*?mermaid(?:(?!</script>).)*</script>", re.S),
)
# page of the reference -> (module, what the page says about it)
API_PAGES = {
    "api/microgradnn.md": ("microgradnn", "The scalar engine: `Value`, gradient checks and "
                           "checkpoint loading. The modules under it (`microgradnn.nn`, "
                           "`losses`, `optim`, `datasets`, ...) are shown where the names of "
                           "this page lead."),
    "api/tensor.md": ("microgradnn.tensor", "The vectorized path: `Tensor` over numpy arrays, "
                      "its functions and PyTorch-named layers. Shapes are PyTorch's: a batch "
                      "of N images is (N, C, H, W)."),
    "api/viz.md": ("viz", "The pictures: graphs of the engine's records, the backprop stepper, "
                   "matplotlib figures, descent paths and the explain page. Every name is "
                   "importable from `viz`; each part loads on first use."),
}


def public_names(module_name: str) -> Iterator[Tuple[str, object]]:
    """``(name, object)`` for every name of the module's ``__all__``, in its order."""
    module = importlib.import_module(module_name)
    for name in module.__all__:
        yield name, getattr(module, name)


def definition_path(obj: object) -> str:
    """Where ``obj`` is defined (``package.module.Class``): what mkdocstrings renders."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not (inspect.isclass(obj) or inspect.isfunction(obj)) or not module or not qualname:
        return ""
    return f"{module}.{qualname}"


def summary(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0].replace("|", "\\|") if doc.strip() else ""


def api_page(module_name: str, intro: str) -> str:
    """The reference page of one module: a table of its public names, then one entry each."""
    names = list(public_names(module_name))
    lines = [f"# `{module_name}`", "", intro, "",
             "Generated at build time from `__all__` and the docstrings "
             "(`docs/site_hooks.py`).", "", "| name | what it is |", "|---|---|"]
    entries: List[str] = []
    for name, obj in names:
        path = definition_path(obj)
        if path:
            anchor = path
            entries += [f"::: {path}", "    options:", f"      heading: \"{name}\"", ""]
        else:  # a plain value such as __version__
            anchor = f"{module_name}-{name.strip('_')}".replace(".", "-")
            entries += [f"## `{name}` {{#{anchor}}}", "",
                        f"`{module_name}.{name} = {obj!r}`", ""]
        lines.append(f"| [`{name}`](#{anchor}) | {summary(obj) if path else 'a value'} |")
    return "\n".join(lines + [""] + entries)


def plain(text: str) -> str:
    """Help text shown as written: Markdown's special characters escaped, on one line."""
    text = " ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;")
    return re.sub(r"([\\`*_\[\]>|#])", r"\\\1", text)


def _commands(parser: argparse.ArgumentParser, prefix: str) -> Iterator[Tuple[str, str, argparse.ArgumentParser]]:
    """``(command line, one-line help, parser)`` for the parser and every sub-command under it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", helps.get(name, ""), sub
                yield from _commands(sub, f"{prefix} {name}")


def _option_rows(parser: argparse.ArgumentParser) -> List[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        names = ", ".join(action.option_strings) or action.metavar or action.dest
        if action.option_strings and action.nargs != 0:
            names += f" {action.metavar or action.dest.upper()}"
        text = plain((action.help or "").replace("%(default)s", str(action.default))
                     .replace("%%", "%"))
        if action.choices and not isinstance(action.choices, dict):
            text += f" (one of: {', '.join(f'`{c}`' for c in action.choices)})"
        if action.option_strings and action.default not in (None, False, [], argparse.SUPPRESS) \
                and "default" not in text:
            text += f" (default: `{action.default}`)"
        names = names.replace("|", "\\|")
        rows.append(f"| `{names}` | {text} |")
    return rows


def cli_page() -> str:
    """The command line reference, walked from the parser itself."""
    from microgradnn.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps the usage lines to this width
    parser = build_parser()
    lines = ["# The command line", "",
             "Generated at build time from the parser of `microgradnn/cli.py` "
             "(`docs/site_hooks.py` walks it), so it says what `microgradnn --help` says.", "",
             plain(parser.description or ""), "", "```text", parser.format_usage().strip(), "```", "",
             "| command | what it does |", "|---|---|"]
    commands = list(_commands(parser, "microgradnn"))
    for line, text, _ in commands:
        lines.append(f"| [`{line}`](#{line.replace(' ', '-')}) | {plain(text)} |")
    for line, text, sub in commands:
        lines += ["", f"## `{line}` {{#{line.replace(' ', '-')}}}", "", plain(text) + ".", ""]
        if sub.description and sub.description != text:
            lines += [plain(sub.description), ""]
        lines += ["```text", sub.format_usage().strip(), "```", "",
                  "| argument | meaning |", "|---|---|", *_option_rows(sub)]
        if sub.epilog:
            lines += ["", "```text", sub.epilog.strip(), "```"]
    return "\n".join(lines) + "\n"


def notebook_title(path: Path) -> str:
    """The notebook's first Markdown heading, without its ``#``."""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


def on_config(config):
    """The navigation's "Notebooks" section: its index, then every notebook in name order."""
    for section in config["nav"]:
        if isinstance(section, dict) and "Notebooks" in section:
            section["Notebooks"] = ["notebooks/index.md"] + [
                {notebook_title(path): f"notebooks/{path.name}"}
                for path in sorted(NOTEBOOKS.glob("*.ipynb"))]
            return config
    raise PluginError("mkdocs.yml's nav has no Notebooks section")


@event_priority(100)  # before mkdocs-jupyter turns every .ipynb file into a page
def on_files(files: Files, config) -> Files:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        files.append(File(f"notebooks/{path.name}", src_dir=str(NOTEBOOKS.parent),
                          dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    for uri, (module, intro) in API_PAGES.items():
        files.append(File.generated(config, uri, content=api_page(module, intro)))
    files.append(File.generated(config, "cli.md", content=cli_page()))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri == "gallery.md":
        docs = Path(config["docs_dir"])
        pictures = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*")
                          if p.suffix in PICTURE_SUFFIXES)
        missing = [p for p in pictures if f"({p})" not in markdown]
        if missing:
            raise PluginError(f"docs/gallery.md does not show these pictures of docs/: "
                              f"{', '.join(missing)} (add each with the call that made it)")
    return markdown


def on_post_page(output: str, page, config) -> str:
    if page.file.src_uri.endswith(".ipynb"):
        for loader in NOTEBOOK_LOADERS:
            output = loader.sub("", output)
    remote = REMOTE.search(output)
    if remote:
        raise PluginError(f"{page.file.src_uri} loads from the network: {remote.group(0)[:200]}")
    return output
