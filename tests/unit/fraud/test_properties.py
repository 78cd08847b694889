"""Property tests: compiled closures equal the reference interpreter on random typed trees.

Random well-typed expressions over a small catalogue (two or three features of each type)
are evaluated on random features - each value possibly missing - and random lists:
the compiled value (with and without constant folding) equals the reference interpreter's,
and the compiled condition fires exactly when the reference says "true". The same trees
also type-check to the type they were generated for and survive ``render`` → ``parse``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.fraud.rules import (
    FeatureCatalogue,
    ListKind,
    ValueType,
    check_expression,
    compile_condition,
    compile_value,
    parse_expression,
    render,
)
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
from tests.unit.fraud import reference

N, B, S, D, T = (
    ValueType.NUMBER,
    ValueType.BOOL,
    ValueType.STRING,
    ValueType.DURATION,
    ValueType.TIMESTAMP,
)
FEATURES: dict[str, ValueType] = {
    "n.a": N,
    "n.b": N,
    "n.c": N,
    "d.a": D,
    "d.b": D,
    "t.a": T,
    "t.b": T,
    "s.a": S,
    "s.b": S,
    "b.a": B,
    "b.b": B,
}
LISTS = {"list.one": ListKind.DEVICE, "list.two": ListKind.IP}
CATALOGUE = FeatureCatalogue.of(FEATURES, lists=LISTS)
ALPHABET = "abAB"
ORDERED = (N, D, T)

# Values: bounded so no arithmetic overflows to inf/nan (whose comparisons are neither), and
# often drawn from a few small ones so that equal sides - the edge of every comparison - and
# zero divisors are common.
numbers = st.one_of(
    st.integers(0, 3), st.integers(0, 1000), st.integers(0, 100_000).map(lambda i: i / 100)
)
durations = st.one_of(st.sampled_from([0, 1_000, 60_000]), st.integers(0, 10 * 86_400_000))
timestamps = st.one_of(
    st.sampled_from([1_700_000_000_000, 1_700_000_060_000]),
    st.integers(1_600_000_000_000, 1_800_000_000_000),
)
strings = st.text(ALPHABET, max_size=3)
VALUES: dict[ValueType, st.SearchStrategy[Any]] = {
    N: numbers,
    D: durations,
    T: timestamps,
    S: strings,
    B: st.booleans(),
}


def literal(t: ValueType) -> st.SearchStrategy[Literal]:
    """A literal of type ``t`` (timestamps have no literal form: a duration stands in)."""
    if t is T:
        return st.nothing()
    return VALUES[t].map(lambda v: Literal(value=v, type=t))


def feature(t: ValueType) -> st.SearchStrategy[Expr]:
    return st.sampled_from([FeatureRef(name=n) for n, ft in FEATURES.items() if ft is t])


def leaf(t: ValueType) -> st.SearchStrategy[Expr]:
    return st.one_of(literal(t), feature(t)) if t is not T else feature(t)


def arith(op: str, left: st.SearchStrategy[Expr], right: st.SearchStrategy[Expr]) -> Any:
    return st.builds(lambda a, b: Arithmetic(op=op, left=a, right=b), left, right)


def call(name: str, *args: st.SearchStrategy[Expr]) -> Any:
    return st.tuples(*args).map(lambda a: Call(function=name, args=a))


def variadic(name: str, arg: st.SearchStrategy[Expr]) -> Any:
    return st.lists(arg, min_size=2, max_size=3).map(lambda a: Call(function=name, args=tuple(a)))


@cache
def exprs(t: ValueType, depth: int = 3) -> st.SearchStrategy[Expr]:
    """Well-typed expressions of type ``t``, nested up to ``depth`` (built once, cached)."""
    if depth == 0:
        return leaf(t)
    sub = depth - 1

    def e(x: ValueType) -> st.SearchStrategy[Expr]:
        return exprs(x, sub)

    options: list[st.SearchStrategy[Any]]
    if t is N:
        options = [
            e(N).map(lambda o: Negate(operand=o)),
            *(arith(op, e(N), e(N)) for op in "+-*/%"),
            arith("/", e(D), e(D)),
            call("len", e(S)),
            call("abs", e(N)),
            variadic("min", e(N)),
            variadic("max", e(N)),
            variadic("coalesce", e(N)),
        ]
    elif t is D:
        options = [
            e(D).map(lambda o: Negate(operand=o)),
            arith("+", e(D), e(D)),
            arith("-", e(D), e(D)),
            arith("-", e(T), e(T)),
            arith("*", e(D), e(N)),
            arith("*", e(N), e(D)),
            arith("/", e(D), e(N)),
            arith("%", e(D), e(D)),
            call("abs", e(D)),
            variadic("max", e(D)),
            variadic("coalesce", e(D)),
        ]
    elif t is T:
        options = [
            arith("+", e(T), e(D)),
            arith("+", e(D), e(T)),
            arith("-", e(T), e(D)),
            variadic("min", e(T)),
        ]
    elif t is S:
        options = [call("lower", e(S)), call("upper", e(S)), variadic("coalesce", e(S))]
    else:
        options = boolean_options(sub)
    return st.one_of(leaf(t), st.one_of(options))


def boolean_options(depth: int) -> list[st.SearchStrategy[Any]]:
    """Every boolean construct, over operands nested up to ``depth``."""

    def e(x: ValueType) -> st.SearchStrategy[Expr]:
        return exprs(x, depth)

    def comparison(t: ValueType) -> st.SearchStrategy[Expr]:
        ops = ["==", "!=", "<", "<=", ">", ">="] if t in ORDERED else ["==", "!="]
        return st.builds(
            lambda op, a, b: Comparison(op=op, left=a, right=b), st.sampled_from(ops), e(t), e(t)
        )

    def in_list(t: ValueType) -> st.SearchStrategy[Expr]:
        return st.builds(
            lambda o, items, neg: InList(operand=o, items=tuple(items), negated=neg),
            e(t),
            st.lists(literal(t), max_size=4),
            st.booleans(),
        )

    def between(t: ValueType) -> st.SearchStrategy[Expr]:
        return st.builds(
            lambda o, lo, hi, neg: Between(operand=o, low=lo, high=hi, negated=neg),
            e(t),
            e(t),
            e(t),
            st.booleans(),
        )

    return [
        st.builds(
            lambda op, ops: Logical(op=op, operands=tuple(ops)),
            st.sampled_from(["and", "or"]),
            st.lists(e(B), min_size=2, max_size=4),
        ),
        e(B).map(lambda o: Not(operand=o)),
        *(comparison(t) for t in (N, D, T, S, B)),
        *(
            st.builds(lambda o, neg: IsNull(operand=o, negated=neg), e(t), st.booleans())
            for t in (N, D, T, S, B)
        ),
        *(in_list(t) for t in (N, D, S, B)),
        st.builds(
            lambda o, name, neg: InNamedList(operand=o, list_name=name, negated=neg),
            e(S),
            st.sampled_from(sorted(LISTS)),
            st.booleans(),
        ),
        *(between(t) for t in ORDERED),
        st.builds(
            lambda name, a, b: Call(function=name, args=(a, b)),
            st.sampled_from(["startswith", "endswith", "contains"]),
            e(S),
            e(S),
        ),
        variadic("coalesce", e(B)),
    ]


@st.composite
def features(draw: st.DrawFn) -> dict[str, Any]:
    """Each catalogue feature: missing, explicitly ``None``, or a value of its type."""
    out: dict[str, Any] = {}
    for name, t in FEATURES.items():
        choice = draw(st.integers(0, 5))
        if choice == 0:
            continue
        out[name] = None if choice == 1 else draw(VALUES[t])
    return out


lists = st.fixed_dictionaries(
    {}, optional={name: st.frozensets(strings, max_size=4) for name in LISTS}
)
typed = st.sampled_from([N, D, T, S, B]).flatmap(lambda t: st.tuples(st.just(t), exprs(t)))


@settings(max_examples=600, deadline=None)
@given(typed, features(), lists)
def test_compiled_value_equals_the_reference(
    case: tuple[ValueType, Expr], feats: dict[str, Any], named: dict[str, Any]
) -> None:
    _, expr = case
    expected = reference.evaluate(expr, feats, named)
    assert compile_value(expr)(feats, named) == expected
    assert compile_value(expr, fold=False)(feats, named) == expected


@settings(max_examples=600, deadline=None)
@given(exprs(B, 4), features(), lists)
def test_compiled_condition_fires_exactly_when_the_reference_is_true(
    expr: Expr, feats: dict[str, Any], named: dict[str, Any]
) -> None:
    expected = reference.fires(expr, feats, named)
    assert bool(compile_condition(expr)(feats, named)) is expected
    assert bool(compile_condition(expr, fold=False)(feats, named)) is expected
    # and "not" never turns an unknown into a fire
    if reference.evaluate(expr, feats, named) is None:
        assert not compile_condition(Not(operand=expr))(feats, named)


@settings(max_examples=400, deadline=None)
@given(typed)
def test_generated_trees_type_check_to_their_type(case: tuple[ValueType, Expr]) -> None:
    t, expr = case
    assert check_expression(expr, CATALOGUE) == (t, [])


@settings(max_examples=400, deadline=None)
@given(typed)
def test_render_then_parse_gives_the_same_tree(case: tuple[ValueType, Expr]) -> None:
    _, expr = case
    assert parse_expression(render(expr)) == expr


text_literals = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(text_literals)
def test_any_string_literal_round_trips(value: str) -> None:
    expr = Comparison(op="==", left=FeatureRef(name="s.a"), right=Literal(value=value, type=S))
    assert parse_expression(render(expr)) == expr
