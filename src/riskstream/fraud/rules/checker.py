"""The type checker: resolves names against a catalogue and types every expression.

It turns parsed :class:`~.nodes.RuleDecl` into :class:`~.rule.Rule` objects, collecting
every problem it finds as a :class:`~.errors.RuleError` rather than stopping at the first.

Typing, in short (``N`` number, ``D`` duration, ``T`` timestamp, ``S`` string, ``B`` bool):

* ``and``/``or``/``not`` take ``B``; the ``when`` condition is ``B``.
* ``==``/``!=`` compare two values of the same type; ``< <= > >=`` and ``between`` compare
  two ``N``, ``D`` or ``T``. A number is never a duration: ``account.age_ms < 600`` is an
  error (write ``10m``).
* ``+``: N+N→N, D+D→D, T+D→T, D+T→T; ``-``: N-N→N, D-D→D, T-D→T, T-T→D; ``*``: N*N→N,
  D*N→D, N*D→D; ``/``: N/N→N, D/N→D, D/D→N; ``%``: N%N→N, D%D→D; unary ``-``: N, D.
* ``x in [..]``: every item has ``x``'s type; ``x in list.name``: ``x`` is ``S``, the list
  is in the catalogue and, when ``x`` is a feature declared with a list kind, of that kind.
* ``x is null`` / ``x is not null``: any ``x``.
* functions: ``lower(S)``/``upper(S)`` → S; ``len(S)`` → N; ``startswith(S, S)``,
  ``endswith(S, S)``, ``contains(S, S)`` → B; ``abs(N|D)``; ``min``/``max`` (2 or more N, D
  or T of one type); ``coalesce`` (2 or more values of one type: the first that is not null).

An operand whose own check failed has no type, and is not reported again by the operators
above it: one mistake, one error.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence

from riskstream.fraud.rules.catalogue import Action, FeatureCatalogue, ValueType
from riskstream.fraud.rules.errors import RuleError
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
    RuleDecl,
)
from riskstream.fraud.rules.render import render
from riskstream.fraud.rules.rule import Rule

__all__ = ["FUNCTIONS", "check_expression", "check_rules", "used_features", "used_lists"]

N, B, S, D, T = (
    ValueType.NUMBER,
    ValueType.BOOL,
    ValueType.STRING,
    ValueType.DURATION,
    ValueType.TIMESTAMP,
)
_ORDERED = frozenset({N, D, T})

_ARITHMETIC: dict[tuple[str, ValueType, ValueType], ValueType] = {
    ("+", N, N): N,
    ("+", D, D): D,
    ("+", T, D): T,
    ("+", D, T): T,
    ("-", N, N): N,
    ("-", D, D): D,
    ("-", T, D): T,
    ("-", T, T): D,
    ("*", N, N): N,
    ("*", D, N): D,
    ("*", N, D): D,
    ("/", N, N): N,
    ("/", D, N): D,
    ("/", D, D): N,
    ("%", N, N): N,
    ("%", D, D): D,
}

#: Built-in functions: name → one-line signature (for messages and docs).
FUNCTIONS: dict[str, str] = {
    "abs": "abs(number | duration)",
    "coalesce": "coalesce(x, y, …): the first that is not null, all of one type",
    "contains": "contains(string, part) → bool",
    "endswith": "endswith(string, suffix) → bool",
    "len": "len(string) → number",
    "lower": "lower(string) → string",
    "max": "max(a, b, …): numbers, durations or timestamps of one type",
    "min": "min(a, b, …): numbers, durations or timestamps of one type",
    "startswith": "startswith(string, prefix) → bool",
    "upper": "upper(string) → string",
}
_UNIT_HINT = "write durations with a unit: 250ms, 30s, 5m, 24h, 7d"


def used_features(expr: Expr) -> tuple[str, ...]:
    """The features ``expr`` reads, in order of first use."""
    return tuple(dict.fromkeys(n.name for n in _walk(expr) if isinstance(n, FeatureRef)))


def used_lists(expr: Expr) -> tuple[str, ...]:
    """The named lists ``expr`` tests, in order of first use."""
    return tuple(dict.fromkeys(n.list_name for n in _walk(expr) if isinstance(n, InNamedList)))


def _walk(expr: Expr) -> Iterator[Expr]:
    yield expr
    children: Sequence[Expr]
    if isinstance(expr, Negate | Not | IsNull | InList | InNamedList):
        children = (expr.operand,)
    elif isinstance(expr, Arithmetic | Comparison):
        children = (expr.left, expr.right)
    elif isinstance(expr, Between):
        children = (expr.operand, expr.low, expr.high)
    elif isinstance(expr, Logical):
        children = expr.operands
    elif isinstance(expr, Call):
        children = expr.args
    else:
        children = ()
    for child in children:
        yield from _walk(child)


def check_expression(
    expr: Expr, catalogue: FeatureCatalogue, *, file: str = "<expression>"
) -> tuple[ValueType | None, list[RuleError]]:
    """The type of ``expr`` (``None`` if it has errors) and the errors, in position order."""
    checker = _Checker(catalogue, file)
    result = checker.type_of(expr)
    return result, checker.sorted_errors()


def check_rules(
    decls: Sequence[RuleDecl],
    catalogue: FeatureCatalogue,
    *,
    seen: dict[str, RuleDecl] | None = None,
) -> tuple[list[Rule], list[RuleError]]:
    """Check declarations (of one file or several, in order).

    Returns the rules that passed and every error, sorted by file (in order of first
    appearance) and position. ``seen`` carries rule ids across calls, for duplicate ids.
    """
    seen = {} if seen is None else seen
    rules: list[Rule] = []
    errors: list[RuleError] = []
    files: dict[str, int] = {}
    for decl in decls:
        files.setdefault(decl.file, len(files))
        checker = _Checker(catalogue, decl.file)
        rule = checker.rule(decl, seen)
        errors.extend(checker.errors)
        if rule is not None and not checker.errors:
            rules.append(rule)
    errors.sort(key=lambda e: (files.get(e.file, len(files)), e.line, e.column))
    return rules, errors


class _Checker:
    def __init__(self, catalogue: FeatureCatalogue, file: str) -> None:
        self.catalogue = catalogue
        self.file = file
        self.errors: list[RuleError] = []

    def fail(self, message: str, line: int, column: int, code: str) -> None:
        self.errors.append(RuleError(message, file=self.file, line=line, column=column, code=code))

    def sorted_errors(self) -> list[RuleError]:
        return sorted(self.errors, key=lambda e: (e.line, e.column))

    # -- rules ---------------------------------------------------------------------------

    def rule(self, decl: RuleDecl, seen: dict[str, RuleDecl]) -> Rule | None:
        if decl.id in seen:
            first = seen[decl.id]
            self.fail(
                f"duplicate rule id {decl.id!r} (first defined at "
                f"{first.file}:{first.line}:{first.column})",
                decl.line,
                decl.column,
                "duplicate-rule",
            )
        else:
            seen[decl.id] = decl
        seen_clauses: set[str] = set()
        version: int | None = None
        action: Action | None = Action.ALLOW
        condition: Expr | None = None
        score: int | float = 0
        description = ""
        shadow = False
        for clause in decl.clauses:
            if clause.kind in seen_clauses:
                self.fail(
                    f"rule {decl.id!r} has more than one {clause.kind} clause",
                    clause.line,
                    clause.column,
                    "duplicate-clause",
                )
                continue
            seen_clauses.add(clause.kind)
            at = (clause.value_line, clause.value_column)
            value = clause.value
            if clause.kind == "version":
                version = self.version(value, *at)
            elif clause.kind == "action":
                action = self.action(str(value), *at)
            elif clause.kind == "when" and not isinstance(value, int | float | str):
                condition = value
                self.condition(value)
            elif clause.kind == "score" and isinstance(value, int | float):
                score = value
            elif clause.kind == "description":
                description = str(value)
            elif clause.kind == "shadow":
                shadow = True
        for required in ("version", "when"):
            if required not in seen_clauses:
                self.fail(
                    f"rule {decl.id!r} has no {required} clause",
                    decl.line,
                    decl.column,
                    "missing-clause",
                )
        if self.errors or version is None or action is None or condition is None:
            return None
        return Rule(
            id=decl.id,
            version=version,
            condition=condition,
            score=score,
            action=action,
            shadow=shadow,
            description=description,
            used_features=used_features(condition),
            used_lists=used_lists(condition),
            file=decl.file,
            line=decl.line,
            column=decl.column,
        )

    def version(self, value: object, line: int, column: int) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        self.fail(
            f"version must be a whole number of at least 1, not {value}",
            line,
            column,
            "bad-version",
        )
        return None

    def action(self, name: str, line: int, column: int) -> Action | None:
        try:
            return Action(name)
        except ValueError:
            known = [a.value for a in Action]
            self.fail(
                f"unknown action {name!r}{_did_you_mean(name, known)} "
                f"(actions: {', '.join(known)})",
                line,
                column,
                "unknown-action",
            )
            return None

    def condition(self, expr: Expr) -> None:
        found = self.type_of(expr)
        if found is not None and found is not B:
            self.fail(
                f"the when condition must be true or false, but {_show(expr)} is {found.article}",
                expr.line,
                expr.column,
                "type-mismatch",
            )

    # -- expressions ---------------------------------------------------------------------

    def type_of(self, expr: Expr) -> ValueType | None:
        if isinstance(expr, Literal):
            return expr.type
        if isinstance(expr, FeatureRef):
            return self.feature(expr)
        if isinstance(expr, Logical | Not):
            operands = expr.operands if isinstance(expr, Logical) else (expr.operand,)
            word = expr.op if isinstance(expr, Logical) else "not"
            for operand in operands:
                self.expect_bool(operand, word)
            return B
        if isinstance(expr, Comparison):
            self.comparison(expr)
            return B
        if isinstance(expr, IsNull):
            self.type_of(expr.operand)
            return B
        if isinstance(expr, InList):
            self.in_list(expr)
            return B
        if isinstance(expr, InNamedList):
            self.in_named_list(expr)
            return B
        if isinstance(expr, Between):
            self.between(expr)
            return B
        if isinstance(expr, Arithmetic):
            return self.arithmetic(expr)
        if isinstance(expr, Negate):
            negated = self.type_of(expr.operand)
            if negated is None or negated in {N, D}:
                return negated
            self.fail(
                f"cannot negate {_show(expr.operand)}: it is {negated.article}",
                expr.line,
                expr.column,
                "type-mismatch",
            )
            return None
        return self.call(expr)

    def feature(self, ref: FeatureRef) -> ValueType | None:
        if ref.name in self.catalogue.features:
            return self.catalogue.features[ref.name].type
        self.fail(
            f"unknown feature {ref.name!r}{_did_you_mean(ref.name, self.catalogue.features)}",
            ref.line,
            ref.column,
            "unknown-feature",
        )
        return None

    def expect_bool(self, operand: Expr, word: str) -> None:
        found = self.type_of(operand)
        if found is not None and found is not B:
            self.fail(
                f"'{word}' needs true/false operands, but {_show(operand)} is {found.article}",
                operand.line,
                operand.column,
                "type-mismatch",
            )

    def comparison(self, expr: Comparison) -> None:
        left, right = self.type_of(expr.left), self.type_of(expr.right)
        if left is None or right is None:
            return
        at = (expr.op_line, expr.op_column)
        if left is not right:
            message = _mismatch(
                f"compare {left.article} with {right.article}",
                (left, expr.left),
                (right, expr.right),
            )
            self.fail(message, *at, "type-mismatch")
        elif expr.op not in {"==", "!="} and left not in _ORDERED:
            self.fail(
                f"cannot order {left.label}s with '{expr.op}': only == and != compare them",
                *at,
                "type-mismatch",
            )

    def between(self, expr: Between) -> None:
        types = [self.type_of(e) for e in (expr.operand, expr.low, expr.high)]
        operand = types[0]
        if operand is not None and operand not in _ORDERED:
            self.fail(
                f"'between' needs numbers, durations or timestamps, but {_show(expr.operand)} "
                f"is {operand.article}",
                expr.line,
                expr.column,
                "type-mismatch",
            )
            return
        for bound, found in zip((expr.low, expr.high), types[1:], strict=True):
            if operand is not None and found is not None and found is not operand:
                self.fail(
                    _mismatch(
                        f"compare {operand.article} with {found.article} in 'between'",
                        (operand, expr.operand),
                        (found, bound),
                    ),
                    bound.line,
                    bound.column,
                    "type-mismatch",
                )

    def in_list(self, expr: InList) -> None:
        operand = self.type_of(expr.operand)
        if operand is None:
            return
        for item in expr.items:
            if item.type is not operand:
                self.fail(
                    _mismatch(
                        f"test {operand.article} against a list item that is {item.type.article}",
                        (operand, expr.operand),
                        (item.type, item),
                    ),
                    item.line,
                    item.column,
                    "type-mismatch",
                )

    def in_named_list(self, expr: InNamedList) -> None:
        operand = self.type_of(expr.operand)
        at = (expr.list_line, expr.list_column)
        kind = self.catalogue.lists.get(expr.list_name)
        if kind is None:
            known = sorted(self.catalogue.lists)
            self.fail(
                f"unknown list {expr.list_name!r}{_did_you_mean(expr.list_name, known)}",
                *at,
                "unknown-list",
            )
            return
        if operand is None:
            return
        if operand is not S:
            self.fail(
                f"lists hold ids (strings), but {_show(expr.operand)} is {operand.article}",
                expr.line,
                expr.column,
                "type-mismatch",
            )
            return
        if isinstance(expr.operand, FeatureRef):
            declared = self.catalogue.features[expr.operand.name].kind
            if declared is not None and declared is not kind:
                self.fail(
                    f"{expr.operand.name} holds {declared.value} ids, but {expr.list_name} "
                    f"holds {kind.value} ids",
                    *at,
                    "list-kind",
                )

    def arithmetic(self, expr: Arithmetic) -> ValueType | None:
        left, right = self.type_of(expr.left), self.type_of(expr.right)
        if left is None or right is None:
            return None
        result = _ARITHMETIC.get((expr.op, left, right))
        if result is None:
            message = _mismatch(
                f"apply '{expr.op}' to {left.article} and {right.article}",
                (left, expr.left),
                (right, expr.right),
            )
            self.fail(message, expr.op_line, expr.op_column, "type-mismatch")
        return result

    def call(self, expr: Call) -> ValueType | None:
        args = [self.type_of(a) for a in expr.args]
        name = expr.function
        if name not in FUNCTIONS:
            self.fail(
                f"unknown function {name!r}{_did_you_mean(name, FUNCTIONS)} "
                f"(functions: {', '.join(sorted(FUNCTIONS))})",
                expr.line,
                expr.column,
                "unknown-function",
            )
            return None
        variadic = name in {"min", "max", "coalesce"}
        wanted = 2 if name in {"startswith", "endswith", "contains"} else 1
        if (variadic and len(args) < 2) or (not variadic and len(args) != wanted):
            plural = "s" if wanted > 1 else ""
            count = "at least 2 arguments" if variadic else f"{wanted} argument{plural}"
            self.fail(
                f"{name} takes {count}, got {len(args)}: {FUNCTIONS[name]}",
                expr.line,
                expr.column,
                "arity",
            )
            return None
        if any(a is None for a in args):
            return None
        return self.signature(expr, [a for a in args if a is not None])

    def signature(self, expr: Call, args: list[ValueType]) -> ValueType | None:
        name = expr.function
        allowed: frozenset[ValueType] | None
        if name in {"lower", "upper", "len", "startswith", "endswith", "contains"}:
            allowed = frozenset({S})
        elif name == "abs":
            allowed = frozenset({N, D})
        elif name in {"min", "max"}:
            allowed = _ORDERED
        else:  # coalesce
            allowed = None
        for arg, found in zip(expr.args, args, strict=True):
            if allowed is not None and found not in allowed:
                wanted = " or ".join(t.label for t in ValueType if t in allowed)
                self.fail(
                    f"{name} needs {wanted} arguments, but {_show(arg)} is {found.article}",
                    arg.line,
                    arg.column,
                    "type-mismatch",
                )
                return None
        if name in {"min", "max", "coalesce"}:
            for arg, found in zip(expr.args[1:], args[1:], strict=True):
                if found is not args[0]:
                    self.fail(
                        _mismatch(
                            f"mix {args[0].article} and {found.article} in {name}",
                            (args[0], expr.args[0]),
                            (found, arg),
                        ),
                        arg.line,
                        arg.column,
                        "type-mismatch",
                    )
                    return None
        if name == "len":
            return N
        if name in {"startswith", "endswith", "contains"}:
            return B
        return args[0]


def _mismatch(what: str, *sides: tuple[ValueType, Expr]) -> str:
    """``cannot <what>``, with a hint when a bare number literal meets a duration."""
    message = f"cannot {what}"
    types = {t for t, _ in sides}
    if types == {N, D} and any(t is N and isinstance(e, Literal) for t, e in sides):
        message += f" ({_UNIT_HINT})"
    return message


def _show(expr: Expr) -> str:
    text = render(expr)
    return text if len(text) <= 48 else text[:45] + "..."


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
