"""422 answers that name the field, in FastAPI's own shape so every endpoint speaks alike.

``{"detail": [{"loc": ["body", 3, "amount"], "field": "amount", "index": 3, "msg": "...",
"type": "value_error"}]}``: ``loc`` as FastAPI reports it, ``field`` the dotted field path
inside the item, ``index`` the item's place in a batch (batches only).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import msgspec
from fastapi import status
from fastapi.responses import Response

__all__ = [
    "Problem",
    "Problems",
    "field_problem",
    "from_decode_error",
    "path_problem",
    "problem_response",
]

_PATH_SUFFIX: Final = re.compile(r" - at `(?P<path>\$[^`]*)`$")
_NAMED_FIELD: Final = re.compile(r"(?:missing required|unknown) field `(?P<name>[^`]+)`")
_PATH_PART: Final = re.compile(r"\.(?P<name>[^.\[]+)|\[(?P<index>\d+)\]")


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One thing wrong with a request body."""

    loc: list[str | int]
    field: str
    msg: str
    type: str
    index: int | None = None


def _parts(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for match in _PATH_PART.finditer(path):
        index = match["index"]
        parts.append(int(index) if index is not None else match["name"])
    return parts


def from_decode_error(exc: msgspec.DecodeError, *, index: int | None = None) -> Problem:
    """The problem a msgspec error describes; ``index`` is the item's place in a batch."""
    message = str(exc)
    match = _PATH_SUFFIX.search(message)
    if match is not None:
        message = message[: match.start()]
    kind = "value_error" if isinstance(exc, msgspec.ValidationError) else "json_invalid"
    return path_problem(match["path"] if match else "$", message, kind=kind, index=index)


def path_problem(
    path: str, message: str, *, kind: str = "value_error", index: int | None = None
) -> Problem:
    """A problem at the JSON path ``path`` (``$.a[0].b``), naming the field msgspec names
    in its message when the path stops short of it (a missing or unknown field)."""
    parts = _parts(path)
    named = _NAMED_FIELD.search(message)
    if named is not None:
        parts.append(named["name"])
    return field_problem(parts, message, kind=kind, index=index)


def field_problem(
    parts: Sequence[str | int], message: str, *, kind: str = "value_error", index: int | None = None
) -> Problem:
    """A problem with the field at ``parts`` (inside the item ``index`` of a batch)."""
    loc: list[str | int] = ["body"] if index is None else ["body", index]
    loc.extend(parts)
    field = ".".join(str(part) for part in parts)
    return Problem(loc=loc, field=field, msg=message, type=kind, index=index)


class Problems(msgspec.Struct, kw_only=True):
    """Why a request body was refused (``422``)."""

    detail: list[Problem]


_encoder = msgspec.json.Encoder()


def problem_response(problems: Sequence[Problem]) -> Response:
    """``422`` listing every problem."""
    return Response(
        _encoder.encode(Problems(detail=list(problems))),
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        media_type="application/json",
    )
