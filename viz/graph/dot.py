"""Small DOT helpers shared by ``viz.graph.graph``, ``viz.graph.network`` and the stepper.

Escaping of user strings into HTML-like labels, the one number format of the
pictures, a colour-blind-safe diverging colour scale, and rendering with one clear
error when the graphviz ``dot`` binary is missing or fails.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
from typing import Iterable, Optional, Tuple

import graphviz

from microgradnn.engine import format_number
from microgradnn.fileio import write_atomic as _write_atomic

__all__ = [
    "escape_html", "format_value", "diverging_colour", "sequential_colour", "text_colour",
    "max_abs", "intensity", "scale_legend", "GraphvizNotFoundError", "GraphvizFailedError", "Picture",
    "render", "write_atomic",
    "MONO_FONT", "INSTALL_HINT", "MAX_LABEL", "readable_text",
]

MONO_FONT = "DejaVu Sans Mono,Courier,monospace"
MAX_LABEL = 1000  # characters of one user string shown in a picture

# Ends of ColorBrewer's PuOr scale, which stays distinguishable under the common
# colour-vision deficiencies: purple for negative values, orange for positive ones.
_NEUTRAL = (0xF7, 0xF7, 0xF7)
_NEGATIVE = (0x5E, 0x3C, 0x99)
_POSITIVE = (0xE6, 0x61, 0x01)

_HTML_ESCAPES = {
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    # Braces, brackets and backslashes mean nothing in HTML-like labels, but they are
    # written as entities so no DOT or record-label parser can ever read them.
    "{": "&#123;", "}": "&#125;", "\\": "&#92;", "[": "&#91;", "]": "&#93;", "|": "&#124;",
}


def readable_text(text: str, limit: int = MAX_LABEL) -> str:
    """``text`` that every picture and page can hold: lone surrogates (text that is not
    UTF-8, e.g. from undecodable bytes) become U+FFFD, and past ``limit`` characters it is
    cut to end in "…"."""
    if len(text) > limit:
        text = text[:limit - 1] + "\u2026"
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def escape_html(text: str) -> str:
    """Make any user string safe inside a graphviz HTML-like label.

    Markup characters become entities, newlines become ``<BR/>``, tabs spaces, and
    other control characters their visible Unicode "control pictures" (``␀``), since
    graphviz rejects them; a lone surrogate (not UTF-8) becomes U+FFFD. Past
    ``MAX_LABEL`` characters the text is cut and ends in "…" (dot fails on huge
    labels). A non-empty string never escapes to an empty one.
    """
    out = []
    for ch in readable_text(str(text).replace("\r\n", "\n").replace("\r", "\n")):
        if ch in _HTML_ESCAPES:
            out.append(_HTML_ESCAPES[ch])
        elif ch == "\n":
            out.append("<BR/>")
        elif ch == "\t":
            out.append(" ")
        elif ord(ch) < 32 or ord(ch) == 127:
            # graphviz rejects control characters; show their Unicode pictures (␀, ␡)
            out.append(chr(0x2400 + ord(ch)) if ord(ch) < 32 else "\u2421")
        else:
            out.append(ch)
    return "".join(out)


def format_value(x: float) -> str:
    """A number for a picture: ``format_number`` (4 decimals) when that shows it
    faithfully, scientific notation for very large or very small non-zero values."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    magnitude = abs(x)
    if magnitude >= 1e6 or 0.0 < magnitude < 1e-4:
        return f"{x:.4e}"
    text = format_number(x)
    return "0.0000" if text == "-0.0000" else text


def max_abs(values: Iterable[float]) -> float:
    """Largest finite ``|v|`` (0.0 if none): the normalisation of a whole picture."""
    best = 0.0
    for v in values:
        if math.isfinite(v) and abs(v) > best:
            best = abs(v)
    return best


def _mix(a: Tuple[int, int, int], b: Tuple[int, int, int], t: float) -> str:
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def intensity(value: float, scale: float) -> float:
    """How strongly ``value`` shows on a scale whose full colour is at ``|value| = scale``: 0..1."""
    if scale <= 0.0 or not math.isfinite(value):
        return 0.0 if not math.isinf(value) else 1.0
    # Square root so that gradients ten times smaller than the largest still show.
    return min(1.0, abs(value) / scale) ** 0.5


def diverging_colour(value: float, scale: float) -> str:
    """Hex colour for ``value`` on the purple (negative) - grey - orange (positive)
    scale, where ``scale`` is the picture's largest ``|value|``."""
    t = intensity(value, scale)
    return _mix(_NEUTRAL, _POSITIVE if value > 0 else _NEGATIVE, t)


def scale_legend(scale: float) -> str:
    """What a gradient colour means (a line of an HTML-like label)."""
    return (f"grad colour: purple &lt; 0 &lt; orange, full at |grad| = {format_value(scale)}, "
            f"the largest drawn but the output's own seed (square-root scale)")


def sequential_colour(value: float, scale: float) -> str:
    """Hex colour for a non-negative ``value`` (e.g. summed ``|grad|``): grey to orange."""
    return _mix(_NEUTRAL, _POSITIVE, intensity(value, scale))


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (``#rrggbb``)."""
    r, g, b = (int(background[i:i + 2], 16) for i in (1, 3, 5))
    luminance = 0.299 * r + 0.587 * g + 0.114 * b
    return "#000000" if luminance > 140 else "#ffffff"


INSTALL_HINT = (
    "the graphviz 'dot' program was not found on PATH, so the picture cannot be rendered. "
    "Install graphviz (Debian/Ubuntu: 'sudo apt-get install graphviz'; macOS: "
    "'brew install graphviz'; conda: 'conda install -c conda-forge graphviz'; Windows: "
    "https://graphviz.org/download/). The DOT text is still available as graph.source."
)


class GraphvizNotFoundError(graphviz.ExecutableNotFound):
    """The graphviz ``dot`` program is not installed or not on ``PATH``.

    A subclass of graphviz's own ``ExecutableNotFound``, so code catching that still works.
    """

    def __init__(self, message: str = INSTALL_HINT) -> None:
        RuntimeError.__init__(self, message)


class Picture(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering says how to install graphviz if ``dot`` is missing.

    Building it and reading ``.source`` never need the ``dot`` binary.
    """

    def pipe(self, *args, **kwargs):  # type: ignore[override]
        return _with_install_hint(super().pipe, *args, **kwargs)

    def render(self, *args, **kwargs):  # type: ignore[override]
        return _with_install_hint(super().render, *args, **kwargs)


class GraphvizFailedError(OSError):
    """The graphviz ``dot`` program ran and failed (an error exit, or killed by a signal,
    e.g. out of memory); the message is one line with its status and first error line."""


def _failure(error: subprocess.CalledProcessError) -> GraphvizFailedError:
    status = error.returncode
    if status < 0:
        try:
            how = f"was killed by signal {signal.Signals(-status).name}"
        except ValueError:
            how = f"was killed by signal {-status}"
    else:
        how = f"exited with status {status}"
    stderr = error.stderr or b""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else str(stderr)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = f": {lines[0][:200]}" if lines else ""
    return GraphvizFailedError(f"graphviz 'dot' {how} while laying out the picture{detail}")


def _with_install_hint(call, *args, **kwargs):
    """``call(*args, **kwargs)``, a missing ``dot`` raised as ``GraphvizNotFoundError`` and a
    failing one as ``GraphvizFailedError`` (one line each, dot's own words in it: nothing
    of dot's is printed on stderr besides)."""
    kwargs.setdefault("quiet", True)
    try:
        return call(*args, **kwargs)
    except graphviz.ExecutableNotFound as error:
        if isinstance(error, GraphvizNotFoundError):
            raise
        raise GraphvizNotFoundError() from error
    except subprocess.CalledProcessError as error:
        raise _failure(error) from None
    except BrokenPipeError:
        raise GraphvizFailedError("graphviz 'dot' stopped reading the picture before its end "
                                  "(it failed on its input)") from None


def render(graph: graphviz.Digraph, path: str, fmt: Optional[str] = None) -> str:
    """Render ``graph`` to the file ``path`` atomically; the format defaults to its suffix.

    Raises ``GraphvizNotFoundError`` (with install instructions) if ``dot`` is missing.
    Returns ``path``.
    """
    fmt = fmt or os.path.splitext(path)[1].lstrip(".").lower()
    if not fmt:
        raise ValueError(f"cannot tell the picture format of {path!r}: "
                         f"give a suffix like .svg or .png")
    data = _with_install_hint(graph.pipe, format=fmt)
    write_atomic(path, data)
    return path


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see ``microgradnn.fileio``)."""
    _write_atomic(path, data)