"""A safe parser for small scalar expressions like ``tanh(x*w + b)``.

The text is parsed with Python's ``ast`` and then *walked*, never evaluated: only an
allow-list is accepted (names given values, numbers, ``+ - * / **``, unary ``-``/``+``,
and the engine functions ``exp log tanh sigmoid relu`` called on one argument, ``tanh(x)``,
or as the engine's methods, ``(x*w + b).tanh()``).
Anything else (attribute access, other calls, ``__import__``, lambdas, subscripts,
comprehensions, comparisons...) is refused with a ``ValueError`` that names it.
Each variable becomes one labelled ``Value`` leaf, shared by every use of the name,
so ``x*x`` has two edges from the same ``x``.

Nothing recurses on the input's length: the walk uses an explicit stack, and a flat sum
too long for Python's own parser (``x1 + x2 + ... + x5000``) is split at its top-level
``+``/``-`` and its terms parsed one by one. A math error names the op and its operands
(``1 / 1e-200`` overflows in its derivative). Names must be written as Python reads them:
``ﬁ`` (a ligature) would silently become ``fi``, so it is refused with a message saying so.
"""

from __future__ import annotations

import ast
import io
import math
import tokenize
import unicodedata
from typing import Dict, Iterable, List, Optional, Tuple, Union

from .activations import names as activation_names
from .engine import Value

__all__ = ["parse_expression", "parse_assignments", "FUNCTIONS", "MAX_EXPRESSION_LENGTH"]

FUNCTIONS = ("exp", "log") + activation_names()  # each a Value method
MAX_EXPRESSION_LENGTH = 10_000

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_REFUSED_OPERATORS = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<",
                      ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
                      ast.Not: "not", ast.Invert: "~"}
_DESCRIPTIONS = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "list comprehension", ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension", ast.GeneratorExp: "generator expression",
    ast.Compare: "comparison", ast.BoolOp: "boolean operator", ast.IfExp: "conditional expression",
    ast.NamedExpr: "assignment expression", ast.Starred: "starred expression",
    ast.List: "list", ast.Tuple: "tuple", ast.Dict: "dict", ast.Set: "set",
    ast.JoinedStr: "f-string", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.Slice: "slice",
}
_ALLOWED = (f"names, numbers, + - * / **, unary -, and the functions {', '.join(FUNCTIONS)} "
            f"as tanh(x) or x.tanh()")

Number = Union[int, float]


def _snippet(text: str, node: ast.AST) -> str:
    segment = ast.get_source_segment(text, node) or type(node).__name__
    return segment if len(segment) <= 60 else segment[:57] + "..."


def _refuse(text: str, node: ast.AST, what: Optional[str] = None) -> ValueError:
    what = what or _DESCRIPTIONS.get(type(node), type(node).__name__)
    return ValueError(f"{what} is not allowed: {_snippet(text, node)!r} (allowed: {_ALLOWED})")


def _number(text: str, node: ast.AST) -> Optional[float]:
    """The float of a literal number, or of ``-literal``/``+literal``; else None."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if not isinstance(node, ast.Constant):
        return None
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _refuse(text, node, f"the constant {value!r}")
    try:
        number = sign * float(value)
    except OverflowError:
        raise ValueError(f"the number {_snippet(text, node)!r} is too large for a float") from None
    if not math.isfinite(number):
        raise ValueError(f"the number {_snippet(text, node)!r} is not finite")
    return number


def _children(text: str, node: ast.AST, variables: Dict[str, float]) -> List[ast.AST]:
    """Check ``node`` against the allow-list and return the sub-expressions to evaluate first."""
    if _number(text, node) is not None:
        return []
    if isinstance(node, ast.Name):
        if not text.isascii():
            written = ast.get_source_segment(text, node)
            if written is not None and written != node.id:
                raise ValueError(f"the name {written!r} is read by Python as {node.id!r} "
                                 f"(identifiers are NFKC-normalized); write {node.id!r}")
        if node.id in FUNCTIONS:
            raise ValueError(f"{node.id!r} is a function: call it on one argument, "
                             f"like {node.id}(x)")
        if node.id not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise ValueError(f"the name {node.id!r} has no value (names with values: {known}); "
                             f"give it one, e.g. {node.id}=1.5")
        return []
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            symbol = _REFUSED_OPERATORS.get(type(node.op), type(node.op).__name__)
            raise _refuse(text, node, f"the operator {symbol!r}")
        if isinstance(node.op, ast.Pow) and _number(text, node.right) is not None:
            return [node.left]  # x ** 2: one operand, the exponent is part of the op
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            symbol = _REFUSED_OPERATORS.get(type(node.op), type(node.op).__name__)
            raise _refuse(text, node, f"the operator {symbol!r}")
        return [node.operand]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        # x.tanh(): the engine's method, as the README's Python writes it
        name = node.func.attr
        if name not in FUNCTIONS:
            raise ValueError(f"calling {_snippet(text, node.func)!r} is not allowed: "
                             f"{_snippet(text, node)!r} (allowed methods: {', '.join(FUNCTIONS)})")
        if node.keywords or node.args:
            raise ValueError(f".{name}() takes no arguments: {_snippet(text, node)!r}")
        return [node.func.value]
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Lambda):
            raise _refuse(text, node.func)
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS:
            called = name or _snippet(text, node.func)
            raise ValueError(f"calling {called!r} is not allowed: {_snippet(text, node)!r} "
                             f"(allowed functions: {', '.join(FUNCTIONS)})")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise ValueError(f"{name}() takes exactly one argument and no keywords: "
                             f"{_snippet(text, node)!r}")
        return [node.args[0]]
    raise _refuse(text, node)


def _apply(text: str, node: ast.AST, args: List[Value], leaves: Dict[str, Value],
           variables: Dict[str, float]) -> Value:
    number = _number(text, node)
    if number is not None:
        return Value(number)
    if isinstance(node, ast.Name):
        if node.id not in leaves:
            leaves[node.id] = Value(variables[node.id], label=node.id)
        return leaves[node.id]
    if isinstance(node, ast.BinOp):
        left = args[0]
        if len(args) == 1:
            return left ** _number(text, node.right)
        right = args[1]
        symbol = _BINARY[type(node.op)]
        if symbol == "+":
            return left + right
        if symbol == "-":
            return left - right
        if symbol == "*":
            return left * right
        if symbol == "/":
            return left / right
        return left ** right
    if isinstance(node, ast.UnaryOp):
        return -args[0] if isinstance(node.op, ast.USub) else args[0]
    name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
    return getattr(args[0], name)()  # an allowed engine function, checked before


_OP_NAMES = {"+": "sum", "-": "difference", "*": "product", "/": "division", "**": "power"}


def _op_name(node: ast.AST) -> str:
    if isinstance(node, ast.BinOp):
        return _OP_NAMES.get(_BINARY.get(type(node.op), ""), "operation")
    if isinstance(node, ast.UnaryOp):
        return "negation"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id
    return "operation"


def _shown_op(node: ast.AST, args: List[Value]) -> str:
    """The failing op with its operand values, e.g. ``the division 1 / 1e-200``."""
    values = [f"{a.data:g}" for a in args]
    if isinstance(node, ast.BinOp):
        symbol = _BINARY.get(type(node.op), "?")
        if len(values) == 1 and isinstance(node.op, ast.Pow):  # a literal exponent
            exponent = _number("", node.right)
            values.append(f"{exponent:g}" if exponent is not None else "?")
        return f"the {_op_name(node)} {f' {symbol} '.join(values)}"
    return f"{_op_name(node)}({', '.join(values)})"


def _math_error(text: str, node: ast.AST, args: List[Value], error: Exception) -> ValueError:
    """One line naming the op, its operands and what went wrong."""
    where = f"cannot evaluate {_snippet(text, node)!r}"
    message = str(error) if len(error.args) == 1 else ""
    overflow = isinstance(error, (OverflowError, ZeroDivisionError)) and (
        not message or message in ("float division by zero", "math range error")
        or message.startswith("division overflow")
        or (isinstance(error, ZeroDivisionError) and all(a.data != 0.0 for a in args)))
    if overflow or (isinstance(error, ValueError) and "non-finite" in message):
        # Python's own words name no op: the value or the local derivative left the floats.
        return ValueError(f"{where}: {_shown_op(node, args)} overflows, its value or its "
                          f"derivative is too large for a float (beyond 1.8e308)")
    return ValueError(f"{where}: {message or error}")


def _top_level_terms(text: str) -> List[Tuple[str, int, int]]:
    """Split ``text`` at its top-level binary ``+``/``-``: ``[(sign, start, end), ...]``
    character offsets of each term, the first with sign "+"."""
    line_starts = [0]
    for line in text.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    depth, previous, cuts = 0, None, []
    operand_end = (tokenize.NAME, tokenize.NUMBER, tokenize.STRING)
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.OP:
            if token.string in "([{":
                depth += 1
            elif token.string in ")]}":
                depth -= 1
            elif depth == 0 and token.string in ("+", "-") and previous is not None and (
                    previous.type in operand_end or previous.string in (")", "]", "}")):
                start = line_starts[token.start[0] - 1] + token.start[1]
                cuts.append((token.string, start))
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT,
                              tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            previous = token
    terms, sign, start = [], "+", 0
    for op, at in cuts:
        terms.append((sign, start, at))
        sign, start = op, at + 1
    terms.append((sign, start, len(text)))
    return terms


def _shift(tree: ast.AST, text: str, offset: int) -> None:
    """Move the positions of a term parsed alone to where it sits in ``text``."""
    line = text.count("\n", 0, offset) + 1
    line_start = text.rfind("\n", 0, offset) + 1
    column = len(text[line_start:offset].encode("utf-8"))  # ast columns count UTF-8 bytes
    for node in ast.walk(tree):
        if hasattr(node, "lineno") and node.lineno is not None:
            if node.lineno == 1:
                node.col_offset += column
            if getattr(node, "end_lineno", None) == 1:
                node.end_col_offset += column
            node.lineno += line - 1
            if getattr(node, "end_lineno", None) is not None:
                node.end_lineno += line - 1


def _parse_flat_sum(text: str) -> ast.Expression:
    """The tree of a sum too long for ``ast.parse``, built term by term, left to right."""
    too_deep = ValueError("expression is nested too deeply to parse")
    try:
        terms = _top_level_terms(text)
    except (tokenize.TokenError, SyntaxError):
        raise too_deep from None
    if len(terms) < 2:
        raise too_deep
    body: Optional[ast.expr] = None
    for sign, start, end in terms:
        piece = text[start:end]
        lead = len(piece) - len(piece.lstrip())
        piece = piece.strip()
        try:
            term = ast.parse(piece, mode="eval").body
        except SyntaxError as error:
            raise ValueError(f"cannot parse expression term {piece[:60]!r}: {error.msg}") from None
        except (RecursionError, MemoryError):
            raise too_deep from None
        _shift(term, text, start + lead)
        if body is None:
            body = term
            continue
        body = ast.BinOp(left=body, op=ast.Add() if sign == "+" else ast.Sub(), right=term,
                         lineno=body.lineno, col_offset=body.col_offset,
                         end_lineno=term.end_lineno, end_col_offset=term.end_col_offset)
    return ast.Expression(body=body)


def parse_expression(text: str, variables: Dict[str, float]) -> Value:
    """Build the ``Value`` graph of ``text`` with each name's leaf set from ``variables``.

    Example: ``parse_expression("tanh(x*w + b)", {"x": 2, "w": -3, "b": 6.88})``.
    Raises ``ValueError`` naming the problem for syntax errors, refused constructs,
    unknown names and math errors (``log(0)``, ``1/0``).
    """
    if not isinstance(text, str):
        raise TypeError(f"expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ValueError(f"expression is {len(text)} characters long; "
                         f"the limit is {MAX_EXPRESSION_LENGTH}")
    if not text.strip():
        raise ValueError("expression is empty")
    variables = {name: float(value) for name, value in variables.items()}
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        where = f" at column {error.offset}" if error.offset else ""
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ValueError(f"cannot parse expression {shown!r}: {error.msg}{where}") from None
    except (RecursionError, MemoryError):
        tree = _parse_flat_sum(text.strip())  # a long flat sum; anything else is refused
    text = text.strip()
    # Post-order walk with an explicit stack, so a long chain like 1+1+...+1 needs no recursion.
    leaves: Dict[str, Value] = {}
    results: List[Value] = []
    stack: List[Tuple[ast.AST, int]] = [(tree.body, -1)]
    while stack:
        node, arity = stack.pop()
        if arity < 0:
            children = _children(text, node, variables)
            stack.append((node, len(children)))
            stack.extend((child, -1) for child in reversed(children))
            continue
        args = results[len(results) - arity:] if arity else []
        del results[len(results) - arity:]
        try:
            results.append(_apply(text, node, args, leaves, variables))
        except (ZeroDivisionError, OverflowError, ValueError) as error:
            raise _math_error(text, node, args, error) from None
    return results[0]


def parse_assignments(items: Iterable[str]) -> Dict[str, float]:
    """Turn ``["x=2", "w=-3"]`` into ``{"x": 2.0, "w": -3.0}``.

    Each item must be ``NAME=NUMBER`` with ``NAME`` an identifier that is not one of
    the functions; a name given twice, a missing ``=``, or a value that is not a
    finite number raise ``ValueError`` naming the item.
    """
    out: Dict[str, float] = {}
    for item in items:
        name, sep, raw = str(item).partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep:
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        if not name.isidentifier():
            raise ValueError(f"{name!r} in {item!r} is not a valid name")
        folded = unicodedata.normalize("NFKC", name)
        if folded != name:
            raise ValueError(f"the name {name!r} in {item!r} is read by Python as {folded!r} "
                             f"(identifiers are NFKC-normalized); write {folded!r}")
        if name in FUNCTIONS:
            raise ValueError(f"{name!r} is a function name and cannot be given a value")
        if name in out:
            raise ValueError(f"{name!r} is given a value twice ({item!r})")
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"the value of {name!r} is not a number: {raw!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"the value of {name!r} must be finite, got {raw!r}")
        out[name] = value
    return out
