"""Pictures of microgradnn graphs and networks (graphviz and matplotlib).

Three parts: ``viz.graph`` (graphviz pictures of a computation graph or a network),
``viz.stepper`` (the backward pass one step at a time: HTML page, animation) and
``viz.plots`` (matplotlib figures of training). Every public name is re-exported here.

Layers: ``viz`` imports the library (``microgradnn`` minus its CLI), which never imports
``viz``; the CLI (``microgradnn.cli``, ``microgradnn.commands``) is the application layer and
imports ``viz`` inside its handlers. ``import viz`` does not load matplotlib: the first plot
function called does (``tests/test_layering.py`` checks all three).
"""

from .graph import (EdgeRecord, GraphvizNotFoundError, LargeGraphWarning, NodeRecord, Trace,
                    draw_graph, draw_network, trace)
from .plots import (confusion_matrix, mean_abs_grad_per_layer, mlp_predict_fn,
                    plot_activation_histograms, plot_confusion_matrix, plot_conv_filters,
                    plot_decision_boundary, plot_feature_maps, plot_gradient_flow, plot_history,
                    plot_images, plot_misclassified, plot_weight_images, save_figure)
from .stepper import (Step, Term, backprop_steps, format_walkthrough, save_animation,
                      save_stepper)

__all__ = ["trace", "Trace", "NodeRecord", "EdgeRecord",
           "save_figure", "plot_history", "plot_decision_boundary", "mlp_predict_fn",
           "confusion_matrix", "plot_confusion_matrix", "plot_weight_images",
           "plot_conv_filters", "plot_feature_maps", "plot_misclassified",
           "plot_gradient_flow", "plot_activation_histograms", "mean_abs_grad_per_layer",
           "plot_images",
           "draw_graph", "LargeGraphWarning", "GraphvizNotFoundError",
           "backprop_steps", "Step", "Term", "format_walkthrough", "save_stepper",
           "save_animation",
           "draw_network"]
