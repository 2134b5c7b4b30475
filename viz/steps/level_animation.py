"""The neuron-level backward pass as an animated GIF, one frame per neuron step.

Each frame is the neuron-level picture (``level_page.level_source``: one box per neuron,
the input and the cost) laid out by ``dot``, the box of the step's neuron filled, every
box's grad cell showing ``∂C/∂a`` as far as the pass has gone, and under it the step's
caption (the chain rule with its numbers) and the legend.
"""

from __future__ import annotations

import io
from typing import Dict, List, Optional, Sequence

from microgradnn.engine import Value
from microgradnn.fileio import atomic_path

from ..graph.dot import escape_html
from ..graph.trace import Parameters, trace
from .backprop import steps_from_trace
from .level_page import _label, level_source
from .levels import LevelStep, NeuronLevel, neuron_steps

__all__ = ["save_level_animation"]

_FILL = "#fdb863"  # the step's box: the stepper page's highlight colour
_MAX_CAPTION_LINES = 6
LEGEND = ("Orange: this step's box. Each box: data = its output a[l][j] (z[l][j] without an "
          "activation), grad = ∂C/∂ of it, summed so far ('?' until the pass reaches it).")


def _caption(title: str, step: LevelStep, total: int) -> str:
    """The frame's text as a graphviz HTML label: the title, the step, its chain rule, the
    legend (every user string escaped)."""
    rows = [f"step {step.index + 1} of {total}: {step.name}"]
    rows += step.text.split("\n")[:_MAX_CAPTION_LINES] + [LEGEND]
    return (f"<<B>{escape_html(title)}</B>"
            + "".join(f'<BR ALIGN="LEFT"/>{escape_html(row)}' for row in rows)
            + '<BR ALIGN="LEFT"/>>')


def _frame(level: NeuronLevel, index: int, grads: Dict[str, str], title: str, rankdir: str,
           output_names: Optional[Sequence[str]]) -> bytes:
    step = level.steps[index]
    g = level_source(level, rankdir, output_names)
    last = max(u.layer for u in level.units if u.kind == "neuron")
    names = {u.id: str(output_names[u.index]) for u in level.units
             if output_names and u.kind == "neuron" and u.layer == last}
    for unit in level.units:
        label = _label(unit, grads.get(unit.id, "?"), names.get(unit.id, ""))
        if unit.id == step.unit:
            label = label.replace('<TABLE BORDER="1"', f'<TABLE BORDER="2" BGCOLOR="{_FILL}"', 1)
        g.node(unit.id, label=label)
    g.attr(label=_caption(title, step, len(level.steps)), labelloc="b", labeljust="l",
           fontsize="12")
    return g.pipe(format="png")


def save_level_animation(root: Value, path_gif: str, parameters: Parameters,
                         title: str = "Backpropagation, one neuron at a time",
                         output_names: Optional[Sequence[str]] = None, rankdir: str = "LR",
                         frame_ms: int = 1500, progress: bool = True) -> str:
    """Write the backward pass from ``root`` (one sample through ``parameters``, a model)
    as a GIF, one frame per neuron-level step (``viz.steps.levels``); return the path."""
    if not path_gif.lower().endswith(".gif"):
        raise ValueError(f"save_level_animation: the animation is written as GIF; got "
                         f"{path_gif!r}")
    from PIL import Image
    from tqdm import tqdm

    tr = trace(root, parameters)
    level = neuron_steps(tr, steps_from_trace(tr))
    grads: Dict[str, str] = {}
    images: List[Image.Image] = []
    for step in tqdm(level.steps, desc="frames", disable=not progress, leave=False):
        if step.kind == "seed":
            grads[step.unit] = step.upstream
        for row in step.rows:
            if row.unit:
                grads[row.unit] = row.after
        png = _frame(level, step.index, grads, title, rankdir, output_names)
        with Image.open(io.BytesIO(png)) as image:
            images.append(image.convert("RGB"))
    width = max(i.width for i in images)
    height = max(i.height for i in images)
    frames = []
    for image in images:  # one size for every frame: white margins where a caption is short
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(image, (0, 0))
        frames.append(canvas.quantize(colors=64, method=Image.Quantize.FASTOCTREE))
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * 3]
    with atomic_path(path_gif) as tmp:
        frames[0].save(str(tmp), format="GIF", save_all=True, append_images=frames[1:],
                       duration=durations, loop=0, optimize=False, disposal=1)
    return path_gif
