"""Pictures of microgradnn graphs and networks (graphviz and matplotlib).

``viz`` imports ``microgradnn``; ``microgradnn`` never imports ``viz``.
"""

from .trace import EdgeRecord, NodeRecord, Trace, trace

__all__ = ["trace", "Trace", "NodeRecord", "EdgeRecord"]
from .plots import (confusion_matrix, mean_abs_grad_per_layer, mlp_predict_fn,
                    plot_activation_histograms, plot_confusion_matrix, plot_conv_filters,
                    plot_decision_boundary, plot_feature_maps, plot_gradient_flow, plot_history,
                    plot_images, plot_misclassified, plot_weight_images, save_figure)

__all__ += ["save_figure", "plot_history", "plot_decision_boundary", "mlp_predict_fn",
            "confusion_matrix", "plot_confusion_matrix", "plot_weight_images",
            "plot_conv_filters", "plot_feature_maps", "plot_misclassified",
            "plot_gradient_flow", "plot_activation_histograms", "mean_abs_grad_per_layer",
            "plot_images"]
from .dot import GraphvizNotFoundError
from .graph import LargeGraphWarning, draw_graph

__all__ += ["draw_graph", "LargeGraphWarning", "GraphvizNotFoundError"]
from .backprop import Step, Term, backprop_steps, format_walkthrough
from .stepper_html import save_stepper
from .animation import save_animation

__all__ += ["backprop_steps", "Step", "Term", "format_walkthrough", "save_stepper",
            "save_animation"]
from .network import draw_network

__all__ += ["draw_network"]
from .architecture import draw_architecture  # noqa: E402

__all__ += ["draw_architecture"]
