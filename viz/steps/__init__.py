"""Backpropagation one chain-rule step at a time: the steps, an HTML page, an animation.

``backprop_steps`` lists what the backward pass does at each node; ``stepper`` builds
(and ``save_stepper`` writes) one offline page that plays them over the graph's SVG; ``save_animation``
writes the same steps as a GIF and SVG frames (matplotlib, imported when called);
``step_digit`` steps one image through a trained MLP under the model's own cost.
"""

from .animation import save_animation
from .backprop import Step, Term, backprop_steps, format_walkthrough
from .page import Stepper, save_stepper, stepper
from .digit import step_digit

__all__ = ["backprop_steps", "Step", "Term", "format_walkthrough", "save_stepper",
           "save_animation", "stepper", "Stepper", "step_digit"]
