"""``explain(model, image, label)``: the explain page as an object that saves and shows itself.

The page is one HTML file with no network access (a Content-Security-Policy forbids it):
the numbers of ``viz.explainer.data.explain_data`` as JSON in
``<script type="application/json" id="microgradnn-data">``, and a script that draws
everything from that JSON. In Jupyter the page shows in an isolated ``<iframe srcdoc>``.
"""

from __future__ import annotations

import html
import os
import re
from typing import Any, Dict, Optional, Tuple, Union

from microgradnn.costs import cost_of
from microgradnn.fileio import write_atomic

from ..html import read_web_file
from .assets import PAGE_CSS, PAGE_JS, PAGE_TEMPLATE
from .data import explain_data
from .jsonout import page_json

__all__ = ["explain", "ExplainPage", "page_html", "architecture_svg", "checkpoint_loss"]

PathLike = Union[str, "os.PathLike[str]"]
_PLACEHOLDER = re.compile(r"(/\*EXPLAIN_\w+\*/|<!--EXPLAIN_\w+-->)")


class ExplainPage:
    """One explain page: ``.html`` (the whole file), ``.data`` (its numbers), ``.save(path)``.

    In Jupyter it displays itself (``_repr_html_``) inside a sandboxed iframe.
    """

    def __init__(self, page: str, data: Dict[str, Any], title: str) -> None:
        self.html = page
        self.data = data
        self.title = title

    def save(self, path: PathLike) -> str:
        """Write the page to ``path`` atomically (a reader never sees half a file)."""
        write_atomic(path, self.html)
        return str(path)

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" sandbox="allow-scripts" '
                f'title="{html.escape(self.title, quote=True)}" '
                f'style="width: 100%; height: 960px; border: 1px solid #ddd;"></iframe>')

    def __repr__(self) -> str:
        return f"ExplainPage({self.title!r}, {len(self.html.encode('utf-8'))} bytes)"


def page_html(data: Dict[str, Any], title: str, practice: bool = False) -> str:
    """The page for ``data`` (from ``explain_data``) with ``title``, as a string.
    ``practice=True`` adds the exercises (``web/practice.js``, which reads the same JSON)."""
    css, js = PAGE_CSS, PAGE_JS
    if practice:
        from ..steps.practice import judge_settings

        data = {**data, "practice": {"judge": judge_settings()}}
        css += read_web_file(__package__, "practice.css")
        js += read_web_file("viz", "judge.js") + read_web_file(__package__, "practice.js")
    values = {"<!--EXPLAIN_TITLE-->": html.escape(title), "/*EXPLAIN_CSS*/": css,
              "/*EXPLAIN_DATA*/": page_json(data), "/*EXPLAIN_JS*/": js}
    # One pass over the template: text put in for one placeholder is never searched again.
    parts = _PLACEHOLDER.split(PAGE_TEMPLATE)
    return "".join(values[p] if i % 2 else p for i, p in enumerate(parts))


def checkpoint_loss(saved: Any) -> str:
    """The name of the cost a checkpoint's model was trained with (``costs.cost_of``: its
    spec's "loss", which loading fills in from ``fit``'s metadata for older files)."""
    return cost_of(saved).name


def _unpack(model: Any, loss: Optional[str]) -> Tuple[Any, str, Optional[str]]:
    """A ``Checkpoint`` gives its model, the loss it was trained with and its name."""
    from microgradnn.checkpoint import Checkpoint
    from microgradnn.models import describe

    if isinstance(model, Checkpoint):
        trained = checkpoint_loss(model)
        try:
            name: Optional[str] = describe(model.spec)
        except (ValueError, TypeError):  # a family this version cannot name: list the layers
            name = None
        return model.model, loss or trained, name
    return model, loss or "cross-entropy", None


def architecture_svg(model: Any, input_shape: Any) -> Optional[str]:
    """``viz.graph.draw_architecture`` of ``model`` as SVG text (each top-level layer's node
    or block's box with the id ``arch_<position>``), or None where graphviz is missing."""
    from ..graph import GraphvizNotFoundError
    from ..graph.architecture import draw_architecture

    try:
        picture = draw_architecture(model, (1, *input_shape), fold=False, rankdir="LR")
        return picture.pipe(format="svg").decode("utf-8")
    except GraphvizNotFoundError:
        return None


def explain(model: Any, image: Any, label: Optional[int] = None, *, loss: Optional[str] = None,
            batch: Optional[Tuple[Any, Any]] = None, title: Optional[str] = None,
            image_name: Optional[str] = None, batch_name: str = "",
            practice: bool = False) -> ExplainPage:
    """The explain page of ``model`` for one 28x28 ``image``: forward and backward.

    ``model``: a ``microgradnn.tensor.Sequential`` (an MLP or a CNN of the layers in
    ``SUPPORTED_LAYERS``: every CNN family's, residual and inception blocks included;
    a CNN's page also shows its architecture diagram), a scalar ``nn.MLP``,
    or a ``Checkpoint`` from ``microgradnn.checkpoint.load_checkpoint`` (which also says
    the loss it was trained with). ``image``: uint8 pixels (28, 28) as MNIST stores them,
    or floats in [0, 1]. ``label``: the digit the cost compares with (default: the
    prediction). ``loss``: "cross-entropy" or "mse" (default: the checkpoint's, else
    cross-entropy). ``batch``: ``(images uint8 (n, 28, 28), labels)`` whose mean gradient
    the page shows beside this example's. ``practice=True`` adds exercises: the learner
    computes ``δ[L]``, one entry of ``δ[l]``, one ``∂C/∂w[l][j,k]`` and one
    ``∂C/∂b[l][j]`` from the numbers shown, checked against the page's own. Any other layer is refused with a
    ``UnsupportedModelError`` naming it.
    """
    net, loss_name, name = _unpack(model, loss)
    image_name = image_name if image_name is not None else "an image"
    data = explain_data(net, image, label, loss=loss_name, batch=batch, model_title=name,
                        image_name=image_name, batch_name=batch_name)
    page_title = title if title is not None else f"{data['model']} on {image_name}"
    data["title"] = page_title
    if data["kind"] == "cnn":
        data["architecture"] = architecture_svg(net, data["layers"][0]["shape"])
    return ExplainPage(page_html(data, page_title, practice), data, page_title)
