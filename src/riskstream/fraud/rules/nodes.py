"""The abstract syntax tree of rule files.

Nodes are frozen dataclasses. Every node carries the 1-based ``line``/``column`` where it
starts in its file; positions are left out of equality, so two trees compare equal when
they say the same thing (``parse(render(tree)) == tree``). Binary nodes also carry the
position of their operator, where mismatched operand types are reported.

The parser builds :class:`RuleDecl` - a rule as written, clause by clause, unchecked - and
expressions (:data:`Expr`); the checker turns a valid declaration into a
:class:`~riskstream.fraud.rules.ruleset.Rule`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from riskstream.fraud.rules.catalogue import ValueType

__all__ = [
    "ARITHMETIC_OPS",
    "COMPARISON_OPS",
    "Arithmetic",
    "Between",
    "Call",
    "Clause",
    "Comparison",
    "Expr",
    "FeatureRef",
    "InList",
    "InNamedList",
    "IsNull",
    "Literal",
    "LiteralValue",
    "Logical",
    "Negate",
    "Node",
    "Not",
    "RuleDecl",
]

ARITHMETIC_OPS = ("+", "-", "*", "/", "%")
COMPARISON_OPS = ("==", "!=", "<", "<=", ">", ">=")

LiteralValue: TypeAlias = int | float | str | bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """Base of every node: where it starts (not part of equality)."""

    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Literal(Node):
    """A constant: number, duration (``int`` ms), string or bool."""

    value: LiteralValue
    type: ValueType


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureRef(Node):
    """A feature read by dotted name; null when the features do not hold it."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Negate(Node):
    """``-operand``."""

    operand: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Arithmetic(Node):
    """``left op right`` for ``op`` in ``+ - * / %``; null if either side is null."""

    op: str
    left: Expr
    right: Expr
    op_line: int = field(default=0, compare=False)
    op_column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison(Node):
    """``left op right`` for ``op`` in ``== != < <= > >=``; unknown if either side is null."""

    op: str
    left: Expr
    right: Expr
    op_line: int = field(default=0, compare=False)
    op_column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Logical(Node):
    """``a and b and …`` or ``a or b or …`` (``op`` is ``"and"`` or ``"or"``)."""

    op: str
    operands: tuple[Expr, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Not(Node):
    """``not operand``."""

    operand: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class IsNull(Node):
    """``operand is null`` (``negated``: ``is not null``)."""

    operand: Expr
    negated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class InList(Node):
    """``operand in [item, …]`` (``negated``: ``not in``)."""

    operand: Expr
    items: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class InNamedList(Node):
    """``operand in blocklist.device`` (``negated``: ``not in``)."""

    operand: Expr
    list_name: str
    negated: bool = False
    list_line: int = field(default=0, compare=False)
    list_column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Between(Node):
    """``operand between low and high``, bounds included (``negated``: ``not between``)."""

    operand: Expr
    low: Expr
    high: Expr
    negated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(Node):
    """``function(arg, …)``: one of the built-in functions."""

    function: str
    args: tuple[Expr, ...]


Expr: TypeAlias = (
    Literal
    | FeatureRef
    | Negate
    | Arithmetic
    | Comparison
    | Logical
    | Not
    | IsNull
    | InList
    | InNamedList
    | Between
    | Call
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Clause(Node):
    """One clause of a rule as written.

    ``kind`` is ``version``, ``description``, ``when``, ``score``, ``action`` or
    ``shadow``; ``value`` is a number (version, score), a string (description, action),
    an :data:`Expr` (when) or ``True`` (shadow). ``line``/``column`` is the keyword's
    position, ``value_line``/``value_column`` the value's.
    """

    kind: str
    value: LiteralValue | Expr
    value_line: int = field(default=0, compare=False)
    value_column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleDecl(Node):
    """A rule as written: its id and clauses in source order, not yet checked."""

    id: str
    clauses: tuple[Clause, ...]
    file: str = field(default="<rules>", compare=False)
