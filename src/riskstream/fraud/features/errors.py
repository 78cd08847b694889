"""Errors of the feature language.

They join the tree of :class:`riskstream.errors.RiskstreamError` as one subtree, beside the
rule language's::

    FeatureError                 one problem in a features file: file, line, column, code, message
    └── FeatureSpecError         a features file was rejected: every problem found, in order

Declared features are built all-or-nothing, so parsing a file raises a single
:class:`FeatureSpecError` listing every :class:`FeatureError` (syntax errors, unknown event
kinds, fields or entities, type mismatches, bad horizons, duplicate names), sorted by
position. Its own ``file``/``line``/``column``/``code`` are those of the first problem.

``code`` names the kind of problem for tools and tests; the codes are listed in
:data:`ERROR_CODES`. Lines and columns count from 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from riskstream.errors import RiskstreamError

__all__ = ["ERROR_CODES", "FeatureError", "FeatureSpecError"]

#: Every ``FeatureError.code``, with what it means.
ERROR_CODES: dict[str, str] = {
    "syntax": "the text does not parse",
    "bad-literal": "a number, duration or string literal that cannot be read",
    "duplicate-feature": "two features with the same name",
    "bad-name": "a feature name that does not start with the entity it is kept per",
    "unknown-entity": "a 'per' entity other than user, device, instrument, ip or merchant",
    "unknown-kind": "an event kind touches do not have",
    "unknown-field": "a field touches do not have",
    "type-mismatch": "a measure or condition applied to a field of the wrong type",
    "bad-horizon": "a window that is not longer than 0 and at most 400 days",
    "bad-ratio": "a ratio of an event kind to itself",
}


class FeatureError(RiskstreamError):
    """One problem in a features file, at ``file:line:column``.

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
        return (_feature_error, (self.message, self.file, self.line, self.column, self.code))


class FeatureSpecError(FeatureError):
    """A features file was rejected; ``errors`` holds every problem, in position order.

    Nothing of a rejected file is ever used.
    """

    def __init__(self, errors: Iterable[FeatureError]) -> None:
        self.errors: tuple[FeatureError, ...] = tuple(errors)
        if not self.errors:
            raise ValueError("FeatureSpecError needs at least one error")
        first = self.errors[0]
        count = len(self.errors)
        header = "1 error" if count == 1 else f"{count} errors"
        lines = "\n".join(str(e) for e in self.errors)
        super().__init__(
            first.message, file=first.file, line=first.line, column=first.column, code=first.code
        )
        # The message of the whole file lists every problem, one per line.
        self.args = (f"features rejected, {header}:\n{lines}",)

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        return (FeatureSpecError, (self.errors,))


def _feature_error(message: str, file: str, line: int, column: int, code: str) -> FeatureError:
    return FeatureError(message, file=file, line=line, column=column, code=code)
