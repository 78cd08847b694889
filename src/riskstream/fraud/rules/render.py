"""Rendering nodes back to rule-language text.

``render(expr)`` writes the canonical form of an expression: single spaces, parentheses
only where precedence needs them, durations in their largest units (``1h30m``). Parsing
the text gives back an equal tree (positions aside), which the tests check on random trees.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

from riskstream.fraud.rules.catalogue import ValueType
from riskstream.fraud.rules.nodes import (
    Arithmetic,
    Between,
    Comparison,
    Expr,
    FeatureRef,
    InList,
    InNamedList,
    IsNull,
    Literal,
    Logical,
    Negate,
    Not,
)

__all__ = ["render", "render_duration", "render_literal"]

# Binding strength: the grammar's levels, loosest first.
_OR, _AND, _NOT, _PREDICATE, _SUM, _PRODUCT, _UNARY, _ATOM = range(8)
_ARITH_LEVEL = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "%": _PRODUCT}
_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1))


def render(expr: Expr) -> str:
    """The canonical text of an expression."""
    return _render(expr, _OR)


def render_literal(literal: Literal) -> str:
    """A literal as written in a rule file (``-5`` for a negative number)."""
    value = literal.value
    if literal.type is ValueType.DURATION and isinstance(value, int):
        return render_duration(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"{value} has no literal form")
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


def render_duration(ms: int) -> str:
    """``5400000`` → ``"1h30m"``; ``0`` → ``"0ms"``; negative → ``"-1h"``."""
    if ms == 0:
        return "0ms"
    sign, rest, parts = ("-" if ms < 0 else ""), abs(ms), []
    for unit, size in _UNITS:
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return sign + "".join(parts)


def _level(expr: Expr) -> int:
    if isinstance(expr, Logical):
        return _OR if expr.op == "or" else _AND
    if isinstance(expr, Not):
        return _NOT
    if isinstance(expr, Comparison | IsNull | InList | InNamedList | Between):
        return _PREDICATE
    if isinstance(expr, Arithmetic):
        return _ARITH_LEVEL[expr.op]
    if isinstance(expr, Negate):
        return _UNARY
    if (
        isinstance(expr, Literal)
        and isinstance(expr.value, int | float)
        and not isinstance(expr.value, bool)
        and expr.value < 0
    ):
        return _UNARY  # written with a leading minus
    return _ATOM


def _render(expr: Expr, minimum: int) -> str:
    text = _bare(expr)
    return f"({text})" if _level(expr) < minimum else text


def _bare(expr: Expr) -> str:
    if isinstance(expr, Literal):
        return render_literal(expr)
    if isinstance(expr, FeatureRef):
        return expr.name
    if isinstance(expr, Logical):
        inner = _AND + 1 if expr.op == "and" else _OR + 1
        return f" {expr.op} ".join(_render(o, inner) for o in expr.operands)
    if isinstance(expr, Not):
        return f"not {_render(expr.operand, _NOT)}"
    if isinstance(expr, Comparison):
        return f"{_render(expr.left, _SUM)} {expr.op} {_render(expr.right, _SUM)}"
    if isinstance(expr, IsNull):
        return f"{_render(expr.operand, _SUM)} is {'not ' if expr.negated else ''}null"
    if isinstance(expr, InList):
        items = ", ".join(render_literal(i) for i in expr.items)
        return f"{_render(expr.operand, _SUM)} {_in(expr.negated)} [{items}]"
    if isinstance(expr, InNamedList):
        return f"{_render(expr.operand, _SUM)} {_in(expr.negated)} {expr.list_name}"
    if isinstance(expr, Between):
        word = "not between" if expr.negated else "between"
        return (
            f"{_render(expr.operand, _SUM)} {word} "
            f"{_render(expr.low, _SUM)} and {_render(expr.high, _SUM)}"
        )
    if isinstance(expr, Arithmetic):
        level = _ARITH_LEVEL[expr.op]
        return f"{_render(expr.left, level)} {expr.op} {_render(expr.right, level + 1)}"
    if isinstance(expr, Negate):
        return f"-{_render(expr.operand, _UNARY)}"
    return f"{expr.function}({', '.join(_render(a, _OR) for a in expr.args)})"


def _in(negated: bool) -> str:
    return "not in" if negated else "in"
