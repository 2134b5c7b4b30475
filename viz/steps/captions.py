"""How the stepper writes a derivative and a product in its captions (NOTATION.md's ∂).

    derivative("o", "x*w") == "∂o/∂(x*w)"      wrap("a + b") == "(a + b)"
    factor(-1.2) == "(-1.2000)"

Shared by the scalar steps (``backprop``) and the quiz made of them (``practice``).
"""

from __future__ import annotations

import re

from ..graph.dot import format_value

__all__ = ["derivative", "wrap", "factor", "is_call", "is_number"]

# labels like w1 or layers.0.w.1, indexed names like x[0] or w[1][0,2], ids, plain numbers
_SIMPLE = re.compile(r"^[\w.]+(\[[\d,]+\])*$")


def derivative(root_name: str, name: str) -> str:
    """``∂L/∂x``, compound names (and numbers) in parentheses: ``∂L/∂(x*w)``."""
    return f"∂{_wrap_name(root_name)}/∂{_wrap_name(name)}"


def _wrap_name(name: str) -> str:
    return name if _SIMPLE.match(name) and not is_number(name) else f"({name})"


def is_call(name: str) -> bool:
    """``f(...)`` or ``(...)`` whose first parenthesis closes at the very end."""
    m = re.match(r"^\w*\(", name)
    if not m or not name.endswith(")"):
        return False
    depth = 0
    for i in range(m.end() - 1, len(name)):
        depth += {"(": 1, ")": -1}.get(name[i], 0)
        if depth == 0:
            return i == len(name) - 1
    return False


def wrap(name: str) -> str:
    """Parenthesize anything but a simple name, a number or a call."""
    simple = bool(_SIMPLE.match(name)) or is_call(name) or name.startswith("[")
    return name if simple else f"({name})"


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def factor(x: float) -> str:
    """A number inside a product: negatives in parentheses, ``(-1.2000)``."""
    text = format_value(x)
    return f"({text})" if text.startswith("-") else text
