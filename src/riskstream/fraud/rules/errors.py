"""Errors of the rule language.

They join the tree of :class:`riskstream.errors.RiskstreamError` as one subtree::

    RuleError                    one problem in a rule file: file, line, column, code, message
    └── RuleSetError             a rule set was rejected: every problem found, in order

A rule set is built all-or-nothing, so building one raises a single :class:`RuleSetError`
that lists every :class:`RuleError` of every file (syntax errors, unknown features, type
mismatches, unknown actions, duplicate ids, bad versions), sorted by file and position.
Its own ``file``/``line``/``column``/``code`` are those of the first problem, so code that
only wants "where" can catch :class:`RuleError` and read them directly.

``code`` names the kind of problem for tools and tests; the codes are listed in
:data:`ERROR_CODES`. Lines and columns count from 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from riskstream.errors import RiskstreamError

__all__ = ["ERROR_CODES", "RuleError", "RuleSetError"]

#: Every ``RuleError.code``, with what it means.
ERROR_CODES: dict[str, str] = {
    "syntax": "the text does not parse",
    "bad-literal": "a number, duration or string literal that cannot be read",
    "unknown-feature": "a feature the catalogue does not declare",
    "unknown-list": "a named list the catalogue does not declare",
    "unknown-function": "a call to a function the language does not have",
    "arity": "a function called with the wrong number of arguments",
    "type-mismatch": "an operator or function applied to values of the wrong type",
    "list-kind": "a value tested against a list holding another kind of id",
    "unknown-action": "an action other than allow, review, challenge or block",
    "bad-version": "a rule version that is not a positive whole number",
    "missing-clause": "a rule without its version or when clause",
    "duplicate-clause": "a clause given twice in one rule",
    "duplicate-rule": "two rules with the same id",
}


class RuleError(RiskstreamError):
    """One problem in a rule file, at ``file:line:column``.

    ``str(error)`` is ``"file:line:column: message"``, the format editors and CI logs link.
    """

    def __init__(self, message: str, *, file: str, line: int, column: int, code: str) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.code = code
        super().__init__(f"{file}:{line}:{column}: {message}")

    @property
    def location(self) -> tuple[str, int, int]:
        """``(file, line, column)``."""
        return (self.file, self.line, self.column)

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only fields: pickle (e.g. to another process) through a helper
        return (_rule_error, (self.message, self.file, self.line, self.column, self.code))


class RuleSetError(RuleError):
    """A rule set was rejected; ``errors`` holds every problem, in file and position order.

    Nothing of a rejected rule set is ever applied.
    """

    def __init__(self, errors: Iterable[RuleError]) -> None:
        self.errors: tuple[RuleError, ...] = tuple(errors)
        if not self.errors:
            raise ValueError("RuleSetError needs at least one error")
        first = self.errors[0]
        count = len(self.errors)
        header = "1 error" if count == 1 else f"{count} errors"
        lines = "\n".join(str(e) for e in self.errors)
        super().__init__(
            first.message, file=first.file, line=first.line, column=first.column, code=first.code
        )
        # The message of the whole set lists every problem, one per line.
        self.args = (f"rule set rejected, {header}:\n{lines}",)

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        return (RuleSetError, (self.errors,))


def _rule_error(message: str, file: str, line: int, column: int, code: str) -> RuleError:
    return RuleError(message, file=file, line=line, column=column, code=code)
