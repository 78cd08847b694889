"""Options of the embedded log, parsed once from the string map ``open_log`` passes through."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from riskstream.errors import ConfigError

__all__ = ["EmbeddedOptions"]

_DEFAULT_PAGE_SIZE = 16_384


def _fsync(text: str) -> bool:
    if text not in ("always", "normal"):
        raise ValueError("expected 'always' or 'normal'")
    return text == "always"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("expected a non-negative integer")
    return value


@dataclass(frozen=True, slots=True)
class EmbeddedOptions:
    """Tuning knobs; every field is also an option key (``fsync`` takes ``always``/``normal``).

    ``fsync=always`` selects ``synchronous=FULL``: acknowledged records then survive power
    loss, not only process crashes. ``maintenance_interval_ms=0`` turns off the retention
    and compaction pass producers run in passing; ``checkpoint_interval_ms=0`` turns off the
    background WAL checkpoint thread (producers then checkpoint inline, as SQLite does).
    ``page_size`` applies to topic files created afterwards: larger pages mean fewer WAL
    frames per record (faster bulk writes), smaller ones less to write per tiny commit.
    """

    fsync: bool = False
    busy_timeout_ms: int = 60_000
    batch_records: int = 10_000
    maintenance_interval_ms: int = 30_000
    checkpoint_interval_ms: int = 200
    page_size: int = _DEFAULT_PAGE_SIZE
    cache_size_kib: int = 8_192
    mmap_size: int = 1 << 30

    @classmethod
    def parse(cls, options: Mapping[str, str] | None) -> EmbeddedOptions:
        """Validate ``options``; unknown keys are an error so typos do not pass silently."""
        parsers: dict[str, Callable[[str], Any]] = {
            f.name: _fsync if f.name == "fsync" else _positive_int for f in fields(cls)
        }
        values: dict[str, Any] = {}
        for name, text in (options or {}).items():
            parser = parsers.get(name)
            if parser is None:
                known = ", ".join(sorted(parsers))
                raise ConfigError(f"unknown embedded log option {name!r} (known: {known})")
            try:
                values[name] = parser(str(text))
            except ValueError as exc:
                raise ConfigError(f"embedded log option {name}={text!r}: {exc}") from exc
        page_size = values.get("page_size", _DEFAULT_PAGE_SIZE)
        if page_size < 512 or page_size > 65_536 or page_size & (page_size - 1):
            raise ConfigError(f"page_size must be a power of two in 512..65536, not {page_size}")
        if values.get("batch_records", 1) < 1:
            raise ConfigError("batch_records must be at least 1")
        return cls(**values)
