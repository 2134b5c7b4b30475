"""Matplotlib pictures of what a network learned: curves, boundaries, confusions, images.

Every function takes plain numbers (lists or numpy arrays, so the scalar engine and the
tensor path both fit) and returns a ``matplotlib.figure.Figure``; ``save_figure`` writes
it as PNG or SVG.
"""

from .boundary import CLASS_COLORS, mlp_predict_fn, plot_decision_boundary
from .common import save_figure
from .confusion import confusion_matrix, plot_confusion_matrix
from .history import plot_history
from .images import (plot_conv_filters, plot_feature_maps, plot_images, plot_misclassified,
                     plot_weight_images)
from .training import mean_abs_grad_per_layer, plot_activation_histograms, plot_gradient_flow

__all__ = ["save_figure", "plot_history", "plot_decision_boundary", "mlp_predict_fn",
           "confusion_matrix", "plot_confusion_matrix", "plot_weight_images",
           "plot_conv_filters", "plot_feature_maps", "plot_misclassified", "plot_images",
           "plot_gradient_flow", "plot_activation_histograms", "mean_abs_grad_per_layer",
           "CLASS_COLORS"]
