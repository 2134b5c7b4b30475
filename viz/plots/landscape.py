"""A real network's cost landscape: the cost on a plane through its 13,002 weights.

The cost of a trained network is a function of all its weights and biases; we cannot
draw 13,002 dimensions, but we can draw a slice: ``C(θ + α d₁ + β d₂)`` over a grid of
(α, β), for the trained weights θ and two directions d₁, d₂ in weight space.

- Random directions, normalised filter by filter (Li, Xu, Taylor, Studer, Goldstein,
  "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018): each row of a weight
  matrix (one neuron's incoming weights; for a convolution, one filter) gets the norm of
  the same row of θ, so a step of 1 changes every neuron by as much as its own weights.
  Biases are left out (direction 0: their setting "biasbn").
- The training path's own plane: ``training_path(snapshots, model)`` takes the weights
  saved during training, and its two main directions (PCA of the differences to the final
  weights, as Li et al. do) span the plane; the path is projected onto it.

``loss_landscape`` runs one batched forward pass per grid point (no graph, eval mode) and
puts the model's weights back afterwards. matplotlib is imported inside ``plot_landscape``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from microgradnn.engine import format_number
from microgradnn.layout import memory_order

__all__ = ["loss_landscape", "plot_landscape", "training_path", "random_directions",
           "Landscape", "TrainingPath", "MAX_GRID_STEPS", "MAX_IMAGES"]

MAX_GRID_STEPS = 201
MAX_IMAGES = 60_000
MAX_PATH_NUMBERS = 50_000_000  # snapshots x weights held at once by training_path (400 MB)
Direction = Dict[str, np.ndarray]


@dataclass
class TrainingPath:
    """The plane of a training run: two unit directions and the path's coordinates in it.

    ``coords`` (k, 2): each snapshot minus the final weights, projected on ``directions``
    (so the trained weights are at (0, 0)); ``explained``: the share of the path's variance
    along each direction; ``steps`` (k,): the optimizer step of each snapshot.
    """

    directions: Tuple[Direction, Direction]
    coords: np.ndarray
    explained: Tuple[float, float]
    steps: np.ndarray
    steps_per_epoch: int = 0

    @property
    def span(self) -> Tuple[float, float]:
        """Half-widths of a grid that holds the whole path with a margin."""
        reach = np.abs(self.coords).max(axis=0)
        return tuple(float(max(1.25 * r, 1e-3)) for r in reach)  # type: ignore[return-value]


@dataclass
class Landscape:
    """``costs[i, j]`` = C(θ + alphas[j] d₁ + betas[i] d₂): rows follow β, columns α (as
    ``numpy.meshgrid``). ``center_cost`` is the cost of the trained weights themselves."""

    alphas: np.ndarray
    betas: np.ndarray
    costs: np.ndarray
    center_cost: float
    directions: Tuple[Direction, Direction]
    kind: str
    images: int
    path: Optional[TrainingPath] = None
    path_costs: Optional[np.ndarray] = None
    title: str = ""
    axis_labels: Tuple[str, str] = ("α (direction 1)", "β (direction 2)")
    extra: Dict[str, Any] = field(default_factory=dict)
    cost: str = "cross-entropy"  # the name of the cost in ``microgradnn.costs``


# ----------------------------------------------------------------- directions

def _parameters(model: Any) -> List[Tuple[str, Any]]:
    named = list(model.named_parameters())
    if not named:
        raise ValueError(f"loss_landscape: {type(model).__name__} has no parameters")
    for name, p in named:
        if not isinstance(getattr(p, "data", None), np.ndarray):
            raise TypeError(f"loss_landscape: parameter {name!r} is not an array; use a model of "
                            f"the vectorized path (microgradnn.tensor / models.build_model)")
    return named


def random_directions(model: Any, seed: int = 0) -> Tuple[Direction, Direction]:
    """Two Gaussian directions, each row (filter) scaled to the norm of the same row of the
    model's weights; zero for biases and other 1-D parameters (Li et al. 2018)."""
    rng = np.random.default_rng(seed)
    pair: List[Direction] = [{}, {}]
    for name, p in _parameters(model):
        w = np.asarray(p.data, dtype=np.float64)
        for d in pair:
            if w.ndim <= 1:
                d[name] = np.zeros_like(w)
                continue
            r = rng.standard_normal(w.shape)
            rows_w = w.reshape(w.shape[0], -1)
            rows_r = r.reshape(r.shape[0], -1)
            scale = np.linalg.norm(rows_w, axis=1) / (np.linalg.norm(rows_r, axis=1) + 1e-10)
            d[name] = (rows_r * scale[:, None]).reshape(w.shape)
    return pair[0], pair[1]


def _flatten(state: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    return np.concatenate([np.asarray(state[n], dtype=np.float64).ravel() for n in names])


def training_path(snapshots: Any, model: Any) -> TrainingPath:
    """The plane of the two main directions of a training run, and the run projected on it.

    ``snapshots``: a ``microgradnn.snapshots.Snapshots`` (``load_snapshots``) or a list of
    state dicts. With θᵢ the snapshots and θ the model's (trained) weights, the
    directions are the first two principal components of the differences θᵢ - θ
    (centred, as sklearn's PCA that Li et al. use), and each θᵢ - θ is projected on them.
    """
    names = [name for name, _ in _parameters(model)]
    final = {name: np.asarray(p.data) for name, p in model.named_parameters()}
    if hasattr(snapshots, "weights") and hasattr(snapshots, "steps"):
        states = [snapshots.state(i) for i in range(len(snapshots))]
        steps = np.asarray(snapshots.steps)
        per_epoch = int(getattr(snapshots, "steps_per_epoch", 0))
    else:
        states = list(snapshots)
        steps = np.arange(len(states))
        per_epoch = 0
    if len(states) < 3:
        raise ValueError(f"training_path: need at least 3 snapshots to find two directions, "
                         f"got {len(states)}")
    for i, state in enumerate(states):
        missing = sorted(set(names) - set(state))
        if missing:
            raise ValueError(f"training_path: snapshot {i} has no {missing[0]!r}; were the "
                             f"snapshots saved from this model?")
        for n in names:
            if np.shape(state[n]) != final[n].shape:
                raise ValueError(f"training_path: snapshot {i} has {n!r} of shape "
                                 f"{np.shape(state[n])}, the model {final[n].shape}")
    total = len(states) * sum(final[n].size for n in names)
    if total > MAX_PATH_NUMBERS:
        raise ValueError(f"training_path: {len(states)} snapshots of "
                         f"{total // len(states)} weights are {total} numbers, more than "
                         f"{MAX_PATH_NUMBERS}; keep fewer snapshots")
    center = _flatten(final, names)
    diffs = np.stack([_flatten(s, names) - center for s in states])
    centred = diffs - diffs.mean(axis=0)
    # PCA through the small k x k Gram matrix: k snapshots, 13,002 numbers each.
    gram = centred @ centred.T
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    if values[1] <= 1e-12 * max(values[0], 1e-300):
        raise ValueError("training_path: the snapshots lie on a line (or are all equal); "
                         "there is no second direction")
    components = []
    for i in range(2):
        v = centred.T @ vectors[:, i]
        components.append(v / np.linalg.norm(v))
    total = float(values[values > 0].sum())
    explained = (float(values[0] / total), float(values[1] / total))
    coords = diffs @ np.stack(components).T
    directions = []
    for comp in components:
        d, start = {}, 0
        for n in names:
            size = final[n].size
            d[n] = comp[start:start + size].reshape(final[n].shape)
            start += size
        directions.append(d)
    return TrainingPath((directions[0], directions[1]), coords, explained, steps, per_epoch)


def _check_directions(directions: Any, named: List[Tuple[str, Any]]) -> Tuple[Direction, Direction]:
    if not isinstance(directions, (tuple, list)) or len(directions) != 2:
        raise ValueError("loss_landscape: directions must be a pair (d1, d2) of dicts "
                         "name -> array, or a TrainingPath")
    out = []
    for k, d in enumerate(directions):
        if not isinstance(d, Mapping):
            raise ValueError(f"loss_landscape: direction {k + 1} must be a dict name -> array")
        checked = {}
        for name, p in named:
            if name not in d:
                raise ValueError(f"loss_landscape: direction {k + 1} has no {name!r}")
            array = np.asarray(d[name], dtype=np.float64)
            if array.shape != p.data.shape or not np.all(np.isfinite(array)):
                raise ValueError(f"loss_landscape: direction {k + 1} {name!r} must be finite "
                                 f"with shape {p.data.shape}, got {array.shape}")
            checked[name] = array
        out.append(checked)
    return out[0], out[1]


# ----------------------------------------------------------------- the cost on the plane

def _inputs(model: Any, images: Any, labels: Any) -> Tuple[np.ndarray, np.ndarray]:
    from microgradnn.models import input_mode_of, input_shape_of
    from microgradnn.training import to_input

    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim < 2 or images.shape[0] == 0:
        raise ValueError(f"loss_landscape: images must be (n, 28, 28) or (n, features) with "
                         f"n >= 1, got shape {images.shape}")
    n = images.shape[0]
    if n > MAX_IMAGES:
        raise ValueError(f"loss_landscape: at most {MAX_IMAGES} images, got {n}")
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"loss_landscape: labels must be n = {n} integers, got "
                         f"{labels.dtype} of shape {labels.shape}")
    shape = tuple(input_shape_of(model))
    size = int(np.prod(shape))
    if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"loss_landscape: images must be uint8 (as load_mnist returns them) "
                         f"or floats already scaled, got {images.dtype}")
    if images[0].size != size:
        raise ValueError(f"loss_landscape: each image must have {size} numbers for this "
                         f"model, got {images[0].size} (shape {images.shape[1:]})")
    if images.dtype == np.uint8:
        x = to_input(images.reshape((n, 28, 28)), shape, input_mode_of(model))
    else:
        x = images.reshape((n,) + shape).astype(np.float32)
        if not np.all(np.isfinite(x)):
            raise ValueError("loss_landscape: images hold NaN or inf")
    return x, labels.astype(np.int64)


def _grid(span: Any, steps: Any) -> Tuple[np.ndarray, np.ndarray]:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 3 \
            or steps % 2 == 0 or steps > MAX_GRID_STEPS:
        raise ValueError(f"loss_landscape: steps must be an odd integer in 3..{MAX_GRID_STEPS} "
                         f"(odd, so the grid has a centre: the trained weights), got {steps!r}")
    spans = span if isinstance(span, (tuple, list)) else (span, span)
    if len(spans) != 2 or any(isinstance(s, bool) or not isinstance(s, numbers.Real)
                              or not 0 < s < math.inf for s in spans):
        raise ValueError(f"loss_landscape: span must be a positive number or a pair of them, "
                         f"got {span!r}")
    axes = []
    for s in spans:
        a = np.linspace(-float(s), float(s), int(steps))
        a[int(steps) // 2] = 0.0  # exactly the trained weights, whatever linspace rounds to
        axes.append(a)
    return axes[0], axes[1]


class _Evaluator:
    """The cost at θ + a d₁ + b d₂: sets every parameter, then one forward of the batch.

    When the model starts with a ``Linear`` layer (an MLP), its output is linear in its
    weights: x (W + a D₁ + b D₂)ᵀ = x Wᵀ + a x D₁ᵀ + b x D₂ᵀ. The three products are
    computed once, so each grid point skips the widest matrix product (784 inputs) and runs
    only the model's remaining layers. At a = b = 0 this is the model's own arithmetic.
    """

    def __init__(self, model: Any, named: List[Tuple[str, Any]], pair: Tuple[Direction, Direction],
                 x: np.ndarray, y: np.ndarray, loss: Any) -> None:
        from microgradnn.tensor import Linear, Sequential, Tensor

        self.model, self.y, self.loss = model, y, loss
        self.params = [p for _, p in named]
        self.originals = [p.data for p in self.params]
        # in each parameter's dtype and memory layout, so that θ + a d₁ + b d₂ keeps the
        # layout too (a column-major Linear weight, layers.weight_order): at a = b = 0 the
        # same products as the model's own
        self.d1 = [np.array(pair[0][n], p.data.dtype, order=memory_order(p.data))
                   for n, p in named]
        self.d2 = [np.array(pair[1][n], p.data.dtype, order=memory_order(p.data))
                   for n, p in named]
        self.x = Tensor(x)
        self.first: Optional[Tuple[Any, int, Optional[int]]] = None
        self.rest: List[Any] = []
        modules = list(model) if isinstance(model, Sequential) else []
        if modules and type(modules[0]) is Linear:
            lin = modules[0]
            index = {id(p): i for i, p in enumerate(self.params)}
            w, b = index[id(lin.weight)], (index[id(lin.bias)] if lin.bias is not None else None)
            self.first = (lin, w, b)
            self.rest = modules[1:]
            self.products = [x @ self.originals[w].T, x @ self.d1[w].T, x @ self.d2[w].T]

    def cost(self, a: float, b: float) -> float:
        from microgradnn.tensor import Tensor

        for p, w, u, v in zip(self.params, self.originals, self.d1, self.d2):
            t = w.dtype.type
            p.data = w + t(a) * u + t(b) * v
        if self.first is None:
            logits = self.model(self.x).data
        else:
            lin, w, bias = self.first
            t = self.products[0].dtype.type
            h = self.products[0] + t(a) * self.products[1]
            h += t(b) * self.products[2]
            if bias is not None:
                h += self.params[bias].data
            out = Tensor(h)
            for module in self.rest:
                out = module(out)
            logits = out.data
        with np.errstate(over="ignore", invalid="ignore"):
            return float(self.loss(Tensor(logits.astype(np.float64)), self.y).item())

    def restore(self) -> None:
        for p, data in zip(self.params, self.originals):
            p.data = data


def loss_landscape(model: Any, images: Any, labels: Any,
                   span: Union[float, Tuple[float, float]] = 1.0, steps: int = 41,
                   directions: Any = None, *, seed: int = 0, progress: bool = False,
                   loss: Optional[str] = None) -> Landscape:
    """The cost of ``model`` on ``(images, labels)``, the mean of C over the images, on a
    (steps, steps) grid of the plane θ + α d₁ + β d₂, α and β in [-span, span] (a pair:
    one span each). The cost is the model's own (``microgradnn.costs.cost_of``: the one
    its checkpoint records) unless ``loss`` names another ("mse" or "cross-entropy").

    ``images``: uint8 as ``load_mnist`` returns them (scaled as the model expects), or
    floats already scaled, (n, 784) or (n, 28, 28) for an MLP. ``directions``: None for
    two filter-normalised random ones (``seed``), a pair of dicts name -> array, or a
    ``TrainingPath`` (then the path is projected and its costs computed too). One batched
    forward per grid point, in eval mode and without a graph; the model's weights are
    restored afterwards. ``steps`` must be odd so that the centre is θ itself:
    ``center_cost`` is the model's cost on these images.
    """
    from microgradnn.costs import cost_of
    from microgradnn.models import describe
    from microgradnn.tensor import no_grad

    cost = cost_of(loss if loss is not None else model)
    named = _parameters(model)
    alphas, betas = _grid(span, steps)
    x, y = _inputs(model, images, labels)
    path = directions if isinstance(directions, TrainingPath) else None
    if directions is None:
        pair, kind = random_directions(model, seed), "random, filter-normalised"
        labels_xy = ("α along random direction 1 (filter-normalised)",
                     "β along random direction 2 (filter-normalised)")
    else:
        pair = _check_directions(path.directions if path else directions, named)
        kind = "PCA of the training path" if path else "given directions"
        labels_xy = ((f"α along PC1 ({path.explained[0]:.1%} of the path's variance)",
                      f"β along PC2 ({path.explained[1]:.1%} of the path's variance)")
                     if path else ("α (direction 1)", "β (direction 2)"))
    evaluator = _Evaluator(model, named, pair, x, y, cost.tensor)
    costs = np.empty((betas.size, alphas.size))
    was_training = getattr(model, "training", False)
    from tqdm import tqdm

    model.eval()
    try:
        with no_grad():
            for i in tqdm(range(betas.size), desc="landscape", unit="row", disable=not progress):
                for j in range(alphas.size):
                    costs[i, j] = evaluator.cost(alphas[j], betas[i])
            path_costs = (np.array([evaluator.cost(a, b) for a, b in path.coords])
                          if path is not None else None)
    finally:
        evaluator.restore()
        model.train(was_training)
    spec = getattr(model, "spec", None)
    name = describe(spec) if spec is not None else type(model).__name__
    mid = alphas.size // 2
    return Landscape(alphas, betas, costs, float(costs[betas.size // 2, mid]), pair, kind,
                     int(x.shape[0]), path, path_costs,
                     f"{name}: cost on {x.shape[0]} images around the trained weights\n"
                     f"{cost.title}, {cost.formula}; the mean of C over the images",
                     labels_xy, cost=cost.name)


# ----------------------------------------------------------------- the picture

SHOWS = ("contour", "surface", "both")


def plot_landscape(landscape: Landscape, show: str = "both", *,
                   title: Optional[str] = None) -> Any:
    """A matplotlib Figure of a ``Landscape``: filled contours with a colour bar ("contour"),
    the 3-D surface ("surface") or both side by side. The trained weights are marked at
    the centre; a training path (if the landscape has one) is drawn from the initial
    weights to the trained ones, one dot per snapshot."""
    from .descent import _levels
    from .common import new_figure

    if not isinstance(landscape, Landscape):
        raise TypeError(f"plot_landscape: expected a Landscape from loss_landscape, got "
                        f"{type(landscape).__name__}")
    if show not in SHOWS:
        raise ValueError(f"plot_landscape: show must be one of {', '.join(SHOWS)}, got {show!r}")
    panels = ["contour", "surface"] if show == "both" else [show]
    fig = new_figure(6.6 * len(panels), 6.4)
    A, B = np.meshgrid(landscape.alphas, landscape.betas)
    Z = landscape.costs
    for k, panel in enumerate(panels):
        if panel == "contour":
            ax = fig.add_subplot(1, len(panels), k + 1)
            _contour(fig, ax, landscape, A, B, Z, _levels(Z))
        else:
            ax = fig.add_subplot(1, len(panels), k + 1, projection="3d", computed_zorder=False)
            _surface(fig, ax, landscape, A, B, Z)
    fig.suptitle(title if title is not None else landscape.title)
    return fig


def _cost_title(landscape: Landscape) -> str:
    from microgradnn.costs import get_cost

    return get_cost(landscape.cost).title


def _path_label(landscape: Landscape) -> str:
    path = landscape.path
    assert path is not None and landscape.path_costs is not None
    epochs = (f", {path.steps[-1] / path.steps_per_epoch:g} epochs"
              if path.steps_per_epoch else "")
    return (f"training path: {len(path.coords)} snapshots over {int(path.steps[-1])} steps"
            f"{epochs}; cost on this plane {format_number(landscape.path_costs[0])} → "
            f"{format_number(landscape.path_costs[-1])}")


def _contour(fig: Any, ax: Any, landscape: Landscape, A: np.ndarray, B: np.ndarray,
             Z: np.ndarray, levels: np.ndarray) -> None:
    from matplotlib.lines import Line2D

    filled = ax.contourf(A, B, Z, levels=levels, cmap="viridis")
    ax.contour(A, B, Z, levels=levels, colors="k", linewidths=0.3, alpha=0.35)
    bar = fig.colorbar(filled, ax=ax, shrink=0.9)
    bar.set_label(f"cost: mean of C ({_cost_title(landscape)}) on {landscape.images} images")
    handles = [Line2D([], [], marker="*", markersize=13, color="white", markeredgecolor="black",
                      linestyle="none",
                      label=f"trained weights: cost {format_number(landscape.center_cost)}")]
    if landscape.path is not None:
        xy = landscape.path.coords
        (line,) = ax.plot(xy[:, 0], xy[:, 1], "-o", color="#FFA500", markersize=3.5,
                          linewidth=1.6, markeredgecolor="black", markeredgewidth=0.4,
                          label=_path_label(landscape), zorder=4)
        ax.plot(xy[0, 0], xy[0, 1], "s", color="#FFA500", markersize=8, markeredgecolor="black",
                zorder=5)
        handles += [line, Line2D([], [], marker="s", color="#FFA500", markeredgecolor="black",
                                 linestyle="none", label="initial weights (step 0)")]
    ax.plot(0.0, 0.0, "*", markersize=16, color="white", markeredgecolor="black", zorder=6)
    ax.set_xlabel(landscape.axis_labels[0])
    ax.set_ylabel(landscape.axis_labels[1])
    ax.set_title(f"contours; directions: {landscape.kind}", fontsize=10)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8)


def _surface(fig: Any, ax: Any, landscape: Landscape, A: np.ndarray, B: np.ndarray,
             Z: np.ndarray) -> None:
    from matplotlib.lines import Line2D

    surface = ax.plot_surface(A, B, Z, cmap="viridis", alpha=0.8, linewidth=0,
                              antialiased=False, zorder=1)
    bar = fig.colorbar(surface, ax=ax, shrink=0.6, pad=0.1)
    bar.set_label("cost")
    lift = 0.01 * float(Z.max() - Z.min())
    handles = [Line2D([], [], marker="*", markersize=13, color="white", markeredgecolor="black",
                      linestyle="none",
                      label=f"trained weights: cost {format_number(landscape.center_cost)}")]
    if landscape.path is not None and landscape.path_costs is not None:
        xy = landscape.path.coords
        (line,) = ax.plot(xy[:, 0], xy[:, 1], landscape.path_costs + lift, "-o", color="#FFA500",
                          markersize=3, linewidth=1.6, markeredgecolor="black",
                          markeredgewidth=0.3, label="training path", zorder=5)
        handles.append(line)
    ax.plot([0.0], [0.0], [landscape.center_cost + lift], "*", markersize=15, color="white",
            markeredgecolor="black", zorder=6)
    ax.set_xlabel("α")
    ax.set_ylabel("β")
    ax.set_zlabel("cost")
    ax.set_title("the same cost as a surface", fontsize=10)
    ax.view_init(elev=35, azim=-60)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), fontsize=8)
