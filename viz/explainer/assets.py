"""The explain page's HTML template, style sheet and script, read from ``web/``.

The template holds only the page's frame; every picture and number is drawn by the
script (``SCRIPT_FILES`` in ``web/``, joined in order into one script) from the JSON in ``<script type="application/json" id="microgradnn-data">``.
Placeholders (``<!--EXPLAIN_...-->``, ``/*EXPLAIN_...*/``) are replaced exactly once.

The script is vanilla JavaScript, no library, no network. User text (model and image names)
reaches the page through ``textContent`` only. Numbers are shown as
``engine.format_number`` does (4 decimals, scientific notation below 1e-4 and above 1e6)
and are read from the JSON, never recomputed; the only arithmetic there is what the page
writes out for the learner (the products of a weighted sum, the terms of the cost).
"""

from ..html import document_head, read_web_file

__all__ = ["PAGE_TEMPLATE", "PAGE_CSS", "PAGE_JS", "SCRIPT_FILES"]

# common: data, helpers, colours; mlp: the MLP view; steps: the cost and the steps;
# cnn: the CNN view; blocks: batch norm, LRN, global pooling, residual and inception
# blocks, the architecture diagram; main: selection, refresh, start.
SCRIPT_FILES = ("common.js", "mlp.js", "steps.js", "cnn.js", "blocks.js", "main.js")

PAGE_TEMPLATE = (document_head("<!--EXPLAIN_TITLE-->", "/*EXPLAIN_CSS*/")
                 + read_web_file(__package__, "page.html"))
PAGE_CSS = read_web_file(__package__, "page.css")
PAGE_JS = "\n".join(read_web_file(__package__, name) for name in SCRIPT_FILES)
