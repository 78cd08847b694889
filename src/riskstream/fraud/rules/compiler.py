"""Compiling checked expressions to closures - no ``eval``, no tree walk per call.

Every node becomes a small Python closure, built once per rule set. Boolean expressions
are compiled twice, into *truth tests*: ``truth(e, True)`` answers "is ``e`` true?" and
``truth(e, False)`` "is ``e`` false?". With null, a boolean is true, false or unknown
(Kleene logic): ``a and b`` is true when both are true and false when either is false,
``not a`` is true when ``a`` is false, a comparison with a null side is unknown - so it is
neither true nor false, and neither is its negation. A rule fires only when its condition
is *true*: a missing feature never makes a rule fire, unless the rule asks with
``is null`` (or defaults it with ``coalesce``). Splitting the two questions lets ``and``,
``or`` and ``not`` compile to Python's own short-circuit operators.

Values follow SQL: arithmetic and functions with a null argument give null, and so does
division (or ``%``) by zero. Comparisons against a constant and tests of a feature are
specialised (one closure, one dict lookup); constant sub-expressions are folded at compile
time. A feature holding a value of the wrong type makes the closure raise ``TypeError``
(or ``AttributeError``); the rule set reports that rule as faulted for that evaluation.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeAlias

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

__all__ = ["Features", "Lists", "Predicate", "ValueFn", "compile_condition", "compile_value"]

Features: TypeAlias = Mapping[str, Any]
Lists: TypeAlias = Mapping[str, Collection[Any]]
#: A truth test: truthy when the expression is true (resp. false), for the features and lists.
Predicate: TypeAlias = Callable[[Features, Lists], Any]
#: A value: the expression's value, ``None`` for null.
ValueFn: TypeAlias = Callable[[Features, Lists], Any]

_EMPTY: frozenset[Any] = frozenset()
_NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def compile_condition(expr: Expr, *, fold: bool = True) -> Predicate:
    """A truth test that is truthy exactly when the (boolean) ``expr`` is true.

    ``fold=False`` compiles without constant folding (which is itself compiled that way).
    """
    return _Compiler(fold).truth(expr, True)


def compile_value(expr: Expr, *, fold: bool = True) -> ValueFn:
    """A function computing ``expr``'s value (``True``/``False``/``None`` for booleans)."""
    return _Compiler(fold).value(expr)


def _always(_f: Features, _l: Lists) -> bool:
    return True


def _never(_f: Features, _l: Lists) -> bool:
    return False


def _constant(value: Any) -> ValueFn:
    def constant(_f: Features, _l: Lists) -> Any:
        return value

    return constant


def _is_constant(expr: Expr) -> bool:
    """Whether ``expr`` reads no feature and no list (so it can be folded)."""
    if isinstance(expr, Literal):
        return True
    if isinstance(expr, FeatureRef | InNamedList):
        return False
    if isinstance(expr, Negate | Not | IsNull | InList):
        return _is_constant(expr.operand)
    if isinstance(expr, Arithmetic | Comparison):
        return _is_constant(expr.left) and _is_constant(expr.right)
    if isinstance(expr, Between):
        return all(_is_constant(e) for e in (expr.operand, expr.low, expr.high))
    if isinstance(expr, Logical):
        return all(_is_constant(e) for e in expr.operands)
    return all(_is_constant(a) for a in expr.args)


class _Compiler:
    """Compiles nodes to closures; with ``fold``, constant sub-expressions to constants."""

    def __init__(self, fold: bool) -> None:
        self.fold = fold

    def folded(self, expr: Expr) -> tuple[bool, Any]:
        """``(True, value)`` if ``expr`` is a constant (folded), else ``(False, None)``."""
        if isinstance(expr, Literal):
            return True, expr.value
        if self.fold and _is_constant(expr):
            return True, _Compiler(fold=False).value(expr)({}, {})
        return False, None

    # -- truth tests -----------------------------------------------------------------------

    def truth(self, expr: Expr, want: bool) -> Predicate:
        """A test that is truthy when the boolean ``expr`` is ``want`` (never when null)."""
        constant, value = self.folded(expr)
        if constant:
            return _always if value is want else _never
        if isinstance(expr, FeatureRef):
            return _feature_truth(expr.name, want)
        if isinstance(expr, Not):
            return self.truth(expr.operand, not want)
        if isinstance(expr, Logical):
            tests = [self.truth(o, want) for o in expr.operands]
            return _all(tests) if (expr.op == "and") == want else _any(tests)
        if isinstance(expr, Comparison):
            return self.comparison(expr.op if want else _NEGATED[expr.op], expr.left, expr.right)
        if isinstance(expr, IsNull):
            return _null_test(self.value(expr.operand), is_null=expr.negated != want)
        if isinstance(expr, InList):
            members = frozenset(i.value for i in expr.items)
            return _membership(self.value(expr.operand), members, inside=expr.negated != want)
        if isinstance(expr, InNamedList):
            inside = expr.negated != want
            return _named_membership(self.value(expr.operand), expr.list_name, inside=inside)
        if isinstance(expr, Between):
            return self.between(expr, inside=expr.negated != want)
        if isinstance(expr, Call) and expr.function in _STRING_TESTS:
            return self.string_test(expr, want)
        return _truth_of_value(self.value(expr), want)

    def comparison(self, op: str, left: Expr, right: Expr) -> Predicate:
        """A test for ``left op right`` being true (so both sides known)."""
        left_const, left_value = self.folded(left)
        right_const, right_value = self.folded(right)
        if left_const and not right_const:  # 5 < x  →  x > 5
            op, left, right = _FLIPPED[op], right, left
            right_const, right_value = True, left_value
        if right_const:
            if right_value is None:
                return _never
            if isinstance(left, FeatureRef):
                return _FEATURE_VS_CONSTANT[op](left.name, right_value)
            return _VALUE_VS_CONSTANT[op](self.value(left), right_value)
        compare = _COMPARE[op]
        lhs, rhs = self.value(left), self.value(right)

        def test(f: Features, lists: Lists) -> Any:
            a = lhs(f, lists)
            if a is None:
                return False
            b = rhs(f, lists)
            return b is not None and compare(a, b)

        return test

    def between(self, expr: Between, *, inside: bool) -> Predicate:
        value, low, high = self.value(expr.operand), self.value(expr.low), self.value(expr.high)
        low_const, lo_c = self.folded(expr.low)
        high_const, hi_c = self.folded(expr.high)
        if low_const and high_const:
            if lo_c is None or hi_c is None:
                return _never
            if inside:
                return lambda f, lists: (v := value(f, lists)) is not None and lo_c <= v <= hi_c
            return lambda f, lists: (v := value(f, lists)) is not None and not lo_c <= v <= hi_c

        def test(f: Features, lists: Lists) -> Any:
            v = value(f, lists)
            if v is None:
                return False
            lo = low(f, lists)
            if lo is None:
                return False
            hi = high(f, lists)
            return hi is not None and (lo <= v <= hi) == inside

        return test

    def string_test(self, expr: Call, want: bool) -> Predicate:
        test_fn = _STRING_TESTS[expr.function]
        subject, part = self.value(expr.args[0]), self.value(expr.args[1])

        def test(f: Features, lists: Lists) -> Any:
            s = subject(f, lists)
            if s is None:
                return False
            p = part(f, lists)
            return p is not None and test_fn(s, p) == want

        return test

    # -- values ----------------------------------------------------------------------------

    def value(self, expr: Expr) -> ValueFn:
        constant, value = self.folded(expr)
        if constant:
            return _constant(value)
        if isinstance(expr, FeatureRef):
            name = expr.name
            return lambda f, _l: f.get(name)
        if isinstance(expr, Negate):
            operand = self.value(expr.operand)
            return lambda f, lists: None if (v := operand(f, lists)) is None else -v
        if isinstance(expr, Arithmetic):
            return self.arithmetic(expr)
        if isinstance(expr, Call) and expr.function not in _STRING_TESTS:
            return self.call(expr)
        # Boolean-valued: true / false / null from the two truth tests.
        is_true, is_false = self.truth(expr, True), self.truth(expr, False)

        def boolean(f: Features, lists: Lists) -> bool | None:
            if is_true(f, lists):
                return True
            return False if is_false(f, lists) else None

        return boolean

    def arithmetic(self, expr: Arithmetic) -> ValueFn:
        lhs, rhs = self.value(expr.left), self.value(expr.right)
        if expr.op in {"/", "%"}:
            divide_by = operator.truediv if expr.op == "/" else operator.mod

            def divide(f: Features, lists: Lists) -> Any:
                a = lhs(f, lists)
                if a is None:
                    return None
                b = rhs(f, lists)
                if b is None or b == 0:
                    return None
                return divide_by(a, b)

            return divide
        apply = {"+": operator.add, "-": operator.sub, "*": operator.mul}[expr.op]

        def combine(f: Features, lists: Lists) -> Any:
            a = lhs(f, lists)
            if a is None:
                return None
            b = rhs(f, lists)
            return None if b is None else apply(a, b)

        return combine

    def call(self, expr: Call) -> ValueFn:
        args = [self.value(a) for a in expr.args]
        name = expr.function
        if name in _UNARY:
            fn, (arg,) = _UNARY[name], args
            return lambda f, lists: None if (v := arg(f, lists)) is None else fn(v)
        if name == "coalesce":

            def coalesce(f: Features, lists: Lists) -> Any:
                for arg in args:
                    v = arg(f, lists)
                    if v is not None:
                        return v
                return None

            return coalesce
        pick = min if name == "min" else max

        def extreme(f: Features, lists: Lists) -> Any:
            values = [arg(f, lists) for arg in args]
            return None if any(v is None for v in values) else pick(values)

        return extreme


# -- building blocks ---------------------------------------------------------------------


def _feature_truth(name: str, want: bool) -> Predicate:
    if want:

        def is_true(f: Features, _l: Lists) -> Any:
            v = f.get(name)
            return v is not None and v

        return is_true

    def is_false(f: Features, _l: Lists) -> Any:
        v = f.get(name)
        return v is not None and not v

    return is_false


def _truth_of_value(value: ValueFn, want: bool) -> Predicate:
    if want:

        def is_true(f: Features, lists: Lists) -> Any:
            v = value(f, lists)
            return v is not None and v

        return is_true

    def is_false(f: Features, lists: Lists) -> Any:
        v = value(f, lists)
        return v is not None and not v

    return is_false


def _all(tests: list[Predicate]) -> Predicate:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda f, lists: a(f, lists) and b(f, lists)
    if len(tests) == 3:
        a, b, c = tests
        return lambda f, lists: a(f, lists) and b(f, lists) and c(f, lists)
    if len(tests) == 4:
        a, b, c, d = tests
        return lambda f, lists: a(f, lists) and b(f, lists) and c(f, lists) and d(f, lists)
    head, tail = _all(tests[:4]), _all(tests[4:])
    return lambda f, lists: head(f, lists) and tail(f, lists)


def _any(tests: list[Predicate]) -> Predicate:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda f, lists: a(f, lists) or b(f, lists)
    if len(tests) == 3:
        a, b, c = tests
        return lambda f, lists: a(f, lists) or b(f, lists) or c(f, lists)
    if len(tests) == 4:
        a, b, c, d = tests
        return lambda f, lists: a(f, lists) or b(f, lists) or c(f, lists) or d(f, lists)
    head, tail = _any(tests[:4]), _any(tests[4:])
    return lambda f, lists: head(f, lists) or tail(f, lists)


def _feature_lt(name: str, c: Any) -> Predicate:
    def test(f: Features, _l: Lists) -> Any:
        v = f.get(name)
        return v is not None and v < c

    return test


def _feature_le(name: str, c: Any) -> Predicate:
    def test(f: Features, _l: Lists) -> Any:
        v = f.get(name)
        return v is not None and v <= c

    return test


def _feature_gt(name: str, c: Any) -> Predicate:
    def test(f: Features, _l: Lists) -> Any:
        v = f.get(name)
        return v is not None and v > c

    return test


def _feature_ge(name: str, c: Any) -> Predicate:
    def test(f: Features, _l: Lists) -> Any:
        v = f.get(name)
        return v is not None and v >= c

    return test


def _feature_eq(name: str, c: Any) -> Predicate:
    def test(f: Features, _l: Lists) -> Any:
        v = f.get(name)
        return v is not None and v == c

    return test


def _feature_ne(name: str, c: Any) -> Predicate:
    def test(f: Features, _l: Lists) -> Any:
        v = f.get(name)
        return v is not None and v != c

    return test


_FEATURE_VS_CONSTANT: dict[str, Callable[[str, Any], Predicate]] = {
    "<": _feature_lt,
    "<=": _feature_le,
    ">": _feature_gt,
    ">=": _feature_ge,
    "==": _feature_eq,
    "!=": _feature_ne,
}


def _value_vs_constant(op: str) -> Callable[[ValueFn, Any], Predicate]:
    compare = _COMPARE[op]

    def build(value: ValueFn, c: Any) -> Predicate:
        def test(f: Features, lists: Lists) -> Any:
            v = value(f, lists)
            return v is not None and compare(v, c)

        return test

    return build


_VALUE_VS_CONSTANT = {op: _value_vs_constant(op) for op in _COMPARE}


def _null_test(value: ValueFn, *, is_null: bool) -> Predicate:
    if is_null:
        return lambda f, lists: value(f, lists) is None
    return lambda f, lists: value(f, lists) is not None


def _membership(value: ValueFn, members: frozenset[Any], *, inside: bool) -> Predicate:
    if inside:

        def test_in(f: Features, lists: Lists) -> Any:
            v = value(f, lists)
            return v is not None and v in members

        return test_in

    def test_not_in(f: Features, lists: Lists) -> Any:
        v = value(f, lists)
        return v is not None and v not in members

    return test_not_in


def _named_membership(value: ValueFn, name: str, *, inside: bool) -> Predicate:
    if inside:

        def test_in(f: Features, lists: Lists) -> Any:
            v = value(f, lists)
            return v is not None and v in lists.get(name, _EMPTY)

        return test_in

    def test_not_in(f: Features, lists: Lists) -> Any:
        v = value(f, lists)
        return v is not None and v not in lists.get(name, _EMPTY)

    return test_not_in


_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "startswith": str.startswith,
    "endswith": str.endswith,
    "contains": operator.contains,
}


_UNARY: dict[str, Callable[[Any], Any]] = {
    "lower": str.lower,
    "upper": str.upper,
    "len": len,
    "abs": abs,
}
