"""Rejected rule files: every problem, with its file, line, column, code and message."""

from __future__ import annotations

import pickle

import pytest

from riskstream.errors import RiskstreamError
from riskstream.fraud.rules import (
    ERROR_CODES,
    Feature,
    FeatureCatalogue,
    ListKind,
    RuleError,
    RuleSet,
    RuleSetError,
    RuleSource,
    ValueType,
    check_expression,
    parse_expression,
)

CATALOGUE = FeatureCatalogue.of(
    {
        "promo.value": "number",
        "promo.code": "string",
        "login.new_device": "bool",
        "account.age_ms": "duration-ms",
        "checkout.time": "timestamp",
        "checkout.amount": "number",
        "ip.address": "string",
    }
)


def errors_of(text: str, catalogue: FeatureCatalogue = CATALOGUE) -> list[tuple[int, int, str]]:
    with pytest.raises(RuleSetError) as caught:
        RuleSet.from_text(text, catalogue, name="t.rules")
    return [(e.line, e.column, e.code) for e in caught.value.errors]


def messages_of(text: str) -> list[str]:
    with pytest.raises(RuleSetError) as caught:
        RuleSet.from_text(text, CATALOGUE, name="t.rules")
    return [str(e) for e in caught.value.errors]


def expression_errors(text: str) -> list[tuple[int, int, str, str]]:
    _, errors = check_expression(parse_expression(text), CATALOGUE)
    return [(e.line, e.column, e.code, e.message) for e in errors]


def test_rule_errors_join_the_riskstream_tree() -> None:
    assert issubclass(RuleError, RiskstreamError)
    assert issubclass(RuleSetError, RuleError)
    error = RuleError("boom", file="f.rules", line=3, column=7, code="syntax")
    assert str(error) == "f.rules:3:7: boom"
    assert error.location == ("f.rules", 3, 7)


# -- syntax --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (
            "rule a\n  version 1\n  when promo.value >\n  score 3\n",
            4,
            3,
            "unexpected 'score'; expected -, a name, a number, a duration, a string, true, false, "
            "'(' ('score' is a keyword)",
        ),
        (
            "rule a version 1 when promo.value = 3",
            1,
            35,
            "unexpected character '=' (use == to compare)",
        ),
        (
            "rule a version 1 when login.new_device && true",
            1,
            40,
            "unexpected character '&' (use and)",
        ),
        (
            "rule a version 1 when promo.code == 'x'",
            1,
            37,
            'unexpected character "\'" (strings use double quotes: "text")',
        ),
        (
            'rule a version 1 when promo.code == "x',
            1,
            37,
            "unterminated string (strings end on the line they start)",
        ),
        ("rule a version 1 when promo.value == null", 1, 38, "test for null with 'is null'"),
        ("rule a version 1 when account.age_ms < 5min", 1, 40, "durations are written like 250ms"),
        ("rule a version 1 when (promo.value > 1", 1, 39, "unexpected end of file; expected"),
        ("rule a version 1 when 1 < promo.value < 3", 1, 39, "unexpected '<'"),
        ("rule version 1 when x", 1, 6, "unexpected 'version'; expected a name"),
        (
            "garbage\nrule a version 1 when login.new_device",
            1,
            1,
            "unexpected 'garbage'; expected rule",
        ),
        ('rule a version 1 when promo.code == "\\q"', 1, 37, "invalid escape in string"),
        ("rule a version 1 when account.age_ms < 30m1h", 1, 40, "largest first"),
        (
            "rule a version 1 when account.age_ms < 1.5ms",
            1,
            40,
            "not a whole number of milliseconds",
        ),
    ],
)
def test_syntax_errors_say_where_and_what(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(RuleSetError) as caught:
        RuleSet.from_text(text, CATALOGUE, name="t.rules")
    (error,) = caught.value.errors
    assert (error.file, error.line, error.column) == ("t.rules", line, column)
    assert error.code in {"syntax", "bad-literal"}
    assert message in error.message


# -- semantics -----------------------------------------------------------------------------


def test_unknown_feature_with_a_suggestion() -> None:
    assert expression_errors("promo.valeu > 3") == [
        (1, 1, "unknown-feature", "unknown feature 'promo.valeu' (did you mean 'promo.value'?)")
    ]
    assert expression_errors("zzz") == [(1, 1, "unknown-feature", "unknown feature 'zzz'")]


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (
            "promo.value and true",
            1,
            1,
            "'and' needs true/false operands, but promo.value is a number",
        ),
        ("true or promo.code", 1, 9, "'or' needs true/false operands, but promo.code is a string"),
        ("not promo.value", 1, 5, "'not' needs true/false operands, but promo.value is a number"),
        ('"a" > 3', 1, 5, "cannot compare a string with a number"),
        ('promo.code < "b"', 1, 12, "cannot order strings with '<': only == and != compare them"),
        ("login.new_device > false", 1, 18, "cannot order bools with '>'"),
        (
            "account.age_ms < 600",
            1,
            16,
            "cannot compare a duration with a number "
            "(write durations with a unit: 250ms, 30s, 5m, 24h, 7d)",
        ),
        (
            "account.age_ms + 5 > 1h",
            1,
            16,
            "cannot apply '+' to a duration and a number (write durations",
        ),
        ("promo.code + 1 > 2", 1, 12, "cannot apply '+' to a string and a number"),
        (
            "checkout.time + checkout.time > checkout.time",
            1,
            15,
            "cannot apply '+' to a timestamp and a timestamp",
        ),
        ('-promo.code == ""', 1, 1, "cannot negate promo.code: it is a string"),
        (
            'promo.value in [1, "a", 2]',
            1,
            20,
            "cannot test a number against a list item that is a string",
        ),
        (
            "promo.value between 1 and 1h",
            1,
            27,
            "cannot compare a number with a duration in 'between'",
        ),
        (
            'promo.code between "a" and "b"',
            1,
            1,
            "'between' needs numbers, durations or timestamps",
        ),
        (
            "promo.value in blocklist.device",
            1,
            1,
            "lists hold ids (strings), but promo.value is a number",
        ),
        (
            "promo.code in blocklist.devices",
            1,
            15,
            "unknown list 'blocklist.devices' (did you mean 'blocklist.device'?)",
        ),
        (
            'lower(promo.value) == "a"',
            1,
            7,
            "lower needs string arguments, but promo.value is a number",
        ),
        (
            'lower(promo.code, promo.code) == "a"',
            1,
            1,
            "lower takes 1 argument, got 2: lower(string) → string",
        ),
        ("startswith(promo.code) ", 1, 1, "startswith takes 2 arguments, got 1"),
        ("max(promo.value) > 1", 1, 1, "max takes at least 2 arguments, got 1"),
        (
            "max(promo.value, account.age_ms) > 1",
            1,
            18,
            "cannot mix a number and a duration in max",
        ),
        ('coalesce(promo.code, 1) == "a"', 1, 22, "cannot mix a string and a number in coalesce"),
        (
            'abs(promo.code) == "a"',
            1,
            5,
            "abs needs number or duration arguments, but promo.code is a string",
        ),
        (
            'lowercase(promo.code) == "a"',
            1,
            1,
            "unknown function 'lowercase' (did you mean 'lower'?) (functions: abs, coalesce,",
        ),
    ],
)
def test_type_errors_say_where_and_what(text: str, line: int, column: int, message: str) -> None:
    (error,) = expression_errors(text)
    assert (error[0], error[1]) == (line, column)
    assert error[2] in {"type-mismatch", "unknown-list", "arity", "unknown-function"}
    assert message in error[3]


def test_a_list_of_the_wrong_kind_is_refused_when_the_feature_declares_its_kind() -> None:
    catalogue = FeatureCatalogue.of(
        [Feature("ip.address", ValueType.STRING, kind=ListKind.IP), Feature("x", ValueType.STRING)]
    )
    _, errors = check_expression(parse_expression("ip.address in blocklist.device"), catalogue)
    assert [(e.line, e.column, e.code, e.message) for e in errors] == [
        (1, 15, "list-kind", "ip.address holds ip ids, but blocklist.device holds device ids")
    ]
    for fine in (
        "ip.address in blocklist.ip",
        "x in blocklist.device",
        "lower(x) in allowlist.bin",
    ):
        assert check_expression(parse_expression(fine), catalogue) == (ValueType.BOOL, [])


def test_the_condition_must_be_a_bool() -> None:
    assert messages_of("rule a version 1 when promo.value + 1") == [
        "t.rules:1:23: the when condition must be true or false, but promo.value + 1 is a number"
    ]


def test_one_mistake_is_reported_once() -> None:
    # the unknown feature has no type, so '+', '>' and 'and' above it stay quiet
    assert expression_errors("(nope + 1 > 2) and login.new_device") == [
        (1, 2, "unknown-feature", "unknown feature 'nope'")
    ]


@pytest.mark.parametrize(
    ("clause", "message"),
    [
        ("version 0", "version must be a whole number of at least 1, not 0"),
        ("version -2", "not -2"),
        ("version 1.5", "not 1.5"),
    ],
)
def test_bad_versions(clause: str, message: str) -> None:
    text = f"rule a when true {clause}"
    assert errors_of(text) == [(1, 26, "bad-version")]
    assert message in messages_of(text)[0]


def test_unknown_action() -> None:
    text = "rule a version 1 when true action deny"
    assert errors_of(text) == [(1, 35, "unknown-action")]
    assert messages_of(text) == [
        "t.rules:1:35: unknown action 'deny' (actions: allow, review, challenge, block)"
    ]
    assert "did you mean 'block'" in messages_of("rule a version 1 when true action blok")[0]


def test_missing_and_duplicate_clauses() -> None:
    assert errors_of("rule a when true") == [(1, 1, "missing-clause")]
    assert errors_of("rule a version 1") == [(1, 1, "missing-clause")]
    assert errors_of("rule a version 1 when true\n  score 1 score 2") == [
        (2, 11, "duplicate-clause")
    ]
    assert messages_of("rule a version 1") == ["t.rules:1:1: rule 'a' has no when clause"]


def test_duplicate_rule_ids_name_the_first_definition() -> None:
    text = "rule a version 1 when true\n\nrule a version 2 when true\n"
    assert messages_of(text) == [
        "t.rules:3:1: duplicate rule id 'a' (first defined at t.rules:1:1)"
    ]


def test_duplicate_rule_ids_across_files() -> None:
    with pytest.raises(RuleSetError) as caught:
        RuleSet.build(
            [
                RuleSource("one.rules", "rule a version 1 when true"),
                RuleSource("two.rules", "\nrule a version 1 when true"),
            ],
            CATALOGUE,
        )
    assert [str(e) for e in caught.value.errors] == [
        "two.rules:2:1: duplicate rule id 'a' (first defined at one.rules:1:1)"
    ]


# -- several errors ------------------------------------------------------------------------

BROKEN = """\
rule ok.first
  version 1
  when login.new_device
  score 10

rule bad.syntax
  version 1
  when promo.value >= and login.new_device
  score 5

rule bad.types
  version 0
  when promo.valeu > 3 and "a" > 3
       and account.age_ms < 600
  action deny

rule bad.again
  version 1
  when (promo.value
  score 5

rule ok.first
  version 2
  when promo.value and true
"""


def test_a_file_with_several_errors_reports_all_of_them_in_order() -> None:
    with pytest.raises(RuleSetError) as caught:
        RuleSet.from_text(BROKEN, CATALOGUE, name="broken.rules")
    errors = caught.value.errors
    assert [(e.line, e.column, e.code) for e in errors] == [
        (8, 23, "syntax"),
        (12, 11, "bad-version"),
        (13, 8, "unknown-feature"),
        (13, 32, "type-mismatch"),
        (14, 27, "type-mismatch"),
        (15, 10, "unknown-action"),
        (20, 3, "syntax"),
        (22, 1, "duplicate-rule"),
        (24, 8, "type-mismatch"),
    ]
    assert all(e.file == "broken.rules" for e in errors)
    assert {e.code for e in errors} <= set(ERROR_CODES)
    first = caught.value
    assert (first.file, first.line, first.column, first.code) == ("broken.rules", 8, 23, "syntax")
    text = str(caught.value)
    assert text.startswith("rule set rejected, 9 errors:\nbroken.rules:8:23: unexpected 'and'")
    assert text.count("\n") == 9


def test_errors_across_files_come_file_by_file() -> None:
    with pytest.raises(RuleSetError) as caught:
        RuleSet.build(
            [
                RuleSource("b.rules", "rule x version 1 when nope"),
                RuleSource("a.rules", "rule y version 1 when = "),
            ],
            CATALOGUE,
        )
    assert [e.location for e in caught.value.errors] == [("b.rules", 1, 23), ("a.rules", 1, 23)]


def test_parse_expression_raises_the_set_error_too() -> None:
    with pytest.raises(RuleSetError) as caught:
        parse_expression("a >", file="expr")
    assert str(caught.value.errors[0]).startswith("expr:1:4: unexpected end of file")


def test_a_rule_set_error_needs_an_error() -> None:
    with pytest.raises(ValueError, match="at least one error"):
        RuleSetError([])


def test_the_unit_hint_only_when_a_bare_number_meets_a_duration() -> None:
    assert "(write durations" in expression_errors("account.age_ms > 5")[0][3]
    assert "(write durations" in expression_errors("account.age_ms in [5]")[0][3]
    assert expression_errors("promo.value < 1h")[0][3] == (
        "cannot compare a number with a duration"
    )


def test_errors_survive_pickling() -> None:
    with pytest.raises(RuleSetError) as caught:
        RuleSet.from_text(BROKEN, CATALOGUE, name="broken.rules")
    again = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes
    assert str(again) == str(caught.value)
    assert [e.location for e in again.errors] == [e.location for e in caught.value.errors]
    assert again.errors[0].code == "syntax"


def test_an_unfinished_rule_ends_where_the_next_one_starts_crlf_or_not() -> None:
    for newline in ("\n", "\r\n"):
        text = newline.join(
            ["rule a version 1 when x >", "rule b version 1 when login.new_device", "rule c when"]
        )
        with pytest.raises(RuleSetError) as caught:
            RuleSet.from_text(text, CATALOGUE, name="t.rules")
        assert [(e.line, e.column, e.message.split(";")[0]) for e in caught.value.errors] == [
            (1, 26, "unexpected end of rule"),
            (3, 12, "unexpected end of file"),
        ]
