"""Helpers the window definitions share: time normalisation, option checks, emit modes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias

from riskstream.errors import ConfigError
from riskstream.stream.windows.aggregations import Aggregation

__all__ = ["NOTHING", "Emit", "check_aggregations", "check_emit", "to_ms"]

#: ``"update"``: emit a window's current result on every event that changes it (``final``
#: is False); ``"close"``: emit each window once, when the watermark closes it (``final``).
Emit: TypeAlias = Literal["update", "close"]

#: The shared result of a call that emits nothing (no allocation on the hot path).
NOTHING: Final[tuple[()]] = ()


def to_ms(value: int | timedelta, name: str, *, minimum: int = 1) -> int:
    """``value`` as int milliseconds (a ``timedelta`` is accepted), at least ``minimum``."""
    if isinstance(value, timedelta):
        ms = value // timedelta(milliseconds=1)
    elif isinstance(value, int) and not isinstance(value, bool):
        ms = value
    else:
        raise ConfigError(f"{name} must be int milliseconds or a timedelta, got {value!r}")
    if ms < minimum:
        raise ConfigError(f"{name} must be >= {minimum} ms, got {ms}")
    return ms


def check_emit(emit: str) -> Emit:
    """Reject an emit mode other than ``"update"`` or ``"close"``."""
    if emit == "update":
        return "update"
    if emit == "close":
        return "close"
    raise ConfigError(f"emit must be 'update' or 'close', got {emit!r}")


def check_aggregations(
    aggregations: Mapping[str, Aggregation[Any]],
) -> Mapping[str, Aggregation[Any]]:
    """A read-only copy of ``aggregations`` after checking names and types."""
    if not aggregations:
        raise ConfigError("a window needs at least one aggregation")
    checked: dict[str, Aggregation[Any]] = {}
    for name, aggregation in aggregations.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"an aggregation name must be a non-empty str, got {name!r}")
        if not isinstance(aggregation, Aggregation):
            raise ConfigError(f"aggregation {name!r} must be an Aggregation, got {aggregation!r}")
        checked[name] = aggregation
    return MappingProxyType(checked)
