"""How the fast paths pick their algorithm, and the test-only way to name one instead.

Convolution and pooling have several algorithms of each kind (the columns' layout, the input
gradient, the weight gradient, the max pool). Each algorithm is an ``Algorithm``: two small
pure functions of the geometry, ``chosen`` (the fast path takes the first algorithm of its
kind whose ``chosen`` holds) and ``runs`` (it can compute that geometry). A test runs a named
one, and smaller chunks, where the geometry would pick another:

    with forced(input_grad="phase_planes", chunk_bytes=1) as chosen:
        out = conv2d(x, w, b, stride=2, padding=1)
        out.backward(g)
    assert ("input_grad", "phase_planes") in chosen

and compares it with ``microgradnn.tensor.reference``; ``chosen`` lists every choice made
in the block, (kind, name). ``forced`` is for tests: it changes the choice for the whole
process while its block runs.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Tuple

__all__ = ["Algorithm", "KINDS", "choose", "forced", "active", "chunk_bytes"]

# The kinds of choice a test can force (``chunk_bytes``: the size each chunk's work arrays
# are cut to fit, about the core's cache).
KINDS = ("layout", "input_grad", "weight_grad", "max_pool", "chunk_bytes")

_CHUNK_BYTES = 1 << 20
_FORCED: Dict[str, Any] = {}
_CHOSEN: List[List[Tuple[str, str]]] = []  # one list per ``forced`` block running


class Algorithm(NamedTuple):
    """One algorithm of a kind: where it is chosen, and where it can run at all."""

    chosen: Callable[[Any], bool]
    runs: Callable[[Any], bool]


def choose(kind: str, algorithms: Mapping[str, Algorithm], geometry: Any) -> str:
    """The name of the first of ``algorithms`` chosen for ``geometry``, or the forced one
    (which must run there)."""
    name = _FORCED.get(kind)
    if name is None:
        for name, algorithm in algorithms.items():
            if algorithm.chosen(geometry):
                break
        else:
            raise AssertionError(f"no {kind} algorithm is chosen for {geometry}")
    elif name not in algorithms:
        raise ValueError(f"forced {kind} {name!r} is none of {', '.join(algorithms)}")
    elif not algorithms[name].runs(geometry):
        raise ValueError(f"forced {kind} {name!r} cannot run {geometry}")
    if _CHOSEN:
        _CHOSEN[-1].append((kind, name))
    return name


@contextmanager
def forced(**names: Any) -> Iterator[List[Tuple[str, str]]]:
    """Within the block, every choice of a kind named here (``KINDS``) takes the given
    algorithm (or chunk size in bytes); yields the list of choices made, (kind, name)."""
    unknown = set(names) - set(KINDS)
    if unknown:
        raise ValueError(f"forced: unknown kind(s) {sorted(unknown)}; known: {', '.join(KINDS)}")
    saved = dict(_FORCED)
    _FORCED.update(names)
    _CHOSEN.append([])
    try:
        yield _CHOSEN[-1]
    finally:
        _CHOSEN.pop()
        _FORCED.clear()
        _FORCED.update(saved)


def active() -> bool:
    """Whether a ``forced`` block runs (choices are then made afresh and recorded)."""
    return bool(_CHOSEN)


def chunk_bytes() -> int:
    """The bytes a chunk's work arrays are cut to fit (forced in tests)."""
    return _FORCED.get("chunk_bytes", _CHUNK_BYTES)
