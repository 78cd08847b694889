r"""The grammar of features files, and the parser that turns their text into declarations.

One feature per line; ``#`` starts a comment; a line may go on over indented lines::

    feature user.checkouts_1h            = count of checkout per user over 1h
    feature user.avg_checkout_amount_30d = mean amount of checkout per user over 30d
    feature user.failed_logins_10m       = count of login per user over 10m where not success
    feature device.distinct_accounts_24h = distinct user of login, checkout, promo
                                             per device over 24h
    feature merchant.chargeback_rate_90d = ratio of chargeback to checkout per merchant over 90d

A declaration is ``feature NAME = MEASURE per ENTITY over DURATION [where CONDITIONS]``:

    count of K1, K2, ...           touches of those kinds
    sum | mean | min | max F of K1, K2, ...
    distinct F of K1, K2, ...      distinct values of field F
    ratio of K1 to K2              touches of K1 / touches of K2
    where FIELD | not FIELD | FIELD op LITERAL [and ...]   op: = == != < <= > >=

Literals are numbers (``500``, ``0.5``, ``-3``, ``10_000``), double-quoted strings with JSON
escapes, ``true`` and ``false``. Durations are whole milliseconds, units largest first
(``500ms 30s 10m 1h 1d 30d 1h30m``). The words ``feature count sum mean min max distinct
ratio of to per over where and not true false`` are keywords. The parser is LALR(1) (lark);
each declaration (from a line starting with ``feature`` to the next) is parsed on its own,
so a file with several syntax errors reports one per declaration.

This module only reads the text: names, kinds, fields and types are checked by
:mod:`.spec`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from riskstream.fraud.features.errors import FeatureError
from riskstream.fraud.rules.syntax_errors import end_position, expected_list

__all__ = [
    "GRAMMAR",
    "KEYWORDS",
    "ConditionDecl",
    "FeatureDecl",
    "Located",
    "format_duration",
    "parse_file",
]

GRAMMAR = r"""
start: feature_def*

feature_def: FEATURE NAME EQ measure PER NAME OVER DURATION where?
measure: COUNT OF kinds                                  -> count
        | (SUM | MEAN | MIN | MAX | DISTINCT) NAME OF kinds -> field_measure
        | RATIO OF NAME TO NAME                           -> ratio
kinds: NAME (_COMMA NAME)*
where: WHERE condition (_AND condition)*
condition: NAME                  -> flag
          | NOT NAME              -> not_flag
          | NAME (EQ | COMPARE) literal -> compare
literal: MINUS? NUMBER | STRING | TRUE | FALSE

FEATURE: "feature"
COUNT: "count"
SUM: "sum"
MEAN: "mean"
MIN: "min"
MAX: "max"
DISTINCT: "distinct"
RATIO: "ratio"
OF: "of"
TO: "to"
PER: "per"
OVER: "over"
WHERE: "where"
_AND: "and"
NOT: "not"
TRUE: "true"
FALSE: "false"
EQ: "="
COMPARE: "==" | "!=" | "<=" | ">=" | "<" | ">"
MINUS: "-"
_COMMA: ","
NAME: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/
DURATION.2: /(\d+(\.\d+)?(ms|s|m|h|d))+(?![A-Za-z0-9_])/
NUMBER: /\d+(_\d+)*(\.\d+(_\d+)*)?(?![A-Za-z_])/
STRING: /"([^"\\\n]|\\.)*"/
COMMENT: /#[^\n]*/
%ignore COMMENT
%ignore /\s+/
"""

KEYWORDS = frozenset(
    {
        "feature",
        "count",
        "sum",
        "mean",
        "min",
        "max",
        "distinct",
        "ratio",
        "of",
        "to",
        "per",
        "over",
        "where",
        "and",
        "not",
        "true",
        "false",
    }
)

# How a terminal is named in "expected ..." messages, in the order they are listed.
_DISPLAY = {
    "FEATURE": "feature",
    "EQ": "=",
    "COUNT": "count",
    "SUM": "sum",
    "MEAN": "mean",
    "MIN": "min",
    "MAX": "max",
    "DISTINCT": "distinct",
    "RATIO": "ratio",
    "OF": "of",
    "TO": "to",
    "PER": "per",
    "OVER": "over",
    "WHERE": "where",
    "_AND": "and",
    "_COMMA": "','",
    "NOT": "not",
    "COMPARE": "a comparison",
    "NAME": "a name",
    "DURATION": "a duration",
    "NUMBER": "a number",
    "STRING": "a string",
    "TRUE": "true",
    "FALSE": "false",
    "MINUS": "-",
    "$END": "end of file",
}
_ORDER = {name: i for i, name in enumerate(_DISPLAY)}

_CHAR_HINTS = {
    "&": "use and",
    "|": "use or",
    "!": "use not, or != to compare",
    "'": 'strings use double quotes: "text"',
}

_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_UNITS_DESC = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1))
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
# A line whose first word is ``feature`` starts a declaration: the unit of error recovery.
_FEATURE_START = re.compile(r"^[ \t]*feature(?=[ \t\r#]|$)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Located:
    """A word of the file and where it starts."""

    text: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class ConditionDecl:
    """One ``where`` condition as written: ``field``, ``not field`` or ``field op value``.

    A bare ``field`` reads as ``field = true``, ``not field`` as ``field = false``
    (``bare`` remembers how it was written, for messages).
    """

    field: Located
    op: str
    value: bool | int | float | str
    bare: bool
    value_line: int
    value_column: int


@dataclass(frozen=True, slots=True)
class FeatureDecl:
    """One ``feature`` declaration as written, every part with its position."""

    name: Located
    measure: Located
    field: Located | None
    kinds: tuple[Located, ...]
    entity: Located
    horizon_ms: int | None
    """``None`` when the duration could not be read (reported as ``bad-literal``)."""
    horizon: Located
    where: tuple[ConditionDecl, ...]
    line: int
    column: int


@cache
def _parser() -> Lark:
    return Lark(
        GRAMMAR,
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse_file(
    text: str, *, file: str = "<features>"
) -> tuple[tuple[FeatureDecl, ...], list[FeatureError]]:
    """Parse a features file into its declarations, collecting errors instead of raising.

    Each declaration is parsed on its own (from its ``feature`` line to the next), so one
    broken line does not hide the errors of the others; the declarations that parsed are
    returned along with the errors, in source order.
    """
    starts = [m.start() for m in _FEATURE_START.finditer(text)]
    bounds = [0, *starts, len(text)] if not starts or starts[0] != 0 else [*starts, len(text)]
    decls: list[FeatureDecl] = []
    errors: list[FeatureError] = []
    for begin, end in pairwise(bounds):
        # The end of a chunk is the end of the file only for the last one.
        ending = "end of file" if end == len(text) else "end of line"
        # Pad with the line breaks before the chunk so lark reports file positions.
        padded = "\n" * text.count("\n", 0, begin) + text[begin:end]
        builder = _Builder(file)
        try:
            tree = _parser().parse(padded)
        except UnexpectedInput as exc:
            errors.append(_syntax_error(exc, file, ending=ending))
            continue
        decls.extend(builder.feature(child) for child in tree.children if isinstance(child, Tree))
        errors.extend(builder.errors)
    return tuple(decls), errors


def format_duration(ms: int) -> str:
    """``ms`` the way the language writes it, units largest first: ``90d``, ``1h30m``."""
    if ms <= 0:
        return f"{ms}ms"
    parts = []
    for unit, scale in _UNITS_DESC:
        amount, ms = divmod(ms, scale)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def _syntax_error(exc: UnexpectedInput, file: str, *, ending: str) -> FeatureError:
    line, column = exc.line, exc.column
    if isinstance(exc, UnexpectedCharacters):
        char = exc.char
        hint = _CHAR_HINTS.get(char)
        if char == '"':
            message = "unterminated string (strings end on the line they start)"
        elif char.isdigit():
            message = (
                "cannot read this number or duration (durations are written like "
                "500ms, 30s, 10m, 1h, 1d or 30d)"
            )
        else:
            message = f"unexpected character {char!r}" + (f" ({hint})" if hint else "")
    elif isinstance(exc, UnexpectedToken):
        token = exc.token
        found = ending if token.type == "$END" else repr(str(token))
        message = f"unexpected {found}{expected_list(exc.expected, _ORDER, _DISPLAY)}"
        if token.type in _DISPLAY and str(token) in KEYWORDS:
            message += f" ({str(token)!r} is a keyword)"
        if token.type == "$END":
            line, column = end_position(exc)
    else:  # pragma: no cover - lark's LALR parser raises only the two above
        message = str(exc)
    return FeatureError(message, file=file, line=max(line, 1), column=max(column, 1), code="syntax")


class _Builder:
    """Turns lark's tree into declarations, collecting the literal errors it finds."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[FeatureError] = []

    def error(self, message: str, token: Token, code: str) -> None:
        line, column = _position(token)
        self.errors.append(
            FeatureError(message, file=self.file, line=line, column=column, code=code)
        )

    def feature(self, tree: Tree[Token]) -> FeatureDecl:
        keyword, name, _eq, measure, _per, entity, _over, horizon, *rest = tree.children
        kw = _token(keyword)
        kind_of, field, kinds = self.measure(_tree(measure))
        where = self.where(_tree(rest[0])) if rest else ()
        return FeatureDecl(
            name=_located(name),
            measure=kind_of,
            field=field,
            kinds=kinds,
            entity=_located(entity),
            horizon_ms=self.duration(_token(horizon)),
            horizon=_located(horizon),
            where=where,
            line=kw.line or 1,
            column=kw.column or 1,
        )

    def measure(self, tree: Tree[Token]) -> tuple[Located, Located | None, tuple[Located, ...]]:
        tokens = [c for c in tree.children if isinstance(c, Token)]
        if tree.data == "count":
            return _located(tokens[0]), None, self.kinds(tree)
        if tree.data == "field_measure":
            return _located(tokens[0]), _located(tokens[1]), self.kinds(tree)
        # ratio of K1 to K2: the two kinds, numerator first
        ratio, _of, numerator, _to, denominator = tokens
        return _located(ratio), None, (_located(numerator), _located(denominator))

    def kinds(self, tree: Tree[Token]) -> tuple[Located, ...]:
        kinds = _tree(tree.children[-1])
        return tuple(_located(c) for c in kinds.children if isinstance(c, Token))

    def where(self, tree: Tree[Token]) -> tuple[ConditionDecl, ...]:
        return tuple(self.condition(c) for c in tree.children if isinstance(c, Tree))

    def condition(self, tree: Tree[Token]) -> ConditionDecl:
        tokens = [c for c in tree.children if isinstance(c, Token)]
        if tree.data in {"flag", "not_flag"}:
            field = tokens[-1]
            return ConditionDecl(
                field=_located(field),
                op="=",
                value=tree.data == "flag",
                bare=True,
                value_line=field.line or 1,
                value_column=field.column or 1,
            )
        field, op = tokens
        literal = _tree(tree.children[-1])
        value, at = self.literal(literal)
        return ConditionDecl(
            field=_located(field),
            op="=" if str(op) == "==" else str(op),
            value=value,
            bare=False,
            value_line=at.line or 1,
            value_column=at.column or 1,
        )

    def literal(self, tree: Tree[Token]) -> tuple[bool | int | float | str, Token]:
        tokens = [t for t in tree.children if isinstance(t, Token)]
        first, last = tokens[0], tokens[-1]
        if last.type == "NUMBER":
            text = str(last).replace("_", "")
            number = float(text) if "." in text else int(text)
            return (-number if first.type == "MINUS" else number), first
        if last.type == "STRING":
            return self.string(last), last
        return last.type == "TRUE", last

    def duration(self, token: Token) -> int | None:
        total = 0.0
        previous = float("inf")
        for amount, unit in _DURATION_PART.findall(str(token)):
            scale = _UNITS_MS[unit]
            if scale >= previous:
                self.error(
                    f"duration {str(token)!r}: give each unit once, largest first (like 1h30m)",
                    token,
                    "bad-literal",
                )
                return None
            previous = scale
            total += float(amount) * scale
        if total != int(total):
            self.error(
                f"duration {str(token)!r} is not a whole number of milliseconds",
                token,
                "bad-literal",
            )
            return None
        return int(total)

    def string(self, token: Token) -> str:
        try:
            value = json.loads(str(token))
        except ValueError:
            self.error(f"invalid escape in string {token!s}", token, "bad-literal")
            return str(token)[1:-1]
        return str(value)


def _token(node: object) -> Token:
    if not isinstance(node, Token):  # pragma: no cover - the grammar puts a token here
        raise TypeError(f"expected a token, got {node!r}")
    return node


def _tree(node: object) -> Tree[Token]:
    if not isinstance(node, Tree):  # pragma: no cover - the grammar puts a tree here
        raise TypeError(f"expected a tree, got {node!r}")
    return node


def _position(token: Token) -> tuple[int, int]:
    return token.line or 1, token.column or 1


def _located(node: object) -> Located:
    token = _token(node)
    line, column = _position(token)
    return Located(str(token), line, column)
