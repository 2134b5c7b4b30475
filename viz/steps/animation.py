"""The backprop walk-through as an animated GIF (matplotlib + Pillow) and SVG frames.

The layout comes from one ``dot`` run on the same DOT the HTML stepper uses; every
frame draws from those fixed positions, so nothing moves between frames. Artists
are made once and only restyled per frame (texts and colours), like the HTML page.
No ffmpeg: frames are rasterised by matplotlib's Agg and assembled by Pillow.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from microgradnn.engine import Value
from microgradnn.fileio import atomic_path

from ..graph.dot import format_value
from ..graph.trace import Parameters, Trace, trace
from ..graph.notation import lecture_names
from .backprop import (Step, final_grads, last_change, node_names, root_name_of,
                       steps_from_trace)
from .layout import DEFAULT_MAX_NODES, Layout, graph_source, layout

__all__ = ["save_animation", "frame_states", "FrameState"]

_CURRENT, _RECEIVING, _PENDING = "#d62728", "#1f77b4", "#b0b0b0"
_PARTIAL_BG, _EDGE = "#fff3b0", "#555555"
_MONO = "DejaVu Sans Mono"
_MAX_CAPTION_LINES = 6
_MIN_TEXT_PX = 12.0  # node text is drawn at least this tall in the GIF's own pixels, or not at all
_NODE_PT = 10.0  # node and edge text at scale 1 (the DOT lays boxes out for 11 pt)
_CAPTION_PT = 11.0
_LINE_PT = _CAPTION_PT * 1.45


def readable_scale(dpi: int) -> float:
    """The smallest drawing scale at which node text is ``_MIN_TEXT_PX`` pixels tall."""
    return _MIN_TEXT_PX * 72.0 / (_NODE_PT * dpi)


def legend_lines(scale: float, detail: bool) -> List[str]:
    """What the colours, dashes and widths of every frame mean."""
    lines = ["red: the node of this step and the edges its gradient goes back through (thick); "
             "blue: the operands receiving gradient",
             "grad fill: yellow while a gradient is still being summed; its final value "
             f"purple < 0 < orange, full at |grad| = {format_value(scale)} (largest apart "
             "from the output's seed, square-root scale)",
             "dashed grey edges: no gradient sent through them yet"]
    if not detail:
        lines.append("boxes only: the graph is too wide for text of "
                     f"{_MIN_TEXT_PX:.0f} px within max_width_px; raise it, or use the stepper page")
    return lines


@dataclass
class FrameState:
    """What frame ``index`` shows: frame 0 is before any step, frame k after step k-1."""

    index: int
    step: Optional[Step]
    known: Set[str]
    grads: Dict[str, float]
    used: Dict[str, float] = field(default_factory=dict)  # edge id -> contribution added
    final: Set[str] = field(default_factory=set)  # nodes whose gradient will not change again


def frame_states(tr: Trace, steps: Sequence[Step]) -> Iterator[FrameState]:
    """Yield ``len(steps) + 1`` states by replaying the steps' recorded numbers."""
    last = last_change(steps)
    has_forward = any(s.kind == "forward" for s in steps)
    known = {n.id for n in tr.nodes if n.is_leaf or not has_forward}
    grads: Dict[str, float] = {}
    used: Dict[str, float] = {}
    yield FrameState(0, None, set(known), {}, {}, set())
    for step in steps:
        if step.kind == "forward":
            known.add(step.node_id)
        elif step.kind == "seed":
            grads[step.node_id] = step.upstream
        for term in step.terms:
            grads[term.operand_id] = term.grad_after
            used[term.edge_id] = term.contribution
        final = {i for i in grads if last.get(i, -1) <= step.index}
        yield FrameState(step.index + 1, step, set(known), dict(grads), dict(used), final)


def _caption_lines(step: Step) -> List[str]:
    lines = step.text.split("\n")
    if len(lines) > _MAX_CAPTION_LINES:
        more = len(lines) - _MAX_CAPTION_LINES + 1
        lines = lines[:_MAX_CAPTION_LINES - 1] + [f"... and {more} more"]
    return lines


def _caption(state: FrameState, total: int, has_forward: bool) -> Tuple[str, str]:
    step = state.step
    if step is None:
        what = ("only the leaves are known; the forward pass comes first" if has_forward else
                "the forward pass has computed every value; backpropagation comes next")
        return (f"0 / {total}  start: {what}",
                "each next frame is one step of backward(): the red node passes its gradient "
                "to its operands (blue)")
    head = {"forward": "forward pass: compute", "seed": "backward pass: start at",
            "backward": "backward pass through"}[step.kind]
    return f"{state.index} / {total}  {head} {step.node_name}", "\n".join(_caption_lines(step))


def _drawn_box(lay: Layout) -> Tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` around every node box, edge point and edge label, 4 pt of margin."""
    xs: List[float] = []
    ys: List[float] = []
    for x, y, w, h in lay.nodes.values():
        xs += [x - w / 2, x + w / 2]
        ys += [y - h / 2, y + h / 2]
    for points in lay.edges.values():
        xs += [p[0] for p in points]
        ys += [p[1] for p in points]
    for x, y in lay.edge_labels.values():
        xs += [x - 40, x + 40]  # a label's half width, about: "grad += -0.0000" at 9 pt
        ys += [y - 12, y + 12]
    if not xs:
        return 0.0, 0.0, lay.width, lay.height
    return min(xs) - 4, min(ys) - 4, max(xs) + 4, max(ys) + 4


class _Scene:
    """The artists of one figure, made once from a ``Layout``; ``show`` restyles them."""

    def __init__(self, tr: Trace, lay: Layout, steps: Sequence[Step], max_width_px: int, dpi: int):
        from ..graph.dot import diverging_colour, max_abs

        self.tr, self.names, self.total = tr, node_names(tr), len(steps)
        self.has_forward = any(step.kind == "forward" for step in steps)
        self.edge_records = {e.id: e for e in tr.edges}
        final = final_grads(steps)
        root = tr.root
        scale = max_abs([g for i, g in final.items() if i != root]) or max_abs(list(final.values()))
        ax = self._figure(lay, steps, scale, max_width_px, dpi)
        self.colour = {i: diverging_colour(g, scale) for i, g in final.items()}
        self.boxes, self.ops, self.edges = {}, {}, {}
        self.data, self.grad, self.contrib = {}, {}, {}
        self._draw_boxes(ax, lay)
        self._draw_ops(ax, lay)
        self._draw_edges(ax, lay)

    def _figure(self, lay: Layout, steps: Sequence[Step], scale: float, max_width_px: int,
                dpi: int) -> Any:
        """The figure: the title and caption band above, the graph's axes, the legend below;
        sets ``detail`` (text readable at this width) and ``scale``. Returns the axes."""
        from matplotlib.figure import Figure

        # The caption band holds exactly the most lines any step shows: no empty band.
        lines = min(max([len(_caption_lines(st)) for st in steps] + [1]), _MAX_CAPTION_LINES)
        # Only the boxes and edges: the DOT's own caption (its legend) is not drawn here,
        # so its place is cut off instead of left as an empty band.
        x0, y0, x1, y1 = _drawn_box(lay)
        width, height = x1 - x0, y1 - y0
        width_in = width / 72.0
        fit = max_width_px / (width_in * dpi)
        readable = readable_scale(dpi)
        # Text too small to read is not drawn: a graph too wide for readable text within
        # max_width_px shows state by box colour alone (and the legend says so).
        self.detail = fit >= readable
        self.scale = s = max(readable, min(1.0, fit)) if self.detail else fit
        legend = legend_lines(scale, self.detail)
        top_pt = 8 + 16 + _LINE_PT * lines + 6  # title, caption lines, gap
        legend_pt = 6 + 0.8 * _LINE_PT * len(legend) + 4
        graph_h = height * s
        total_h = top_pt + graph_h + legend_pt
        self.figure = Figure(figsize=(max(width * s, 480) / 72.0, total_h / 72.0), dpi=dpi)
        self.figure.patch.set_facecolor("white")
        ax = self.figure.add_axes((0.0, legend_pt / total_h, width * s / max(width * s, 480),
                                   graph_h / total_h))
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.axis("off")
        self.title = self.figure.text(0.01, 1 - 8 / total_h, "", va="top", ha="left",
                                      fontsize=_CAPTION_PT + 1, fontweight="bold")
        self.caption = self.figure.text(0.01, 1 - 28 / total_h, "", va="top", ha="left",
                                        fontsize=_CAPTION_PT, family=_MONO, color=_CURRENT,
                                        linespacing=1.25)
        self.figure.text(0.01, (legend_pt - 6) / total_h, "\n".join(legend), va="top",
                         ha="left", fontsize=_CAPTION_PT * 0.8, color="#333333", linespacing=1.3)
        return ax

    def _draw_boxes(self, ax: Any, lay: Layout) -> None:
        """A rounded box per value: its name (when it has one), data and grad texts."""
        from matplotlib.patches import FancyBboxPatch

        tr, s = self.tr, self.scale
        lecture = lecture_names(tr)
        root_name = root_name_of(tr, lecture)
        for node in tr.nodes:
            if node.id not in lay.nodes:  # hidden constant
                continue
            x, y, w, h = lay.nodes[node.id]
            box = FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                 boxstyle="round,pad=0,rounding_size=4",
                                 fc="white", ec="black", lw=1.0 * s)
            ax.add_patch(box)
            self.boxes[node.id] = box
            if not self.detail:
                continue
            # named boxes: labelled ones, the model's (w[1][0,2], z[1][0], a[1][0]) and the output
            named = node.label or node.id in lecture or node.id == tr.root
            rows = [root_name if node.id == tr.root else self.names[node.id]] if named else []
            step_h = h / (len(rows) + 2)
            top = y + h / 2 - step_h / 2
            if rows:
                ax.text(x, top, rows[0][:28], ha="center", va="center", fontsize=_NODE_PT * s,
                        fontweight="bold", clip_on=True)
                top -= step_h
            self.data[node.id] = ax.text(x, top, "", ha="center", va="center",
                                         fontsize=_NODE_PT * s, family=_MONO)
            self.grad[node.id] = ax.text(x, top - step_h, "", ha="center", va="center",
                                         fontsize=_NODE_PT * s, family=_MONO,
                                         bbox=dict(boxstyle="square,pad=0.15", fc="white",
                                                   ec="none"))

    def _draw_ops(self, ax: Any, lay: Layout) -> None:
        """A grey circle per op, its symbol inside."""
        from matplotlib.patches import Circle

        s = self.scale
        for node in self.tr.nodes:
            op_id = f"{node.id}_op"
            if op_id in lay.nodes:
                ox, oy, ow, _ = lay.nodes[op_id]
                circle = Circle((ox, oy), ow / 2, fc="#eeeeee", ec="black", lw=1.0 * s)
                ax.add_patch(circle)
                if self.detail:
                    ax.text(ox, oy, node.op, ha="center", va="center", fontsize=_NODE_PT * s)
                self.ops[node.id] = circle

    def _draw_edges(self, ax: Any, lay: Layout) -> None:
        """The arrows along graphviz's splines, with a text for each gradient contribution."""
        from matplotlib.patches import FancyArrowPatch
        from matplotlib.path import Path

        s = self.scale
        for edge_id, points in lay.edges.items():
            if len(points) < 2:
                continue
            codes = [Path.MOVETO] + [Path.CURVE4] * (3 * ((len(points) - 1) // 3))
            codes += [Path.LINETO] * (len(points) - len(codes))
            arrow = FancyArrowPatch(path=Path(points, codes), arrowstyle="-|>",
                                    mutation_scale=8 * s, lw=1.0 * s, color=_EDGE)
            ax.add_patch(arrow)
            self.edges[edge_id] = arrow
            if edge_id in lay.edge_labels and self.detail:
                lx, ly = lay.edge_labels[edge_id]
                self.contrib[edge_id] = ax.text(lx, ly, "", ha="center", va="center",
                                                fontsize=_NODE_PT * s, family=_MONO)

    def show(self, state: FrameState) -> None:
        """Restyle every artist for ``state``."""
        s, step = max(self.scale, 0.6), state.step  # highlights stay visible on big graphs
        head, text = _caption(state, self.total, self.has_forward)
        self.title.set_text(head)
        self.caption.set_text(text)
        used_now = set(step.edge_ids) if step else set()
        receiving = {t.operand_id for t in step.terms} if step else set()
        if step is not None and step.kind == "forward":
            used_now = {e.id for e in self.tr.edges_into(step.node_id)}
            receiving = set(self.tr.by_id[step.node_id].operand_ids)
        for node_id, box in self.boxes.items():
            current = step is not None and step.node_id == node_id
            known = node_id in state.known
            ring = _CURRENT if current else _RECEIVING if node_id in receiving else "black"
            box.set_edgecolor(ring)
            box.set_linewidth((3.0 if current or node_id in receiving else 1.0) * s)
            box.set_linestyle("-" if known else "--")
            if node_id in self.ops:
                hot = current and step.kind != "seed"
                self.ops[node_id].set_edgecolor(_CURRENT if hot else "black")
                self.ops[node_id].set_linewidth((3.0 if hot else 1.0) * s)
            fill = ("white" if node_id not in state.grads else
                    self.colour.get(node_id, "white") if node_id in state.final else _PARTIAL_BG)
            if not self.detail:
                box.set_facecolor(fill)
                continue
            data = format_value(self.tr.by_id[node_id].data) if known else "?"
            self.data[node_id].set_text(f"data {data}")
            grad = self.grad[node_id]
            if node_id in state.grads:
                grad.set_text(f"grad {format_value(state.grads[node_id])}")
                grad.get_bbox_patch().set_facecolor(fill)
                grad.set_color("black")
            else:
                grad.set_text("grad ?")
                grad.get_bbox_patch().set_facecolor("white")
                grad.set_color(_PENDING)
        out_now = f"{step.node_id}_out" if step is not None and step.kind != "seed" else None
        for edge_id, arrow in self.edges.items():
            hot = edge_id in used_now or edge_id == out_now
            pending = edge_id.startswith("e") and edge_id not in state.used
            arrow.set_color(_CURRENT if hot else _PENDING if pending else _EDGE)
            arrow.set_linewidth((2.5 if hot else 1.0) * s)
            arrow.set_linestyle("--" if pending and not hot else "-")
            if edge_id in self.contrib:
                value = state.used.get(edge_id)
                record = self.edge_records.get(edge_id)
                local = "?" if record is None or record.target not in state.known \
                    else format_value(record.local_grad)
                label = "?" if value is None else format_value(value)
                self.contrib[edge_id].set_text(f"local {local}\ngrad += {label}")
                ink = _CURRENT if hot else _PENDING if pending else "black"
                self.contrib[edge_id].set_color(ink)


def _save_atomic(path: str, write) -> None:
    """Call ``write(temporary_path)``, then move the result over ``path``."""
    with atomic_path(path) as tmp:
        write(str(tmp))


def save_animation(root: Value, path_gif: Optional[str], frames_dir: Optional[str] = None,
                   forward: bool = False, rankdir: str = "LR",
                   parameters: Parameters = None, hide_constants: bool = False,
                   frame_ms: int = 1200, max_width_px: int = 2400, dpi: int = 100,
                   max_nodes: int = DEFAULT_MAX_NODES, progress: bool = True) -> List[str]:
    """Write the walk-through of backprop from ``root`` as a GIF and/or numbered SVG frames.

    One frame before any step, then one per step (``backprop_steps``), the last
    held three times as long. ``path_gif`` may be ``None`` to write only SVG frames
    ``frame_000.svg``, ``frame_001.svg``, ... into ``frames_dir`` (created if needed).
    Returns the paths written (the GIF first). Node text is drawn at least 12 px tall
    in the GIF's own pixels; ``max_width_px`` caps the width, and a graph too wide for
    readable text within it is drawn as boxes only (the legend of every frame says so).
    ``parameters`` (the model, or its parameter Values) marks parameters as in ``draw_graph``.
    """
    if path_gif is None and frames_dir is None:
        raise ValueError("save_animation: give path_gif, frames_dir, or both")
    if path_gif is not None and not path_gif.lower().endswith(".gif"):
        raise ValueError(f"save_animation: the animation is written as GIF; got {path_gif!r}")
    if not isinstance(frame_ms, int) or frame_ms < 20:
        raise ValueError(f"frame_ms must be an integer of at least 20 ms, got {frame_ms!r}")
    from tqdm import tqdm

    tr = trace(root, parameters)
    steps = steps_from_trace(tr, forward=forward)
    lay = layout(graph_source(root, rankdir, parameters, hide_constants, max_nodes))
    scene = _Scene(tr, lay, steps, max_width_px, dpi)
    written: List[str] = []
    digits = max(3, len(str(len(steps))))
    if frames_dir is not None:
        os.makedirs(frames_dir, exist_ok=True)

    def frames() -> Iterator:
        from PIL import Image

        states = frame_states(tr, steps)
        for state in tqdm(states, total=len(steps) + 1, desc="frames", disable=not progress,
                          leave=False):
            scene.show(state)
            if frames_dir is not None:
                svg_path = os.path.join(frames_dir, f"frame_{state.index:0{digits}d}.svg")
                _save_atomic(svg_path, lambda tmp: scene.figure.savefig(tmp, format="svg"))
                written.append(svg_path)
            if path_gif is not None:
                buffer = io.BytesIO()
                scene.figure.savefig(buffer, format="png", dpi=dpi)
                buffer.seek(0)
                with Image.open(buffer) as image:
                    yield image.convert("RGB").quantize(colors=64, method=Image.Quantize.FASTOCTREE)

    if path_gif is None:
        for _ in frames():
            pass
        return written
    durations = [frame_ms] * len(steps) + [frame_ms * 3]

    def write_gif(tmp: str) -> None:
        stream = frames()
        first = next(stream)
        first.save(tmp, format="GIF", save_all=True, append_images=stream, duration=durations,
                   loop=0, optimize=False, disposal=1)

    _save_atomic(path_gif, write_gif)
    return [path_gif] + written
