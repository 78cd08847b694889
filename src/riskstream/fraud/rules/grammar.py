r"""The grammar of rule files, and the parser that turns their text into :mod:`.nodes`.

A rule file is a sequence of rules; ``#`` starts a comment; line breaks are plain
whitespace, so a condition may span lines::

    rule ato.new_device_promo_rush
      version 3
      description "New device in an unusual country, high-value promo within 30 s"
      when login.new_device and login.new_country
           and promo.value >= 50 and promo.seconds_after_first_click <= 30
      score 60
      action challenge
      shadow            # optional: evaluated and recorded, never enforced

Clauses may come in any order; ``version`` and ``when`` are required, ``score`` defaults
to 0, ``action`` to ``allow``, ``description`` to ``""``.

Expressions, loosest binding first::

    a or b                      a and b                     not a
    x == y   x != y   x < y   x <= y   x > y   x >= y        (not chainable)
    x is null   x is not null
    x in ["a", "b"]   x not in [1, 2]   x in blocklist.device   x not in allowlist.ip
    x between lo and hi   x not between lo and hi           (bounds included)
    x + y   x - y           x * y   x / y   x % y            -x
    42  0.5  10_000   30s  5m  24h  7d  250ms  1h30m   "text"   true  false
    promo.value   lower(x)   max(a, b)   (expr)

Keywords (``rule version description when score action shadow and or not is null in
between true false``) are reserved: they cannot be a feature name on their own, but may be
one segment of a dotted name (``checkout.score``). Numbers may group digits with ``_``;
durations are whole milliseconds, units largest first (``ms s m h d``); strings are
double-quoted on one line, with JSON escapes. The parser is LALR(1) (lark); a file
with several syntax errors reports one per rule, as every rule (a line starting with
``rule``) is parsed on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from itertools import pairwise

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from riskstream.fraud.rules.catalogue import ValueType
from riskstream.fraud.rules.errors import RuleError, RuleSetError
from riskstream.fraud.rules.nodes import (
    Arithmetic,
    Between,
    Call,
    Clause,
    Comparison,
    Expr,
    FeatureRef,
    InList,
    InNamedList,
    IsNull,
    Literal,
    LiteralValue,
    Logical,
    Negate,
    Not,
    RuleDecl,
)
from riskstream.fraud.rules.syntax_errors import end_position, expected_list

__all__ = ["GRAMMAR", "KEYWORDS", "parse_expression", "parse_file", "parse_rules"]

GRAMMAR = r"""
start: rule_def*
expression: expr

rule_def: RULE NAME clause*
?clause: VERSION signed_number     -> version_clause
       | DESCRIPTION STRING        -> description_clause
       | WHEN expr                 -> when_clause
       | SCORE signed_number       -> score_clause
       | ACTION NAME               -> action_clause
       | SHADOW                    -> shadow_clause
signed_number: MINUS? NUMBER

?expr: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: NOT not_expr                   -> not_
         | predicate
?predicate: sum
          | sum COMPARE sum               -> compare
          | sum _IS _NULL                 -> is_null
          | sum _IS NOT _NULL             -> is_not_null
          | sum _IN collection            -> in_
          | sum NOT _IN collection        -> not_in
          | sum _BETWEEN sum _AND sum     -> between
          | sum NOT _BETWEEN sum _AND sum -> not_between
collection: _LBRACKET (item (_COMMA item)* _COMMA?)? _RBRACKET  -> list_literal
          | NAME                                             -> named_list
item: MINUS? NUMBER | MINUS? DURATION | STRING | TRUE | FALSE
?sum: product
    | sum PLUS product        -> arith
    | sum MINUS product       -> arith
?product: unary
        | product STAR unary    -> arith
        | product SLASH unary   -> arith
        | product PERCENT unary -> arith
?unary: atom
      | MINUS unary           -> neg
?atom: NUMBER                 -> number
     | DURATION               -> duration
     | STRING                 -> string
     | TRUE                   -> true
     | FALSE                  -> false
     | NAME _LPAR (expr (_COMMA expr)*)? _RPAR -> call
     | NAME                   -> feature
     | _LPAR expr _RPAR

RULE: "rule"
VERSION: "version"
DESCRIPTION: "description"
WHEN: "when"
SCORE: "score"
ACTION: "action"
SHADOW: "shadow"
_OR: "or"
_AND: "and"
NOT: "not"
_IS: "is"
_NULL: "null"
_IN: "in"
_BETWEEN: "between"
TRUE: "true"
FALSE: "false"
COMPARE: "==" | "!=" | "<=" | ">=" | "<" | ">"
PLUS: "+"
MINUS: "-"
STAR: "*"
SLASH: "/"
PERCENT: "%"
_LPAR: "("
_RPAR: ")"
_LBRACKET: "["
_RBRACKET: "]"
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
        "rule",
        "version",
        "description",
        "when",
        "score",
        "action",
        "shadow",
        "or",
        "and",
        "not",
        "is",
        "null",
        "in",
        "between",
        "true",
        "false",
    }
)

# How a terminal is named in "expected ..." messages.
_DISPLAY = {
    "_OR": "or",
    "_AND": "and",
    "NOT": "not",
    "COMPARE": "a comparison",
    "_IS": "is",
    "_IN": "in",
    "_BETWEEN": "between",
    "PLUS": "+",
    "MINUS": "-",
    "STAR": "*",
    "SLASH": "/",
    "PERCENT": "%",
    "_NULL": "null",
    "NAME": "a name",
    "NUMBER": "a number",
    "DURATION": "a duration",
    "STRING": "a string",
    "TRUE": "true",
    "FALSE": "false",
    "_LPAR": "'('",
    "_RPAR": "')'",
    "_LBRACKET": "'['",
    "_RBRACKET": "']'",
    "_COMMA": "','",
    "RULE": "rule",
    "VERSION": "version",
    "DESCRIPTION": "description",
    "WHEN": "when",
    "SCORE": "score",
    "ACTION": "action",
    "SHADOW": "shadow",
    "$END": "end of file",
}
_ORDER = {name: i for i, name in enumerate(_DISPLAY)}

_CHAR_HINTS = {
    "=": "use == to compare",
    "&": "use and",
    "|": "use or",
    "!": "use not, or != to compare",
    "'": 'strings use double quotes: "text"',
}

_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
# A line whose first word is ``rule`` starts a rule: the unit of syntax-error recovery.
_RULE_START = re.compile(r"^[ \t]*rule(?=[ \t\r#]|$)", re.MULTILINE)


@cache
def _parser() -> Lark:
    return Lark(
        GRAMMAR,
        parser="lalr",
        lexer="basic",
        start=["start", "expression"],
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse_rules(text: str, *, file: str = "<rules>") -> tuple[RuleDecl, ...]:
    """Parse a rule file; raise :class:`RuleSetError` listing every syntax error."""
    decls, errors = parse_file(text, file=file)
    if errors:
        raise RuleSetError(errors)
    return decls


def parse_file(text: str, *, file: str = "<rules>") -> tuple[tuple[RuleDecl, ...], list[RuleError]]:
    """Parse a rule file into its declarations, collecting errors instead of raising.

    Each rule is parsed on its own (from its ``rule`` line to the next), so one broken rule
    does not hide the errors of the others; the declarations of the rules that parsed are
    returned along with the errors, in source order.
    """
    starts = [m.start() for m in _RULE_START.finditer(text)]
    bounds = [0, *starts, len(text)] if not starts or starts[0] != 0 else [*starts, len(text)]
    decls: list[RuleDecl] = []
    errors: list[RuleError] = []
    for begin, end in pairwise(bounds):
        chunk = text[begin:end]
        # The end of a chunk is the end of the file only for the last one.
        ending = "end of file" if end == len(text) else "end of rule"
        # Pad with the line breaks before the chunk so lark reports file positions.
        padded = "\n" * text.count("\n", 0, begin) + chunk
        builder = _Builder(file)
        try:
            tree = _parser().parse(padded, start="start")
        except UnexpectedInput as exc:
            errors.append(_syntax_error(exc, file, ending=ending))
            continue
        decls.extend(builder.rule(child) for child in tree.children if isinstance(child, Tree))
        errors.extend(builder.errors)
    return tuple(decls), errors


def parse_expression(text: str, *, file: str = "<expression>") -> Expr:
    """Parse one expression (``"promo.value >= 50"``); raise :class:`RuleSetError`."""
    builder = _Builder(file)
    try:
        tree = _parser().parse(text, start="expression")
    except UnexpectedInput as exc:
        raise RuleSetError([_syntax_error(exc, file)]) from None
    expr = builder.expr(tree.children[0])
    if builder.errors:
        raise RuleSetError(builder.errors)
    return expr


def _syntax_error(exc: UnexpectedInput, file: str, *, ending: str = "end of file") -> RuleError:
    line, column = exc.line, exc.column
    if isinstance(exc, UnexpectedCharacters):
        char = exc.char
        hint = _CHAR_HINTS.get(char)
        if char == '"':
            message = "unterminated string (strings end on the line they start)"
        elif char.isdigit():
            message = (
                "cannot read this number or duration (durations are written like "
                "250ms, 30s, 5m, 24h, 7d or 1h30m)"
            )
        else:
            message = f"unexpected character {char!r}" + (f" ({hint})" if hint else "")
    elif isinstance(exc, UnexpectedToken):
        token = exc.token
        found = ending if token.type == "$END" else repr(str(token))
        message = f"unexpected {found}{expected_list(exc.expected, _ORDER, _DISPLAY)}"
        if token.type == "_NULL":
            message += " (test for null with 'is null' or 'is not null')"
        elif token.type in {"RULE", "VERSION", "DESCRIPTION", "WHEN", "SCORE", "ACTION"}:
            message += f" ({str(token)!r} is a keyword)"
        if token.type == "$END":
            line, column = end_position(exc)
    else:  # pragma: no cover - lark's LALR parser raises only the two above
        message = str(exc)
    return RuleError(message, file=file, line=max(line, 1), column=max(column, 1), code="syntax")


def _number(text: str) -> int | float:
    text = text.replace("_", "")
    return float(text) if "." in text else int(text)


class _Builder:
    """Turns lark's tree into nodes, collecting the literal errors it finds."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[RuleError] = []

    def error(self, message: str, token: Token | Tree[Token], code: str) -> None:
        line, column = _position(token)
        self.errors.append(RuleError(message, file=self.file, line=line, column=column, code=code))

    # -- rules ---------------------------------------------------------------------------

    def rule(self, tree: Tree[Token]) -> RuleDecl:
        keyword, name = _token(tree.children[0]), _token(tree.children[1])
        clauses = tuple(self.clause(c) for c in tree.children[2:] if isinstance(c, Tree))
        return RuleDecl(
            id=str(name),
            clauses=clauses,
            file=self.file,
            line=keyword.line or 0,
            column=keyword.column or 0,
        )

    def clause(self, tree: Tree[Token]) -> Clause:
        keyword = _token(tree.children[0])
        arg = tree.children[1] if len(tree.children) > 1 else None
        value: LiteralValue | Expr
        where: Token | Tree[Token] = keyword
        if arg is None:  # shadow
            value = True
        elif tree.data in {"version_clause", "score_clause"}:
            value, where = self.signed_number(_tree(arg)), arg
        elif tree.data == "description_clause":
            value, where = self.string(_token(arg)), arg
        elif tree.data == "action_clause":
            value, where = str(arg), arg
        else:
            value = self.expr(_tree(arg))
            where = arg
        value_line, value_column = _position(where)
        return Clause(
            kind=str(keyword),
            value=value,
            line=keyword.line or 0,
            column=keyword.column or 0,
            value_line=value_line,
            value_column=value_column,
        )

    def signed_number(self, tree: Tree[Token]) -> int | float:
        tokens = [t for t in tree.children if isinstance(t, Token)]
        value = _number(str(tokens[-1]))
        return -value if len(tokens) == 2 else value

    # -- expressions ---------------------------------------------------------------------

    def expr(self, node: Tree[Token] | Token) -> Expr:
        if isinstance(node, Token):  # pragma: no cover - every token is wrapped by an alias
            raise TypeError(f"unexpected token {node!r}")
        handler: Callable[[Tree[Token]], Expr] = getattr(self, f"_{node.data}")
        return handler(node)

    def _or_expr(self, tree: Tree[Token]) -> Expr:
        return self._logical("or", tree)

    def _and_expr(self, tree: Tree[Token]) -> Expr:
        return self._logical("and", tree)

    def _logical(self, op: str, tree: Tree[Token]) -> Expr:
        operands = tuple(self.expr(c) for c in tree.children)
        first = operands[0]
        return Logical(op=op, operands=operands, line=first.line, column=first.column)

    def _not_(self, tree: Tree[Token]) -> Expr:
        keyword, operand = tree.children
        return Not(operand=self.expr(operand), **_at(_token(keyword)))

    def _compare(self, tree: Tree[Token]) -> Expr:
        left, op, right = tree.children[0], _token(tree.children[1]), tree.children[2]
        lhs = self.expr(left)
        return Comparison(
            op=str(op),
            left=lhs,
            right=self.expr(right),
            line=lhs.line,
            column=lhs.column,
            op_line=op.line or 0,
            op_column=op.column or 0,
        )

    def _arith(self, tree: Tree[Token]) -> Expr:
        left, op, right = tree.children[0], _token(tree.children[1]), tree.children[2]
        lhs = self.expr(left)
        return Arithmetic(
            op=str(op),
            left=lhs,
            right=self.expr(right),
            line=lhs.line,
            column=lhs.column,
            op_line=op.line or 0,
            op_column=op.column or 0,
        )

    def _is_null(self, tree: Tree[Token]) -> Expr:
        operand = self.expr(tree.children[0])
        return IsNull(operand=operand, negated=False, line=operand.line, column=operand.column)

    def _is_not_null(self, tree: Tree[Token]) -> Expr:
        operand = self.expr(tree.children[0])
        return IsNull(operand=operand, negated=True, line=operand.line, column=operand.column)

    def _in_(self, tree: Tree[Token]) -> Expr:
        return self._in(tree.children[0], tree.children[-1], negated=False)

    def _not_in(self, tree: Tree[Token]) -> Expr:
        return self._in(tree.children[0], tree.children[-1], negated=True)

    def _in(self, left: Tree[Token] | Token, coll: Tree[Token] | Token, *, negated: bool) -> Expr:
        operand = self.expr(left)
        coll = _tree(coll)
        if coll.data == "named_list":
            name = _token(coll.children[0])
            return InNamedList(
                operand=operand,
                list_name=str(name),
                negated=negated,
                line=operand.line,
                column=operand.column,
                list_line=name.line or 0,
                list_column=name.column or 0,
            )
        items = tuple(self.item(c) for c in coll.children if isinstance(c, Tree))
        return InList(
            operand=operand, items=items, negated=negated, line=operand.line, column=operand.column
        )

    def item(self, tree: Tree[Token]) -> Literal:
        tokens = [t for t in tree.children if isinstance(t, Token)]
        last = tokens[-1]
        literal = self.literal(last)
        if len(tokens) == 2 and isinstance(literal.value, int | float):
            return Literal(value=-literal.value, type=literal.type, **_at(tokens[0]))
        return literal

    def _between(self, tree: Tree[Token]) -> Expr:
        return self._range(tree, negated=False)

    def _not_between(self, tree: Tree[Token]) -> Expr:
        return self._range(tree, negated=True)

    def _range(self, tree: Tree[Token], *, negated: bool) -> Expr:
        parts = [c for c in tree.children if not (isinstance(c, Token) and c.type == "NOT")]
        operand, low, high = (self.expr(p) for p in parts)
        return Between(
            operand=operand,
            low=low,
            high=high,
            negated=negated,
            line=operand.line,
            column=operand.column,
        )

    def _neg(self, tree: Tree[Token]) -> Expr:
        minus, operand = tree.children
        return Negate(operand=self.expr(operand), **_at(_token(minus)))

    def _number(self, tree: Tree[Token]) -> Expr:
        return self.literal(_first_token(tree))

    _duration = _number
    _string = _number
    _true = _number
    _false = _number

    def _feature(self, tree: Tree[Token]) -> Expr:
        name = _first_token(tree)
        return FeatureRef(name=str(name), **_at(name))

    def _call(self, tree: Tree[Token]) -> Expr:
        name = _first_token(tree)
        args = tuple(self.expr(c) for c in tree.children[1:])
        return Call(function=str(name), args=args, **_at(name))

    # -- tokens --------------------------------------------------------------------------

    def literal(self, token: Token) -> Literal:
        at = _at(token)
        text = str(token)
        if token.type == "NUMBER":
            return Literal(value=_number(text), type=ValueType.NUMBER, **at)
        if token.type == "DURATION":
            return Literal(value=self.duration(token), type=ValueType.DURATION, **at)
        if token.type == "STRING":
            return Literal(value=self.string(token), type=ValueType.STRING, **at)
        return Literal(value=token.type == "TRUE", type=ValueType.BOOL, **at)

    def duration(self, token: Token) -> int:
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
                return 0
            previous = scale
            total += float(amount) * scale
        if total != int(total):
            self.error(
                f"duration {str(token)!r} is not a whole number of milliseconds",
                token,
                "bad-literal",
            )
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


def _first_token(tree: Tree[Token]) -> Token:
    for child in tree.children:
        if isinstance(child, Token):
            return child
    raise TypeError(f"no token in {tree.data}")  # pragma: no cover


def _position(node: Token | Tree[Token]) -> tuple[int, int]:
    if isinstance(node, Token):
        return node.line or 1, node.column or 1
    return node.meta.line, node.meta.column


def _at(token: Token) -> dict[str, int]:
    return {"line": token.line or 0, "column": token.column or 0}
