"""A plain tree-walking interpreter of rule expressions: the oracle for the compiler.

It spells out the documented semantics node by node - Kleene logic for booleans (true,
false, ``None`` for unknown), null propagation for values, division by zero is null - with
no specialisation, folding or truth-test splitting.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Mapping
from typing import Any

from riskstream.fraud.rules.nodes import (
    Arithmetic,
    Between,
    Call,
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

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def evaluate(expr: Expr, features: Mapping[str, Any], lists: Mapping[str, Collection[Any]]) -> Any:
    """The value of ``expr``: ``None`` for null / unknown."""

    def ev(e: Expr) -> Any:
        return evaluate(e, features, lists)

    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, FeatureRef):
        return features.get(expr.name)
    if isinstance(expr, Negate):
        v = ev(expr.operand)
        return None if v is None else -v
    if isinstance(expr, Arithmetic | Comparison):
        a, b = ev(expr.left), ev(expr.right)
        if a is None or b is None:
            return None
        if expr.op in {"/", "%"} and b == 0:
            return None
        return _OPS[expr.op](a, b)
    if isinstance(expr, Logical):
        values = [ev(o) for o in expr.operands]
        if expr.op == "and":
            if any(v is False for v in values):
                return False
            return True if all(v is True for v in values) else None
        if any(v is True for v in values):
            return True
        return False if all(v is False for v in values) else None
    if isinstance(expr, Not):
        v = ev(expr.operand)
        return None if v is None else not v
    if isinstance(expr, IsNull):
        return (ev(expr.operand) is None) != expr.negated
    if isinstance(expr, InList):
        v = ev(expr.operand)
        return None if v is None else (v in [i.value for i in expr.items]) != expr.negated
    if isinstance(expr, InNamedList):
        v = ev(expr.operand)
        return None if v is None else (v in lists.get(expr.list_name, ())) != expr.negated
    if isinstance(expr, Between):
        v, lo, hi = ev(expr.operand), ev(expr.low), ev(expr.high)
        if v is None or lo is None or hi is None:
            return None
        return (lo <= v <= hi) != expr.negated
    return _call(expr, [ev(a) for a in expr.args])


def _call(expr: Call, args: list[Any]) -> Any:
    if expr.function == "coalesce":
        return next((a for a in args if a is not None), None)
    if any(a is None for a in args):
        return None
    functions: dict[str, Callable[..., Any]] = {
        "lower": str.lower,
        "upper": str.upper,
        "len": len,
        "abs": abs,
        "startswith": str.startswith,
        "endswith": str.endswith,
        "contains": lambda s, part: part in s,
        "min": lambda *a: min(a),
        "max": lambda *a: max(a),
    }
    return functions[expr.function](*args)


def fires(expr: Expr, features: Mapping[str, Any], lists: Mapping[str, Collection[Any]]) -> bool:
    """Whether a rule with this condition fires: only when it is true."""
    return evaluate(expr, features, lists) is True
