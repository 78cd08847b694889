"""The grammar: every construct parses to the node it should, with its position."""

from __future__ import annotations

import pytest

from riskstream.fraud.rules import (
    ValueType,
    parse_expression,
    parse_rules,
    render,
)
from riskstream.fraud.rules.nodes import (
    Arithmetic,
    Between,
    Call,
    Clause,
    Comparison,
    FeatureRef,
    InList,
    InNamedList,
    IsNull,
    Literal,
    Logical,
    Negate,
    Not,
    RuleDecl,
)

N, B, S, D = ValueType.NUMBER, ValueType.BOOL, ValueType.STRING, ValueType.DURATION


def f(name: str) -> FeatureRef:
    return FeatureRef(name=name)


def num(value: float) -> Literal:
    return Literal(value=value, type=N)


SEED = """\
# the seed rule of issue 5
rule ato.new_device_promo_rush
  version 3
  description "New device in an unusual country, high-value promo within 30 s of the first click"
  when login.new_device and login.new_country
       and promo.value >= 50 and promo.seconds_after_first_click <= 30
  score 60
  action challenge
  shadow            # optional: evaluated and recorded, never enforced
"""


def test_the_seed_rule_parses_clause_by_clause_with_positions() -> None:
    (decl,) = parse_rules(SEED, file="seed.rules")
    condition = Logical(
        op="and",
        operands=(
            f("login.new_device"),
            f("login.new_country"),
            Comparison(op=">=", left=f("promo.value"), right=num(50)),
            Comparison(op="<=", left=f("promo.seconds_after_first_click"), right=num(30)),
        ),
    )
    assert decl == RuleDecl(
        id="ato.new_device_promo_rush",
        clauses=(
            Clause(kind="version", value=3),
            Clause(
                kind="description",
                value="New device in an unusual country, high-value promo within 30 s of the "
                "first click",
            ),
            Clause(kind="when", value=condition),
            Clause(kind="score", value=60),
            Clause(kind="action", value="challenge"),
            Clause(kind="shadow", value=True),
        ),
    )
    assert (decl.file, decl.line, decl.column) == ("seed.rules", 2, 1)
    when = decl.clauses[2]
    assert (when.line, when.column, when.value_line, when.value_column) == (5, 3, 5, 8)
    assert isinstance(when.value, Logical)
    promo = when.value.operands[2]
    assert isinstance(promo, Comparison)
    assert (promo.line, promo.column, promo.op_line, promo.op_column) == (6, 12, 6, 24)
    version = decl.clauses[0]
    assert (version.line, version.column, version.value_column) == (3, 3, 11)


def test_clauses_in_any_order_on_one_line_and_several_rules() -> None:
    text = "rule a when x score -5 version 2\nrule b version 1 when y action block"
    a, b = parse_rules(text)
    assert [c.kind for c in a.clauses] == ["when", "score", "version"]
    assert a.clauses[1].value == -5
    assert [c.kind for c in b.clauses] == ["version", "when", "action"]
    assert (b.line, b.column) == (2, 1)


def test_an_empty_file_or_only_comments_has_no_rules() -> None:
    assert parse_rules("") == ()
    assert parse_rules("# nothing here\n\n   # still nothing\n") == ()


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a or b or c", Logical(op="or", operands=(f("a"), f("b"), f("c")))),
        (
            "a and b or c",
            Logical(op="or", operands=(Logical(op="and", operands=(f("a"), f("b"))), f("c"))),
        ),
        (
            "a and (b or c)",
            Logical(op="and", operands=(f("a"), Logical(op="or", operands=(f("b"), f("c"))))),
        ),
        ("not a and b", Logical(op="and", operands=(Not(operand=f("a")), f("b")))),
        ("not not a", Not(operand=Not(operand=f("a")))),
        ("not x == 1", Not(operand=Comparison(op="==", left=f("x"), right=num(1)))),
        ("x != 1", Comparison(op="!=", left=f("x"), right=num(1))),
        ("x < y", Comparison(op="<", left=f("x"), right=f("y"))),
        ("x > y", Comparison(op=">", left=f("x"), right=f("y"))),
        ("x is null", IsNull(operand=f("x"))),
        ("x is not null", IsNull(operand=f("x"), negated=True)),
        (
            'x in ["a", "b"]',
            InList(operand=f("x"), items=(Literal(value="a", type=S), Literal(value="b", type=S))),
        ),
        (
            "x not in [1, -2, 3.5,]",
            InList(operand=f("x"), items=(num(1), num(-2), num(3.5)), negated=True),
        ),
        (
            "x in [true, false]",
            InList(
                operand=f("x"), items=(Literal(value=True, type=B), Literal(value=False, type=B))
            ),
        ),
        (
            "x in [30s, -5m]",
            InList(
                operand=f("x"),
                items=(Literal(value=30_000, type=D), Literal(value=-300_000, type=D)),
            ),
        ),
        ("x in []", InList(operand=f("x"), items=())),
        (
            "device.id in blocklist.device",
            InNamedList(operand=f("device.id"), list_name="blocklist.device"),
        ),
        (
            "ip.address not in allowlist.ip",
            InNamedList(operand=f("ip.address"), list_name="allowlist.ip", negated=True),
        ),
        ("x between 1 and 2", Between(operand=f("x"), low=num(1), high=num(2))),
        (
            "x not between 1 and y + 1 and z",
            Logical(
                op="and",
                operands=(
                    Between(
                        operand=f("x"),
                        low=num(1),
                        high=Arithmetic(op="+", left=f("y"), right=num(1)),
                        negated=True,
                    ),
                    f("z"),
                ),
            ),
        ),
        (
            "a + b * c",
            Arithmetic(op="+", left=f("a"), right=Arithmetic(op="*", left=f("b"), right=f("c"))),
        ),
        (
            "a - b - c",
            Arithmetic(op="-", left=Arithmetic(op="-", left=f("a"), right=f("b")), right=f("c")),
        ),
        (
            "a / b % c",
            Arithmetic(op="%", left=Arithmetic(op="/", left=f("a"), right=f("b")), right=f("c")),
        ),
        (
            "(a + b) * c",
            Arithmetic(op="*", left=Arithmetic(op="+", left=f("a"), right=f("b")), right=f("c")),
        ),
        ("-a * -3", Arithmetic(op="*", left=Negate(operand=f("a")), right=Negate(operand=num(3)))),
        ("lower(s)", Call(function="lower", args=(f("s"),))),
        (
            'startswith(lower(s), "gift")',
            Call(
                function="startswith",
                args=(Call(function="lower", args=(f("s"),)), Literal(value="gift", type=S)),
            ),
        ),
        ("max(a, b, 3)", Call(function="max", args=(f("a"), f("b"), num(3)))),
        ("f()", Call(function="f", args=())),
        ("true", Literal(value=True, type=B)),
        ("false", Literal(value=False, type=B)),
        ("checkout.score > 1", Comparison(op=">", left=f("checkout.score"), right=num(1))),
        ("_x.y_2", f("_x.y_2")),
    ],
)
def test_expression_constructs(text: str, tree: object) -> None:
    assert parse_expression(text) == tree


@pytest.mark.parametrize(
    ("text", "value", "type_"),
    [
        ("42", 42, N),
        ("0.25", 0.25, N),
        ("10_000", 10_000, N),
        ("1_000.5", 1000.5, N),
        ("250ms", 250, D),
        ("30s", 30_000, D),
        ("5m", 300_000, D),
        ("24h", 86_400_000, D),
        ("7d", 604_800_000, D),
        ("1h30m", 5_400_000, D),
        ("1d2h3m4s5ms", 93_784_005, D),
        ("1.5s", 1_500, D),
        ("0ms", 0, D),
        ('"plain"', "plain", S),
        ('"quote \\" backslash \\\\ tab \\t é \\u00e9"', 'quote " backslash \\ tab \t é é', S),
        ('""', "", S),
    ],
)
def test_literals(text: str, value: object, type_: ValueType) -> None:
    literal = parse_expression(text)
    assert literal == Literal(value=value, type=type_)  # type: ignore[arg-type]
    assert type(literal.value) is type(value)  # type: ignore[union-attr]


def test_comments_and_line_breaks_are_whitespace_anywhere() -> None:
    expr = parse_expression("a # first\n  and  # second\n\n b")
    assert expr == Logical(op="and", operands=(f("a"), f("b")))
    assert (expr.operands[1].line, expr.operands[1].column) == (4, 2)  # type: ignore[union-attr]


def test_positions_of_nodes() -> None:
    expr = parse_expression("x in [1, 2]\n  or not lower(s) is null")
    assert isinstance(expr, Logical)
    in_list, negation = expr.operands
    assert isinstance(in_list, InList)
    assert (in_list.line, in_list.column) == (1, 1)
    assert [(i.line, i.column) for i in in_list.items] == [(1, 7), (1, 10)]
    assert isinstance(negation, Not)
    assert (negation.line, negation.column) == (2, 6)
    assert isinstance(negation.operand, IsNull)
    call = negation.operand.operand
    assert (call.line, call.column) == (2, 10)
    named = parse_expression("device.id  in  blocklist.device")
    assert isinstance(named, InNamedList)
    assert (named.list_line, named.list_column) == (1, 16)


def test_render_writes_canonical_text_that_parses_back() -> None:
    text = "not (a or b) and x + 1 < 2 * (y - 3) and d in [1h30m, 0ms] and s between 1 and 2"
    assert render(parse_expression(text)) == text
    messy = "  not(a   or b)and x+1<2*(y-3)  and d in [90m,0s]and s between 1 and 2 "
    assert render(parse_expression(messy)) == text


def test_positions_are_not_part_of_equality() -> None:
    assert parse_expression("a and b") == parse_expression("\n\n   a   and\n b")
