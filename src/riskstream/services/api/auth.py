"""API keys with scopes, checked on every endpoint but health and metrics.

A key is sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. No key or an
unknown one is ``401``; a known key without the endpoint's scope is ``403``. Keys and their
scopes come from the settings (``RISKSTREAM_API_KEYS``, JSON ``{"key": ["scope", ...]}``);
``"*"`` grants every scope. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from fastapi import HTTPException, Request, status

__all__ = ["ApiKeys", "Principal", "Scope", "require"]


class Scope(StrEnum):
    CHECKOUT = "checkout"  # POST /v1/checkouts
    EVENTS = "events"  # POST /v1/events
    MFA = "mfa"  # POST /v1/mfa/{challenge_id}
    READ = "read"  # queries: profiles, transactions, audit trail
    ADMIN = "admin"  # rebuilds, releases by analysts


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's name (never the key itself) and its scopes."""

    name: str
    scopes: frozenset[str]

    def allows(self, scope: Scope) -> bool:
        return "*" in self.scopes or scope.value in self.scopes


class ApiKeys:
    """The accepted keys. ``keys`` maps a key to its scopes."""

    def __init__(self, keys: Mapping[str, Sequence[str]]) -> None:
        self._keys = [
            (key.encode(), Principal(f"key-{index}", frozenset(scopes)))
            for index, (key, scopes) in enumerate(sorted(keys.items()))
        ]

    def principal(self, presented: str) -> Principal | None:
        found = None
        raw = presented.encode()
        for key, principal in self._keys:  # no early exit: timing says nothing about keys
            if hmac.compare_digest(key, raw):
                found = principal
        return found


def _presented(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            return token.strip()
    return request.headers.get("x-api-key")


def require(keys: ApiKeys, scope: Scope) -> Callable[[Request], Principal]:
    """A FastAPI dependency admitting callers whose key has ``scope``."""

    def check(request: Request) -> Principal:
        presented = _presented(request)
        if presented is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing API key (Authorization: Bearer <key> or X-API-Key)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = keys.principal(presented)
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "unknown API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.allows(scope):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this key lacks the {scope.value!r} scope"
            )
        return principal

    return check
