"""Gradient descent paths, computed: a ball rolling down a cost surface, step by step.

A cost function of two inputs ``C(x, y)`` is a surface over the x-y plane. Its gradient,
computed here by the scalar engine's ``backward()``, points in the direction of steepest
ascent; gradient descent steps the other way, by ``lr`` times the slope, with the
project's own optimizers (``microgradnn.optim``: PyTorch's formulas).

- ``descent_path(f, start, optimizer, lr, steps)``: the points visited, shape (steps + 1, 2)
  (or (steps + 1, 1) for a function of one input);
- ``evaluate(f, x, y)``, ``gradient(f, point)``, ``path_status(f, path, box)``;
- ``FUNCTIONS``: named surfaces to try (bowl, ravine, rosenbrock, two-valleys, saddle);
- ``DescentScene``: what a picture of them needs (grid, costs, statuses, arrows).

``f`` is any Python function built from ``Value`` operations (``+ - * / **``, ``exp``,
``tanh``...), or the name of a built-in one. No matplotlib here: ``viz.plots.descent``
draws these paths.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from microgradnn.engine import Value, format_number
from microgradnn.optim import SGD, Adam, Optimizer

__all__ = ["descent_path", "CostFunction", "FUNCTIONS", "OPTIMIZERS", "get_function",
           "gradient", "evaluate", "path_status", "PathStatus", "DescentScene", "MAX_STEPS",
           "MAX_FRAMES", "PATH_COLORS"]

Point = Tuple[float, float]
MAX_STEPS = 100_000
MAX_FRAMES = 1000
# Colours of successive paths: bright, far apart in hue, readable on viridis's dark purples.
PATH_COLORS = ("#FFA500", "#33DDFF", "#FF5CA8", "#C6FF3A", "#FFFFFF", "#B0B0B0")


# ----------------------------------------------------------------- the named functions

@dataclass(frozen=True)
class CostFunction:
    """A named cost surface ``C(x, y)`` with the view and settings that show it well.

    ``f`` uses only arithmetic operators, so it works on ``Value``s, numpy arrays and
    torch tensors alike. ``points`` are its critical points, ``(label, (x, y))``, with
    labels "global minimum", "local minimum" or "saddle point". ``lr`` suggests a learning
    rate per optimizer for ``steps`` steps from ``start``.
    """

    name: str
    formula: str
    f: Callable[[Any, Any], Any]
    xlim: Point
    ylim: Point
    start: Point
    lr: Mapping[str, float]
    points: Tuple[Tuple[str, Point], ...]
    about: str
    steps: int = 60

    def __call__(self, x: Any, y: Any) -> Any:
        return self.f(x, y)

    def suggested_lr(self, optimizer: str) -> float:
        return self.lr.get(optimizer, self.lr["sgd"])


def _bowl(x: Any, y: Any) -> Any:
    return x ** 2 + y ** 2


def _ravine(x: Any, y: Any) -> Any:
    return 0.1 * x ** 2 + 5 * y ** 2


def _rosenbrock(x: Any, y: Any) -> Any:
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def _two_valleys(x: Any, y: Any) -> Any:
    return (x ** 2 - 1) ** 2 + 0.5 * (y - x) ** 2 + 0.3 * x


def _saddle(x: Any, y: Any) -> Any:
    return x ** 2 - y ** 2 + 0.25 * y ** 4


# The critical points of two-valleys lie on y = x where 4x^3 - 4x + 0.3 = 0 (numpy.roots).
_TV_LEFT, _TV_MIDDLE, _TV_RIGHT = -1.0355787140888542, 0.0754291585697482, 0.9601495555191059

FUNCTIONS: Dict[str, CostFunction] = {cf.name: cf for cf in (
    CostFunction("bowl", "x² + y²", _bowl, (-2.0, 2.0), (-2.0, 2.0), (-1.6, 1.3),
                 {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.1},
                 (("global minimum", (0.0, 0.0)),),
                 "a round bowl: the negative gradient points straight at the bottom"),
    CostFunction("ravine", "0.1 x² + 5 y²", _ravine, (-4.5, 4.5), (-1.5, 1.5), (-4.0, 1.0),
                 {"sgd": 0.18, "momentum": 0.018, "nesterov": 0.018, "adam": 0.1},
                 (("global minimum", (0.0, 0.0)),),
                 "a long narrow valley, 50 times steeper across than along: SGD with a step "
                 "big enough to make progress zig-zags across it"),
    CostFunction("rosenbrock", "(1 - x)² + 100 (y - x²)²", _rosenbrock, (-2.0, 2.0),
                 (-1.0, 3.0), (-1.2, 1.0),
                 {"sgd": 0.002, "momentum": 0.0005, "nesterov": 0.0005, "adam": 0.1},
                 (("global minimum", (1.0, 1.0)),),
                 "Rosenbrock's banana-shaped valley: easy to fall into, slow to follow to (1, 1)",
                 steps=300),
    CostFunction("two-valleys", "(x² - 1)² + 0.5 (y - x)² + 0.3 x", _two_valleys,
                 (-2.0, 2.0), (-2.0, 2.0), (1.2, -1.6),
                 {"sgd": 0.05, "momentum": 0.05, "nesterov": 0.05, "adam": 0.05},
                 (("global minimum", (_TV_LEFT, _TV_LEFT)),
                  ("local minimum", (_TV_RIGHT, _TV_RIGHT)),
                  ("saddle point", (_TV_MIDDLE, _TV_MIDDLE))),
                 "two valleys, one deeper: where the ball starts decides which one it finds"),
    CostFunction("saddle", "x² - y² + y⁴/4", _saddle, (-2.0, 2.0), (-2.2, 2.2), (-1.8, 0.01),
                 {"sgd": 0.05, "momentum": 0.05, "nesterov": 0.05, "adam": 0.05},
                 (("saddle point", (0.0, 0.0)),
                  ("global minimum", (0.0, math.sqrt(2.0))),
                  ("global minimum", (0.0, -math.sqrt(2.0)))),
                 "a saddle point at (0, 0): downhill along x towards it, then downhill along y "
                 "away from it; the gradient is nearly zero there, so the ball dawdles"),
)}


def get_function(name: str) -> CostFunction:
    """The built-in ``CostFunction`` called ``name``; a ValueError lists the valid names."""
    if isinstance(name, str) and name in FUNCTIONS:
        return FUNCTIONS[name]
    raise ValueError(f"unknown function {name!r}; choose one of {', '.join(FUNCTIONS)}")


def _resolve(f: Any, who: str) -> Tuple[Callable[..., Any], Optional[CostFunction]]:
    if isinstance(f, CostFunction):
        return f.f, f
    if isinstance(f, str):
        cf = get_function(f)
        return cf.f, cf
    if not callable(f):
        raise TypeError(f"{who}: f must be a function of Values or the name of one of "
                        f"{', '.join(FUNCTIONS)}, got {type(f).__name__}")
    return f, None


def _arity(f: Callable[..., Any]) -> Optional[Tuple[int, int]]:
    """(fewest, most) positional arguments ``f`` takes, or None if it cannot be told."""
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return None
    required = sum(1 for p in positional if p.default is p.empty)
    return required, len(positional)


# ----------------------------------------------------------------- gradients and paths

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")


def _make_optimizer(name: str, params: List[Value], lr: float, options: Dict[str, Any],
                    who: str) -> Optimizer:
    if name not in OPTIMIZERS:
        raise ValueError(f"{who}: unknown optimizer {name!r}; choose one of "
                         f"{', '.join(OPTIMIZERS)}")
    options = dict(options)
    if name in ("momentum", "nesterov"):
        options.setdefault("momentum", 0.9)
    if name == "nesterov":
        options.setdefault("nesterov", True)
    cls = Adam if name == "adam" else SGD
    known = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "params",
                                                                              "lr")]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"{who}: optimizer {name!r} does not take {', '.join(unknown)}; it "
                         f"takes {', '.join(known)}")
    try:
        return cls(params, lr=lr, **options)
    except ValueError as error:
        raise ValueError(f"{who}: {error}") from None


def _check_point(name: str, point: Any, who: str) -> np.ndarray:
    if isinstance(point, (str, bytes)) or not isinstance(point, (Sequence, np.ndarray)):
        raise TypeError(f"{who}: {name} must be a sequence of numbers like (x, y), got {point!r}")
    values = []
    for v in point:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ValueError(f"{who}: {name} must hold finite numbers, got {tuple(point)!r}")
        values.append(float(v))
    if not values:
        raise ValueError(f"{who}: {name} is empty")
    return np.array(values, dtype=np.float64)


def _call(f: Callable[..., Any], leaves: Sequence[Value], who: str) -> Value:
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"{who}: f must return a Value built from its inputs (so backward() can "
                        f"find the gradient), got {type(out).__name__} {out!r}")
    return out


def gradient(f: Any, point: Sequence[float]) -> Tuple[float, np.ndarray]:
    """``(C(point), ∇C(point))`` from one forward pass and ``backward()`` of the scalar engine."""
    fn, _ = _resolve(f, "gradient")
    leaves = [Value(float(v)) for v in _check_point("point", point, "gradient")]
    out = _call(fn, leaves, "gradient")
    out.backward()
    return out.data, np.array([leaf.grad for leaf in leaves])


def descent_path(f: Any, start: Optional[Sequence[float]] = None, optimizer: str = "sgd",
                 lr: Optional[float] = None, steps: Optional[int] = None,
                 **kwargs: Any) -> np.ndarray:
    """The points gradient descent visits on ``f`` from ``start``: shape (steps + 1, n).

    ``f``: a function of n ``Value``s returning a ``Value`` (n = ``len(start)``, 2 for a
    surface), a ``CostFunction`` or a built-in name (see ``FUNCTIONS``; its ``start``,
    suggested ``lr`` and ``steps`` are the defaults). ``optimizer``: "sgd", "momentum"
    (SGD with ``momentum=0.9`` unless given), "nesterov" (the same, Nesterov's look-ahead)
    or "adam"; ``kwargs`` go to ``microgradnn.optim.SGD``/``Adam`` as in PyTorch
    (``momentum``, ``dampening``, ``nesterov``, ``weight_decay``, ``betas``, ``eps``,
    ``amsgrad``). Each step: ``zero_grad()``, ``C = f(*point)``, ``C.backward()``,
    ``optimizer.step()``. Row 0 is the start, row k the point after k steps.

    If the numbers blow up (a learning rate too large: an overflow, or a cost a float cannot
    hold) the path stops there with a RuntimeWarning and the remaining rows are NaN.
    """
    who = "descent_path"
    fn, cf = _resolve(f, who)
    if start is None:
        if cf is None:
            raise ValueError(f"{who}: start is required for your own function, "
                             f"e.g. start=(1.0, -0.5)")
        start = cf.start
    point = _check_point("start", start, who)
    limits = _arity(fn)
    if limits is not None and not limits[0] <= point.size <= limits[1]:
        want = str(limits[0]) if limits[0] == limits[1] else f"{limits[0]} to {limits[1]}"
        raise ValueError(f"{who}: start has {point.size} number{'s' * (point.size != 1)} "
                         f"{tuple(point.tolist())} but f takes {want} input(s)")
    if lr is None:
        lr = cf.suggested_lr(optimizer) if cf is not None else 0.05
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (0 < lr < math.inf):
        raise ValueError(f"{who}: lr must be a positive number, got {lr!r}")
    if steps is None:
        steps = cf.steps if cf is not None else 60
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"{who}: steps must be an integer >= 1, got {steps!r}")
    if steps > MAX_STEPS:
        raise ValueError(f"{who}: steps must be at most {MAX_STEPS}, got {steps}")
    leaves = [Value(v) for v in point]
    opt = _make_optimizer(optimizer, leaves, float(lr), kwargs, who)
    path = np.full((int(steps) + 1, point.size), np.nan)
    path[0] = point
    _call(fn, leaves, who)  # errors in f itself surface here, with the start still intact
    for k in range(1, int(steps) + 1):
        opt.zero_grad()
        try:
            cost = _call(fn, leaves, who)
            cost.backward()
        except (ArithmeticError, ValueError) as error:
            warnings.warn(f"{who}: stopped at step {k} of {steps}: at {tuple(path[k - 1])} the "
                          f"cost cannot be computed ({error}); rows {k} to {steps} are NaN. "
                          f"The learning rate {lr:g} is probably too large.", RuntimeWarning,
                          stacklevel=2)
            break
        opt.step()
        row = np.array([leaf.data for leaf in leaves], dtype=np.float64)
        if not np.all(np.isfinite(row)):
            warnings.warn(f"{who}: stopped at step {k} of {steps}: the point became "
                          f"{tuple(row)}; rows {k} to {steps} are NaN. The learning rate "
                          f"{lr:g} is probably too large.", RuntimeWarning, stacklevel=2)
            break
        path[k] = row
    return path


# ----------------------------------------------------------------- numbers for pictures

def evaluate(f: Any, *coords: Any) -> np.ndarray:
    """``f`` at many points: ``evaluate(f, X, Y)`` with arrays of one shape -> costs, that shape.

    ``f`` is called once on the numpy arrays when it accepts them (arithmetic-only
    functions do); otherwise once per point with ``Value``s. Points where ``f`` fails
    (overflow, outside its domain) or which are NaN give NaN.
    """
    fn, _ = _resolve(f, "evaluate")
    arrays = np.broadcast_arrays(*[np.asarray(c, dtype=np.float64) for c in coords])
    shape = arrays[0].shape
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(fn(*arrays), dtype=np.float64)
        if out.shape == shape:
            return np.where(np.isfinite(out), out, np.nan)
    except Exception:  # noqa: BLE001 - any failure just means "not numpy-friendly"
        pass
    out = np.full(shape, np.nan)
    for index in np.ndindex(shape):
        values = [a[index] for a in arrays]
        if not all(math.isfinite(v) for v in values):
            continue
        try:
            result = fn(*[Value(float(v)) for v in values])
        except (ArithmeticError, ValueError):
            continue
        if isinstance(result, Value):
            out[index] = result.data
        else:
            raise TypeError(f"evaluate: f must return a Value, got {type(result).__name__}")
    return out


@dataclass(frozen=True)
class PathStatus:
    """How a path ends relative to the picture's box.

    ``visible``: the points to draw (up to where it leaves for good, the last one on the
    border); ``left_at``: the step at which it left the box for good (None if it ends
    inside); ``diverged``: it left and its cost grew (or overflowed); ``stopped``: the
    path ended inside the box because the cost could not be computed (NaN rows follow).
    """

    visible: np.ndarray
    left_at: Optional[int]
    diverged: bool
    final_cost: float
    stopped: bool = False


def _inside(points: np.ndarray, box: Sequence[Point]) -> np.ndarray:
    ok = np.all(np.isfinite(points), axis=1)
    for d, (lo, hi) in enumerate(box):
        pad = 1e-9 * (hi - lo)
        ok &= (points[:, d] >= lo - pad) & (points[:, d] <= hi + pad)
    return ok


def _exit_point(a: np.ndarray, b: np.ndarray, box: Sequence[Point]) -> np.ndarray:
    """Where the segment from ``a`` (inside) towards ``b`` first meets the box's border."""
    if not np.all(np.isfinite(b)):
        return a.copy()
    t = 1.0
    for d, (lo, hi) in enumerate(box):
        delta = b[d] - a[d]
        if delta > 0 and b[d] > hi:
            t = min(t, (hi - a[d]) / delta)
        elif delta < 0 and b[d] < lo:
            t = min(t, (lo - a[d]) / delta)
    return a + max(t, 0.0) * (b - a)


def path_status(f: Any, path: np.ndarray, box: Sequence[Point]) -> PathStatus:
    """Cut ``path`` (k, n) where it leaves ``box`` (one (lo, hi) per input) for good."""
    inside = _inside(path, box)
    costs = evaluate(f, *path.T) if path.size else np.zeros(0)
    finite = np.flatnonzero(np.all(np.isfinite(path), axis=1))
    last = int(finite[-1]) if finite.size else 0
    if not inside[0]:
        # started outside the picture: draw what is inside, nothing clever
        return PathStatus(path[inside], None, False, float(costs[last]))
    if inside[last] and last == len(path) - 1:
        return PathStatus(path, None, False, float(costs[last]))
    # the last time it was inside, followed by leaving for good
    last_in = int(np.flatnonzero(inside)[-1])
    left_at = last_in + 1
    if not np.all(np.isfinite(path[left_at])):  # stopped inside: f failed at the next step
        return PathStatus(path[:left_at], left_at, True, float(costs[last]), stopped=True)
    border = _exit_point(path[last_in], path[left_at], box)
    visible = np.vstack([path[:left_at], border[None]])
    cost_end = costs[last]
    diverged = bool(not np.isfinite(cost_end) or cost_end > costs[0] or last < len(path) - 1)
    return PathStatus(visible, left_at, diverged, float(cost_end))


def _as_paths(paths: Any, who: str) -> Dict[str, np.ndarray]:
    if isinstance(paths, np.ndarray):
        items = {"path": paths} if paths.ndim == 2 else None
    elif isinstance(paths, Mapping):
        items = dict(paths)
    elif isinstance(paths, (list, tuple)):
        items = {f"path {i + 1}": p for i, p in enumerate(paths)}
    else:
        items = None
    if not items:
        raise ValueError(f"{who}: paths must be a dict name -> array (steps + 1, 2) from "
                         f"descent_path, a list of them or one array, got {type(paths).__name__}")
    out: Dict[str, np.ndarray] = {}
    dims = set()
    for name, p in items.items():
        array = np.asarray(p, dtype=np.float64)
        if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] not in (1, 2):
            raise ValueError(f"{who}: path {name!r} must have shape (steps + 1, 2) (or "
                             f"(steps + 1, 1)), got {array.shape}")
        if not np.all(np.isfinite(array[0])):
            raise ValueError(f"{who}: path {name!r} does not start at a finite point")
        dims.add(array.shape[1])
        out[str(name)] = array
    if len(dims) != 1:
        raise ValueError(f"{who}: all paths must have the same number of inputs, "
                         f"got {sorted(dims)}")
    return out


def _view(fn: Callable[..., Any], cf: Optional[CostFunction], paths: Dict[str, np.ndarray],
          xlim: Optional[Point], ylim: Optional[Point], dims: int) -> List[Point]:
    """The picture's box: given limits, a built-in's view, else the region of the paths
    whose cost is no higher than the highest start (so a diverging path cannot stretch it)."""
    given = [xlim, ylim][:dims]
    if cf is not None and dims == 2:
        defaults = [cf.xlim, cf.ylim]
    else:
        pts = []
        starts = np.array([p[0] for p in paths.values()])
        ceiling = np.nanmax(evaluate(fn, *starts.T))
        for p in paths.values():
            p = p[np.all(np.isfinite(p), axis=1)]
            costs = evaluate(fn, *p.T)
            pts.append(p[np.isfinite(costs) & (costs <= ceiling + 1e-12 * abs(ceiling))])
        pts.append(starts)
        every = np.vstack(pts)
        lo, hi = every.min(axis=0), every.max(axis=0)
        span = np.maximum(hi - lo, 0.5)
        defaults = [(float(lo[d] - 0.25 * span[d]), float(hi[d] + 0.25 * span[d]))
                    for d in range(dims)]
    box = []
    for d, (g, default) in enumerate(zip(given, defaults)):
        chosen = default if g is None else g
        try:
            lo, hi = (float(v) for v in chosen)
        except (TypeError, ValueError):
            raise ValueError(f"limits must be a pair (low, high), got {chosen!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"limits must be finite with low < high, got {chosen!r}")
        box.append((lo, hi))
    return box


def _path_label(name: str, status: PathStatus, steps: int) -> str:
    if status.stopped:
        return f"{name}: stopped at step {status.left_at}, the cost could not be computed"
    if status.diverged:
        return f"{name}: diverged, left the picture at step {status.left_at}"
    if status.left_at is not None:
        return f"{name}: left the picture at step {status.left_at}"
    return f"{name}: {steps} steps, final cost {format_number(status.final_cost)}"


class DescentScene:
    """Everything a descent picture needs, computed once: grid, costs, statuses, arrows."""

    def __init__(self, f: Any, paths: Any, xlim: Optional[Point], ylim: Optional[Point],
                 resolution: int, who: str) -> None:
        self.fn, self.cf = _resolve(f, who)
        self.paths = _as_paths(paths, who)
        self.dims = next(iter(self.paths.values())).shape[1]
        if isinstance(resolution, bool) or not isinstance(resolution, int) \
                or not 10 <= resolution <= 600:
            raise ValueError(f"{who}: resolution must be an integer in 10..600, got {resolution!r}")
        self.box = _view(self.fn, self.cf, self.paths, xlim, ylim, self.dims)
        axes = [np.linspace(lo, hi, resolution if self.dims == 2 else 4 * resolution)
                for lo, hi in self.box]
        self.grid = np.meshgrid(*axes) if self.dims == 2 else axes
        self.z = evaluate(self.fn, *self.grid)
        self.status = {name: path_status(self.fn, p, self.box) for name, p in self.paths.items()}
        self.colors = {name: PATH_COLORS[i % len(PATH_COLORS)]
                       for i, name in enumerate(self.paths)}
        # the negative gradient at each distinct start, from backward()
        self.arrows: List[Tuple[np.ndarray, np.ndarray]] = []
        seen = set()
        for p in self.paths.values():
            key = tuple(np.round(p[0], 12))
            if key in seen:
                continue
            seen.add(key)
            _, g = gradient(self.fn, p[0])
            self.arrows.append((p[0], -g))
        longest = max((float(np.linalg.norm(g)) for _, g in self.arrows), default=0.0)
        width = min(hi - lo for lo, hi in self.box)
        # one scale for all arrows: their lengths compare the slopes
        self.arrow_scale = 0.22 * width / longest if longest > 0 else 0.0
        inputs = "x, y" if self.dims == 2 else "x"
        name = getattr(self.fn, "__name__", "")
        self.title = (f"{self.cf.name}: C(x, y) = {self.cf.formula}" if self.cf is not None
                      else f"C({inputs}) = {name}({inputs})" if name.isidentifier()
                      else f"C({inputs})")

    def labels(self) -> Dict[str, str]:
        return {name: _path_label(name, self.status[name], len(p) - 1)
                for name, p in self.paths.items()}

    def costs_along(self, points: np.ndarray) -> np.ndarray:
        return evaluate(self.fn, *points.T)
