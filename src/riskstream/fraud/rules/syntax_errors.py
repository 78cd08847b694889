"""Turning lark's parse errors into readable positions and "expected ..." lists; shared by
the rule language and the features language."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lark.exceptions import UnexpectedInput

__all__ = ["end_position", "expected_list"]


def end_position(exc: UnexpectedInput) -> tuple[int, int]:
    """Where an unexpected end of input is: just after the last token, not at its start."""
    token = getattr(exc, "token", None)
    end_line = getattr(token, "end_line", None)
    end_column = getattr(token, "end_column", None)
    if isinstance(end_line, int) and isinstance(end_column, int):
        return end_line, end_column
    return exc.line, exc.column


def expected_list(
    names: Iterable[str] | None, order: Mapping[str, int], display: Mapping[str, str]
) -> str:
    """``"; expected a, b, c"`` for lark's terminal names, in ``order``, as ``display``
    shows them (at most eight); ``""`` when nothing is expected."""
    ordered = sorted(names or (), key=lambda n: order.get(n, len(order)))
    shown = list(dict.fromkeys(display.get(n, n) for n in ordered))
    if not shown:
        return ""
    if len(shown) > 8:
        shown = [*shown[:8], "…"]
    return "; expected " + ", ".join(shown)
