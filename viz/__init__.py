"""Pictures of microgradnn graphs and networks (graphviz and matplotlib).

Five parts: ``viz.graph`` (graphviz pictures of a computation graph or a network),
``viz.steps`` (the backward pass one step at a time: HTML page, animation), ``viz.plots``
(matplotlib figures: training, descent paths, cost landscapes), ``viz.explainer`` (the
explain page of a trained model on one image) and ``viz.playground`` (``viz.serve``: the
explain page as a local web app over a live model). Every public name is importable from
``viz`` itself; a part is imported the first time one of its names is used, so
``microgradnn graph`` loads only ``viz.graph``.

Layers: ``viz`` imports the library (``microgradnn`` minus its CLI), which never imports
``viz``; the CLI (``microgradnn.cli``, ``microgradnn.commands``) is the application layer and
imports ``viz`` inside its handlers. ``import viz`` does not load matplotlib: the first plot
function called does (``tests/test_layering.py`` checks all three).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, List

# Public name -> the part that defines it.
_PARTS: Dict[str, str] = {
    **dict.fromkeys(["trace", "Trace", "NodeRecord", "EdgeRecord", "draw_graph",
                     "LargeGraphWarning", "GraphvizNotFoundError", "draw_network"], "graph"),
    "draw_architecture": "graph.architecture",
    **dict.fromkeys(["backprop_steps", "Step", "Term", "format_walkthrough", "save_stepper",
                     "save_animation", "stepper", "Stepper"], "steps"),
    **dict.fromkeys(["save_figure", "plot_history", "plot_decision_boundary", "mlp_predict_fn",
                     "confusion_matrix", "plot_confusion_matrix", "plot_weight_images",
                     "plot_conv_filters", "plot_feature_maps", "plot_misclassified",
                     "plot_gradient_flow", "plot_activation_histograms",
                     "mean_abs_grad_per_layer", "plot_images"], "plots"),
    **dict.fromkeys(["descent_path", "plot_descent", "save_descent_animation"], "plots.descent"),
    **dict.fromkeys(["loss_landscape", "plot_landscape", "training_path"], "plots.landscape"),
    "explain": "explainer",
    "serve": "playground.launch",
}

__all__ = list(_PARTS)


def __getattr__(name: str) -> Any:
    """Import the part that defines ``name`` on first use (PEP 562), then cache it here."""
    if name in ("graph", "steps", "plots", "explainer", "playground"):
        return importlib.import_module(f"{__name__}.{name}")
    part = _PARTS.get(name)
    if part is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{part}"), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the same names, for type checkers and editors
    from .graph import (EdgeRecord, GraphvizNotFoundError, LargeGraphWarning, NodeRecord, Trace,
                        draw_graph, draw_network, trace)
    from .graph.architecture import draw_architecture
    from .plots import (confusion_matrix, mean_abs_grad_per_layer, mlp_predict_fn,
                        plot_activation_histograms, plot_confusion_matrix, plot_conv_filters,
                        plot_decision_boundary, plot_feature_maps, plot_gradient_flow,
                        plot_history, plot_images, plot_misclassified, plot_weight_images,
                        save_figure)
    from .explainer import explain
    from .playground.launch import serve
    from .plots.descent import descent_path, plot_descent, save_descent_animation
    from .plots.landscape import loss_landscape, plot_landscape, training_path
    from .steps import (Step, Stepper, Term, backprop_steps, format_walkthrough,
                        save_animation, save_stepper, stepper)
