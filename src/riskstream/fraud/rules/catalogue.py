"""What rules may read: value types, the feature catalogue, named lists, actions.

A :class:`FeatureCatalogue` maps each dotted feature name (``promo.value``) to its
:class:`ValueType` and names the lists rules may test membership in
(``device.id in blocklist.device``). The type checker resolves every name in a rule file
against it; the feature engine promises to provide those names (a missing one is null).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "DEFAULT_LISTS",
    "Action",
    "Feature",
    "FeatureCatalogue",
    "ListKind",
    "ValueType",
]


class ValueType(StrEnum):
    """The type of a feature or expression.

    ``duration-ms`` and ``timestamp`` are ``int`` milliseconds at run time (a span, and an
    epoch time); they are kept apart from plain numbers so that ``account.age_ms < 600``
    (a number where a duration belongs) is caught before it runs.
    """

    NUMBER = "number"
    BOOL = "bool"
    STRING = "string"
    DURATION = "duration-ms"
    TIMESTAMP = "timestamp"

    @classmethod
    def parse(cls, name: str) -> ValueType:
        """``"number"``, ``"bool"``, ``"string"``, ``"duration-ms"`` (or ``"duration"``),
        ``"timestamp"``."""
        if name == "duration":
            return cls.DURATION
        return cls(name)

    @property
    def label(self) -> str:
        """The type's name in messages: ``"duration"`` for ``duration-ms``."""
        return "duration" if self is ValueType.DURATION else self.value

    @property
    def article(self) -> str:
        """The label with its indefinite article, for messages (``"a number"``)."""
        return f"a {self.label}"


class ListKind(StrEnum):
    """What a named block/allow list holds."""

    DEVICE = "device"
    INSTRUMENT = "instrument"
    IP = "ip"
    EMAIL_HASH = "email_hash"
    BIN = "bin"


class Action(StrEnum):
    """What a rule asks for, weakest first: ``allow < review < challenge < block``."""

    ALLOW = "allow"
    REVIEW = "review"
    CHALLENGE = "challenge"
    BLOCK = "block"

    @property
    def severity(self) -> int:
        """0 for allow … 3 for block; the strongest action of the fired rules wins."""
        return _SEVERITY[self]


_SEVERITY = {Action.ALLOW: 0, Action.REVIEW: 1, Action.CHALLENGE: 2, Action.BLOCK: 3}

#: The lists every catalogue knows unless told otherwise: ``blocklist.<kind>`` and
#: ``allowlist.<kind>`` for each :class:`ListKind`.
DEFAULT_LISTS: Mapping[str, ListKind] = {
    f"{prefix}.{kind.value}": kind for prefix in ("blocklist", "allowlist") for kind in ListKind
}


@dataclass(frozen=True, slots=True)
class Feature:
    """One feature: its dotted name, type, meaning and - for ids - the list kind it holds."""

    name: str
    type: ValueType
    description: str = ""
    kind: ListKind | None = None


@dataclass(frozen=True)
class FeatureCatalogue(Mapping[str, ValueType]):
    """Feature name → :class:`ValueType`, plus the named lists (name → :class:`ListKind`).

    A catalogue is a ``Mapping`` of the types, so ``catalogue["promo.value"]`` is
    ``ValueType.NUMBER``; :meth:`feature` gives the whole :class:`Feature`.
    """

    features: Mapping[str, Feature]
    lists: Mapping[str, ListKind] = field(default_factory=lambda: dict(DEFAULT_LISTS))

    @classmethod
    def of(
        cls,
        features: Mapping[str, ValueType | str] | Iterable[Feature],
        *,
        lists: Mapping[str, ListKind | str] | None = None,
    ) -> FeatureCatalogue:
        """Build a catalogue from ``{"promo.value": "number", ...}`` or from
        :class:`Feature` objects; ``lists`` defaults to :data:`DEFAULT_LISTS`."""
        table: dict[str, Feature] = {}
        if isinstance(features, Mapping):
            for name, type_ in features.items():
                vt = type_ if isinstance(type_, ValueType) else ValueType.parse(type_)
                table[name] = Feature(name, vt)
        else:
            for feature in features:
                if feature.name in table:
                    raise ValueError(f"feature {feature.name!r} declared twice")
                table[feature.name] = feature
        known = DEFAULT_LISTS if lists is None else lists
        return cls(
            features=table,
            lists={name: ListKind(kind) for name, kind in known.items()},
        )

    def feature(self, name: str) -> Feature:
        """The declared :class:`Feature` (``KeyError`` if unknown)."""
        return self.features[name]

    def __getitem__(self, name: str) -> ValueType:
        return self.features[name].type

    def __iter__(self) -> Iterator[str]:
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)
