"""The 2-D playground's setup: every choice a teacher shares, as one strict URL string.

A setup is written as the fragment of the page's address, ``key=value`` pairs joined by
``&`` in a fixed order, for example::

    data=circles&n=200&noise=0.1&test=0.5&seed=0&classes=2&layers=4,4&act=tanh
    &feat=x1,x2&lr=0.03&batch=10&opt=adam&cost=mse&reg=none&rate=0&wseed=0

``parse_setup(text)`` accepts exactly that grammar (known keys, each at most once, each
value matching its own pattern and range; missing keys take their defaults) and nothing
else: anything else is a ``ValueError`` of one line naming the key and the value, raised
before anything is allocated from it. ``format_setup(setup)`` writes the canonical string
back. ``parse_csv(text)`` reads a learner's points (``x,y,class`` per line) as strictly.

Points: ``add`` holds the learner's own points ``x:y:class`` (comma-separated) and ``drop``
the indices of generated points taken away; both are bounded (``MAX_ADDED``, ``MAX_N``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Tuple

__all__ = ["Setup", "parse_setup", "format_setup", "parse_csv", "DATASETS", "FEATURES",
           "ACTIVATIONS", "OPTIMIZERS", "COSTS", "REGULARIZERS", "VIEW", "MAX_LAYERS",
           "MAX_WIDTH", "MAX_CLASSES", "MAX_N", "MAX_ADDED", "MAX_SETUP_CHARS", "MAX_CSV_CHARS"]

DATASETS = ("moons", "circles", "spiral", "xor", "none")
FEATURES = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")
ACTIVATIONS = ("tanh", "relu", "sigmoid")
OPTIMIZERS = ("sgd", "momentum", "adam")
COSTS = ("mse", "ce")
REGULARIZERS = ("none", "l1", "l2")
VIEW = 2.5  # the plane shown: [-VIEW, VIEW] in x1 and x2
MAX_LAYERS, MAX_WIDTH, MAX_CLASSES = 6, 16, 5
MAX_N, MAX_ADDED = 1000, 500
MAX_SETUP_CHARS = 16_000
MAX_CSV_CHARS = 64_000

_NUMBER = re.compile(r"-?(?:\d{1,6})(?:\.\d{1,8})?(?:e-?\d{1,2})?")
_INT = re.compile(r"\d{1,10}")
_POINT = re.compile(r"(-?\d{1,2}(?:\.\d{1,6})?):(-?\d{1,2}(?:\.\d{1,6})?):(\d)")


@dataclass(frozen=True)
class Setup:
    """One playground setup (see the module docstring); every field already checked."""

    data: str = "circles"
    n: int = 200
    noise: float = 0.1
    test: float = 0.5
    seed: int = 0
    classes: int = 2
    add: Tuple[Tuple[float, float, int], ...] = ()
    drop: Tuple[int, ...] = ()
    layers: Tuple[int, ...] = (4, 4)
    act: str = "tanh"
    feat: Tuple[str, ...] = ("x1", "x2")
    lr: float = 0.03
    batch: int = 10
    opt: str = "adam"
    cost: str = "mse"
    reg: str = "none"
    rate: float = 0.0
    wseed: int = 0

    @property
    def num_classes(self) -> int:
        """Classes of the data: the spiral's setting, at least the largest label added + 1."""
        base = self.classes if self.data == "spiral" else 2
        added = max((c for _, _, c in self.add), default=0) + 1
        return max(base, added)

    @property
    def outputs(self) -> int:
        """One output neuron for two classes (its sigmoid is P(class 1)), else one a class."""
        return 1 if self.num_classes == 2 else self.num_classes

    def network_key(self) -> Tuple:
        """What fixes the network's shape and first weights: changing it starts afresh."""
        return (self.layers, self.act, tuple(self.feat), self.outputs, self.cost, self.wseed)

    def data_key(self) -> Tuple:
        return (self.data, self.n, self.noise, self.test, self.seed, self.classes, self.add,
                self.drop)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def _number(key: str, low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        if not _NUMBER.fullmatch(text) or not low <= float(text) <= high:
            raise ValueError(f"setup: {key} must be a number in [{low:g}, {high:g}], "
                             f"got {_shown(text)}")
        return float(text)
    return parse


def _integer(key: str, low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not _INT.fullmatch(text) or not low <= int(text) <= high:
            raise ValueError(f"setup: {key} must be a whole number in {low}..{high}, "
                             f"got {_shown(text)}")
        return int(text)
    return parse


def _choice(key: str, choices: Tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"setup: {key} must be one of {', '.join(choices)}, "
                             f"got {_shown(text)}")
        return text
    return parse


def _layers(text: str) -> Tuple[int, ...]:
    if text == "":
        return ()
    parts = text.split(",")
    if len(parts) > MAX_LAYERS:
        raise ValueError(f"setup: layers lists {len(parts)} hidden layers; at most "
                         f"{MAX_LAYERS} are allowed")
    width = _integer("each layer's width", 1, MAX_WIDTH)
    return tuple(width(p) for p in parts)


def _features(text: str) -> Tuple[str, ...]:
    parts = text.split(",")
    if len(parts) > len(FEATURES) or not text:
        raise ValueError(f"setup: feat must list 1..{len(FEATURES)} of "
                         f"{', '.join(FEATURES)}, got {_shown(text)}")
    chosen = set(_choice("feat", FEATURES)(p) for p in parts)
    if len(chosen) != len(parts):
        raise ValueError(f"setup: feat lists a feature twice: {_shown(text)}")
    return tuple(f for f in FEATURES if f in chosen)


def _points(text: str) -> Tuple[Tuple[float, float, int], ...]:
    if text == "":
        return ()
    if text.count(",") >= MAX_ADDED:
        raise ValueError(f"setup: add holds more than {MAX_ADDED} points")
    points = []
    for part in text.split(","):
        match = _POINT.fullmatch(part)
        if match is None:
            raise ValueError(f"setup: a point of add must be x:y:class, got {_shown(part)}")
        x, y, c = float(match.group(1)), float(match.group(2)), int(match.group(3))
        points.append(_check_point(x, y, c, f"setup: point {_shown(part)}"))
    return tuple(points)


def _check_point(x: float, y: float, c: int, where: str) -> Tuple[float, float, int]:
    if not (-VIEW <= x <= VIEW and -VIEW <= y <= VIEW):
        raise ValueError(f"{where}: x and y must be in [{-VIEW:g}, {VIEW:g}], got ({x:g}, {y:g})")
    if not 0 <= c < MAX_CLASSES:
        raise ValueError(f"{where}: class must be 0..{MAX_CLASSES - 1}, got {c}")
    return (x, y, c)


def _drop(text: str) -> Tuple[int, ...]:
    if text == "":
        return ()
    if text.count(",") >= MAX_N:
        raise ValueError(f"setup: drop lists more than {MAX_N} indices")
    index = _integer("an index of drop", 0, MAX_N - 1)
    return tuple(sorted(set(index(p) for p in text.split(","))))


_PARSERS: Dict[str, Callable[[str], object]] = {
    "data": _choice("data", DATASETS), "n": _integer("n", 0, MAX_N),
    "noise": _number("noise", 0.0, 1.0), "test": _number("test", 0.0, 0.9),
    "seed": _integer("seed", 0, 2**31 - 1), "classes": _integer("classes", 2, MAX_CLASSES),
    "add": _points, "drop": _drop, "layers": _layers, "act": _choice("act", ACTIVATIONS),
    "feat": _features, "lr": _number("lr", 1e-5, 10.0), "batch": _integer("batch", 1, 500),
    "opt": _choice("opt", OPTIMIZERS), "cost": _choice("cost", COSTS),
    "reg": _choice("reg", REGULARIZERS), "rate": _number("rate", 0.0, 1.0),
    "wseed": _integer("wseed", 0, 2**31 - 1),
}
ORDER = tuple(_PARSERS)


def parse_setup(text: str) -> Setup:
    """The setup written in ``text`` (the fragment, with or without its ``#``)."""
    if not isinstance(text, str):
        raise ValueError(f"setup must be a string, got {type(text).__name__}")
    if len(text) > MAX_SETUP_CHARS:
        raise ValueError(f"setup is {len(text)} characters long; at most {MAX_SETUP_CHARS}")
    text = text[1:] if text.startswith("#") else text
    values: Dict[str, object] = {}
    for pair in (text.split("&") if text else []):
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"setup: expected key=value, got {_shown(pair)}")
        if key not in _PARSERS:
            raise ValueError(f"setup: unknown key {_shown(key)}; known keys: {', '.join(ORDER)}")
        if key in values:
            raise ValueError(f"setup: {key} is given twice")
        values[key] = _PARSERS[key](value)
    setup = Setup(**values)  # type: ignore[arg-type]
    if setup.data != "none" and setup.n < 2:
        raise ValueError(f"setup: n must be at least 2 for data={setup.data}, got {setup.n}")
    if any(i >= setup.n for i in setup.drop):
        raise ValueError(f"setup: drop names point {max(setup.drop)} but only {setup.n} "
                         f"points are generated")
    return setup


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if "e" not in f"{value:.6g}" else repr(value)
    return str(value)


def format_setup(setup: Setup) -> str:
    """The canonical string of ``setup`` (``parse_setup(format_setup(s)) == s``)."""
    parts = []
    for key in ORDER:
        value = getattr(setup, key)
        if key == "add":
            text = ",".join(f"{_coordinate(x)}:{_coordinate(y)}:{c}" for x, y, c in value)
        elif isinstance(value, tuple):
            text = ",".join(str(v) for v in value)
        else:
            text = _text(value)
        parts.append(f"{key}={text}")
    return "&".join(parts)


def _coordinate(v: float) -> str:
    """A coordinate as the address writes it: at most 4 decimals, no exponent."""
    text = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def rounded_point(x: float, y: float, c: int) -> Tuple[float, float, int]:
    """A point as the address keeps it (4 decimals), checked."""
    x, y = float(_coordinate(x)), float(_coordinate(y))
    return _check_point(x, y, c, "point")


def with_points(setup: Setup, add: List[Tuple[float, float, int]],
                drop: Tuple[int, ...]) -> Setup:
    if len(add) > MAX_ADDED:
        raise ValueError(f"at most {MAX_ADDED} points of your own; remove some first")
    return replace(setup, add=tuple(add), drop=tuple(sorted(set(drop))))


def parse_csv(text: str) -> List[Tuple[float, float, int]]:
    """Points from CSV text: ``x,y,class`` per line (an optional header line first)."""
    if not isinstance(text, str):
        raise ValueError(f"csv must be text, got {type(text).__name__}")
    if len(text) > MAX_CSV_CHARS:
        raise ValueError(f"the CSV is {len(text)} characters long; at most {MAX_CSV_CHARS}")
    lines = [line.strip() for line in text.splitlines()]
    if lines and lines[0].replace(" ", "").lower() in ("x,y,class", "x1,x2,class", "x,y,label"):
        lines = lines[1:]
    points = []
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        if len(points) >= MAX_ADDED:
            raise ValueError(f"the CSV holds more than {MAX_ADDED} points")
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != 3:
            raise ValueError(f"CSV line {number}: expected x,y,class, got {_shown(line)}")
        if not (_NUMBER.fullmatch(cells[0]) and _NUMBER.fullmatch(cells[1])
                and re.fullmatch(r"\d", cells[2])):
            raise ValueError(f"CSV line {number}: x and y must be plain numbers and class a "
                             f"digit, got {_shown(line)}")
        points.append(rounded_point(float(cells[0]), float(cells[1]), int(cells[2])))
    if not points:
        raise ValueError("the CSV holds no points (expected lines of x,y,class)")
    return points
