"""The web files every self-contained page of ``viz`` is made of, read from the package.

A page's HTML, CSS and JavaScript live in ``web/`` folders beside the Python that fills them
(``viz/web/head.html``, ``viz/steps/web/``, ``viz/explainer/web/``), shipped as package data
and read with ``importlib.resources``, so editors, linters and ``node --check`` see them.

The head's Content-Security-Policy allows no request at all: styles and scripts inline,
images as ``data:`` URLs only, so a page works offline and a hostile string cannot load
anything.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

__all__ = ["document_head", "read_web_file"]


@lru_cache(maxsize=None)
def read_web_file(package: str, name: str) -> str:
    """The text of ``web/<name>`` inside ``package`` (e.g. ``"viz.steps"``, ``"page.js"``)."""
    return resources.files(package).joinpath("web").joinpath(name).read_text(encoding="utf-8")


def document_head(title: str, css: str) -> str:
    """``<!DOCTYPE html>`` up to and including ``<body>``; ``title`` and ``css`` are placed
    verbatim (the pages pass placeholders that they replace, escaped, later)."""
    head = read_web_file("viz", "head.html")
    return head.replace("<!--TITLE-->", title, 1).replace("/*CSS*/", css, 1)
