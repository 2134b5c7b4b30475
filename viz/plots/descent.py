"""Gradient descent you can see: the paths of ``viz.plots.descent_paths`` drawn.

- ``plot_descent(f, paths)``: filled contours (or the 3-D surface) with each path on it;
- ``save_descent_animation(f, paths, "descent.gif")``: one frame a step.

The computing (``descent_path``, ``FUNCTIONS``, ``evaluate``, ``gradient``,
``path_status``) lives in ``viz.plots.descent_paths``, without matplotlib, and is
re-exported here. Pictures evaluate ``f`` on a grid of numbers (numpy arrays when ``f``
accepts them, else one ``Value`` per grid point); they never differentiate anything
themselves. matplotlib is imported inside the drawing functions.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from microgradnn.engine import format_number

from .descent_paths import (FUNCTIONS, MAX_FRAMES, MAX_STEPS, OPTIMIZERS, CostFunction,
                            DescentScene, PathStatus, _as_paths, descent_path, evaluate,
                            get_function, gradient, path_status)

__all__ = ["descent_path", "plot_descent", "save_descent_animation", "CostFunction",
           "FUNCTIONS", "OPTIMIZERS", "get_function", "gradient", "evaluate", "path_status",
           "PathStatus", "MAX_STEPS"]

PathLike = Union[str, "os.PathLike[str]"]
Point = Tuple[float, float]
_Scene = DescentScene


def _levels(z: np.ndarray, count: int = 24) -> np.ndarray:
    """Contour levels at quantiles of the finite values: detail where the surface is."""
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        raise ValueError("the cost is not finite anywhere in the picture")
    levels = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, count)))
    if levels.size < 2:
        levels = np.array([levels[0] - 1.0, levels[0] + 1.0])
    return levels


_POINT_STYLE = {"global minimum": ("*", 15, "#ffffff"), "local minimum": ("*", 12, "#bbbbbb"),
                "saddle point": ("X", 10, "#ffffff")}


# ----------------------------------------------------------------- the pictures

def _draw_contour(fig: Any, ax: Any, scene: _Scene, animated: bool = False
                  ) -> Tuple[Dict[str, Any], Dict[str, Any], Any]:
    """Contours, colour bar, arrows, critical points and the legend; the paths too unless
    ``animated`` (then their lines and balls are made empty, for the frames to fill).
    Returns (lines, balls, legend)."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    X, Y = scene.grid
    levels = _levels(scene.z)
    filled = ax.contourf(X, Y, scene.z, levels=levels, cmap="viridis", extend="neither")
    ax.contour(X, Y, scene.z, levels=levels, colors="k", linewidths=0.3, alpha=0.35)
    bar = fig.colorbar(filled, ax=ax, shrink=0.9)
    bar.set_label("cost C(x, y)")
    bar.ax.yaxis.set_major_formatter(_number_formatter())
    handles: List[Any] = []
    labels = scene.labels()
    lines: Dict[str, Any] = {}
    balls: Dict[str, Any] = {}
    outline = [patheffects.withStroke(linewidth=2.6, foreground="black")]
    for name, status in scene.status.items():
        color = scene.colors[name]
        pts = status.visible
        ax.plot(pts[0, 0], pts[0, 1], "s", color=color, markersize=7, markeredgecolor="black",
                zorder=5)
        if animated:
            pts = pts[:0]
        # a diverged path is dashed and drawn under the others, which it often crosses
        (lines[name],) = ax.plot(pts[:, 0], pts[:, 1], "--o" if status.diverged else "-o",
                                 color=color, markersize=3.2, linewidth=1.6,
                                 markeredgecolor="black", markeredgewidth=0.4,
                                 label=labels[name], zorder=3.5 if status.diverged else 4,
                                 animated=animated)
        end = pts[-1:] if status.left_at is None else pts[:0]
        (balls[name],) = ax.plot(end[:, 0], end[:, 1], "o", color=color, markersize=9,
                                 markeredgecolor="black", zorder=6, animated=animated)
        handles.append(lines[name])
    for start, direction in scene.arrows:
        end = start + scene.arrow_scale * direction
        ax.annotate("", xy=end, xytext=start, zorder=7,
                    arrowprops=dict(arrowstyle="-|>,head_width=0.35,head_length=0.7",
                                    color="white", linewidth=2.0, shrinkA=0, shrinkB=0,
                                    path_effects=outline))
    handles.append(Line2D([], [], color="white", marker=r"$\rightarrow$", markersize=14,
                          linestyle="none", markeredgecolor="black",
                          label="−∇C at the start: steepest descent (length ∝ slope)"))
    _finish_axes(ax, scene, handles, "start (then one dot per step; big dot: end)", False)
    ax.set_title(scene.title)
    legend = ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12),
                       ncol=1, fontsize=8, frameon=True)
    return lines, balls, legend


def _finish_axes(ax: Any, scene: _Scene, handles: List[Any], start_label: str,
                 three_d: bool) -> None:
    """The start's legend entry, the critical points, the picture's box and axis names."""
    from matplotlib.lines import Line2D

    handles.append(Line2D([], [], color="#999999", marker="s", markeredgecolor="black",
                          linestyle="none", label=start_label))
    _draw_points(ax, scene, handles, three_d)
    ax.set_xlim(*scene.box[0])
    ax.set_ylim(*scene.box[1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def _draw_points(ax: Any, scene: _Scene, handles: List[Any], three_d: bool) -> None:
    from matplotlib.lines import Line2D

    if scene.cf is None:
        return
    shown = set()
    for label, (x, y) in scene.cf.points:
        marker, size, face = _POINT_STYLE[label]
        if three_d:
            z = float(evaluate(scene.fn, np.array([x]), np.array([y]))[0])
            ax.plot([x], [y], [z], marker=marker, markersize=size, color=face,
                    markeredgecolor="black", linestyle="none", zorder=8)
        else:
            ax.plot(x, y, marker=marker, markersize=size, color=face, markeredgecolor="black",
                    linestyle="none", zorder=8)
        if label not in shown:
            shown.add(label)
            handles.append(Line2D([], [], marker=marker, markersize=size * 0.8, color=face,
                                  markeredgecolor="black", linestyle="none", label=label))


def _draw_surface(fig: Any, ax: Any, scene: _Scene) -> None:
    X, Y = scene.grid
    Z = scene.z
    surface = ax.plot_surface(X, Y, Z, cmap="viridis", alpha=0.75, linewidth=0,
                              antialiased=False, rcount=60, ccount=60, zorder=1)
    bar = fig.colorbar(surface, ax=ax, shrink=0.6, pad=0.08)
    bar.set_label("cost C(x, y)")
    bar.ax.yaxis.set_major_formatter(_number_formatter())
    labels = scene.labels()
    handles: List[Any] = []
    lift = 0.01 * float(np.nanmax(Z) - np.nanmin(Z))
    for name, status in scene.status.items():
        pts = status.visible
        zs = scene.costs_along(pts) + lift
        (line,) = ax.plot(pts[:, 0], pts[:, 1], zs, "-o", color=scene.colors[name],
                          markersize=2.5, linewidth=1.6, markeredgecolor="black",
                          markeredgewidth=0.3, label=labels[name], zorder=5)
        ax.plot([pts[0, 0]], [pts[0, 1]], [zs[0]], "s", color=scene.colors[name],
                markersize=6, markeredgecolor="black", zorder=6)
        handles.append(line)
    _finish_axes(ax, scene, handles, "start", True)
    ax.set_zlabel("C(x, y)")
    ax.set_title(scene.title + " (surface)")
    ax.view_init(elev=35, azim=-60)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), fontsize=8)


def _draw_curve(ax: Any, scene: _Scene) -> None:
    """One input: the curve C(x), each path's points on it, the slope's sign at the start."""
    from matplotlib.lines import Line2D

    (xs,) = scene.grid
    ax.plot(xs, scene.z, color="#333333", linewidth=1.5, label="C(x)")
    labels = scene.labels()
    handles: List[Any] = [Line2D([], [], color="#333333", label="cost C(x)")]
    for name, status in scene.status.items():
        pts = status.visible
        cs = scene.costs_along(pts)
        (line,) = ax.plot(pts[:, 0], cs, "-o", color=scene.colors[name], markersize=4,
                          linewidth=1.0, markeredgecolor="black", markeredgewidth=0.4,
                          label=labels[name], zorder=4)
        handles.append(line)
    height = float(np.nanmax(scene.z) - np.nanmin(scene.z)) or 1.0
    for start, direction in scene.arrows:
        c0 = float(scene.costs_along(start[None])[0])
        end = start[0] + scene.arrow_scale * direction[0]
        ax.annotate("", xy=(end, c0), xytext=(start[0], c0), zorder=7,
                    arrowprops=dict(arrowstyle="-|>", color="black", linewidth=1.8))
        slope = -direction[0]
        ax.annotate(f"slope {format_number(slope)}: step {'left' if slope > 0 else 'right'}",
                    xy=(start[0], c0 + 0.04 * height), ha="center", fontsize=8)
    handles.append(Line2D([], [], color="black", marker=r"$\rightarrow$", markersize=14,
                          linestyle="none", label="−slope at the start: the way downhill"))
    ax.set_xlim(*scene.box[0])
    ax.set_xlabel("x")
    ax.set_ylabel("C(x)")
    ax.set_title(scene.title)
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14))


def _number_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:.3g}")


SHOWS = ("contour", "surface", "both")


def plot_descent(f: Any, paths: Any, show: str = "contour", *, xlim: Optional[Point] = None,
                 ylim: Optional[Point] = None, resolution: int = 160,
                 title: Optional[str] = None) -> Any:
    """A matplotlib Figure of descent ``paths`` on the cost surface of ``f``.

    ``paths``: a dict name -> array (steps + 1, 2) from ``descent_path`` (or a list of
    arrays, or one). ``show``: "contour" (filled contours with a colour bar, each path a
    line with a dot per step and its final cost in the legend, white arrows for the
    negative gradient at the start), "surface" (the paths on the 3-D surface) or "both".
    A path that leaves the picture is drawn up to its border and the legend says at which
    step (and "diverged" if its cost grew). The picture's box is a built-in function's
    view, ``xlim``/``ylim`` if given, else the region the converging paths cover.
    Paths of one input, shape (steps + 1, 1), are drawn on the curve C(x). ``title``
    replaces the title above the picture (a built-in's name and formula, else "C(x, y)").
    """
    from .common import new_figure

    who = "plot_descent"
    if show not in SHOWS:
        raise ValueError(f"{who}: show must be one of {', '.join(SHOWS)}, got {show!r}")
    scene = _Scene(f, paths, xlim, ylim, resolution, who)
    if title is not None:
        scene.title = str(title)
    if scene.dims == 1:
        if show != "contour":
            raise ValueError(f"{who}: a function of one input is drawn as a curve; "
                             f"show={show!r} needs paths of two inputs")
        fig = new_figure(7.0, 5.2)
        _draw_curve(fig.add_subplot(), scene)
    else:
        panels = ["contour", "surface"] if show == "both" else [show]
        fig = new_figure(6.6 * len(panels), 6.8)
        for i, panel in enumerate(panels):
            if panel == "contour":
                _draw_contour(fig, fig.add_subplot(1, len(panels), i + 1), scene)
            else:
                ax = fig.add_subplot(1, len(panels), i + 1, projection="3d",
                                     computed_zorder=False)
                _draw_surface(fig, ax, scene)
    return fig


def save_descent_animation(f: Any, paths: Any, path: PathLike, *, fps: int = 12,
                           xlim: Optional[Point] = None, ylim: Optional[Point] = None,
                           resolution: int = 120, dpi: int = 80,
                           title: Optional[str] = None) -> str:
    """Write a GIF of the balls rolling: frame k shows every path up to step k.

    The contour background and colour bar are drawn once; each frame only redraws the
    paths, the balls and the legend (blitting), so 3 paths of 60 steps take a few seconds.
    The legend tells how each path ends; a box gives the step and each path's current
    cost. The last frame is held for a second and a half.
    Returns the path written (atomically).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    from microgradnn.fileio import atomic_path

    who = "save_descent_animation"
    target = os.fspath(path)
    if not target.lower().endswith(".gif"):
        raise ValueError(f"{who}: the file name must end in .gif, got {target!r}")
    if isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= 50:
        raise ValueError(f"{who}: fps must be an integer in 1..50, got {fps!r}")
    longest = max((len(p) for p in _as_paths(paths, who).values()), default=0)
    if longest > MAX_FRAMES:
        raise ValueError(f"{who}: one frame a step makes {longest} frames, more than "
                         f"{MAX_FRAMES}; give paths of fewer steps (e.g. path[::10])")
    scene = _Scene(f, paths, xlim, ylim, resolution, who)
    if title is not None:
        scene.title = str(title)
    if scene.dims != 2:
        raise ValueError(f"{who}: animations are drawn for functions of two inputs (x, y)")
    fig = Figure(figsize=(6.6, 6.8), dpi=dpi, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    lines, balls, _ = _draw_contour(fig, ax, scene, animated=True)
    # The legend (drawn once) tells how each path ends; the box tells the current step.
    live = ax.text(0.02, 0.98, "", transform=ax.transAxes, va="top", fontsize=8,
                   family="DejaVu Sans Mono", color="white", animated=True,
                   bbox=dict(boxstyle="round", facecolor="black", alpha=0.6))
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    total = max(len(p) for p in scene.paths.values()) - 1
    costs = {name: scene.costs_along(p) for name, p in scene.paths.items()}
    width = max(len(name) for name in scene.paths)
    frames = []
    for k in range(total + 1):
        canvas.restore_region(background)
        rows = [f"step {k} of {total}"]
        for name, p in scene.paths.items():
            status = scene.status[name]
            upto = min(k, len(p) - 1)
            if status.left_at is not None and upto >= status.left_at:
                shown = status.visible
                rows.append(f"{name:<{width}}  left the picture")
            else:
                shown = p[:upto + 1]
                rows.append(f"{name:<{width}}  C = {format_number(float(costs[name][upto]))}")
            lines[name].set_data(shown[:, 0], shown[:, 1])
            balls[name].set_data(shown[-1:, 0], shown[-1:, 1])
            ax.draw_artist(lines[name])
            ax.draw_artist(balls[name])
        live.set_text("\n".join(rows))
        ax.draw_artist(live)
        canvas.blit(fig.bbox)
        rgba = np.asarray(canvas.buffer_rgba())
        frames.append(Image.fromarray(rgba[..., :3].copy()))
    palette = frames[-1].quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    images = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
    durations = [int(1000 / fps)] * len(images)
    durations[-1] = 1500
    with atomic_path(target) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=durations, loop=0, optimize=False)
    return target
