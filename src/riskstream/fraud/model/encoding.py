"""Feature dicts → the numeric matrix the model reads.

The encoder has an ordered list of :class:`EncodedFeature`; column ``j`` of the matrix is
feature ``j``:

* ``number`` (numbers and ``duration-ms`` spans): the value as ``float``;
* ``bool``: 0 or 1;
* ``category`` (a low-cardinality string, e.g. a country code): a LightGBM categorical code
  from the vocabulary fixed at training time - ``vocabulary[i]`` is code ``i + 1`` and code
  0 is every other string, so a country never seen in training still means "unusual";
* a missing name or ``None`` is NaN, which LightGBM treats as missing.

Id-like strings (devices, instruments, IPs, merchants, promo codes, e-mail hashes, BINs)
never enter the model: their values are unbounded and new ones appear every day, so a
vocabulary learnt from the past says nothing about them. Their signal reaches the model
through the engine's counts and ages (``device.distinct_accounts_24h``, ``device.age_ms``).
Timestamps are left out too: an absolute time does not carry over to a later period.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

import msgspec
import numpy as np
import numpy.typing as npt

from riskstream.fraud.model.errors import FeatureValueError
from riskstream.fraud.rules.catalogue import ValueType
from riskstream.fraud.rules.expected import EXPECTED_FEATURES

__all__ = [
    "ID_FEATURES",
    "EncodedFeature",
    "FeatureEncoder",
    "FeatureKind",
    "model_features",
]

#: String features that identify an entity rather than describe it: never model inputs.
ID_FEATURES = frozenset(
    {
        "device.id",
        "instrument.id",
        "instrument.bin",
        "ip.address",
        "merchant.id",
        "promo.code",
        "user.email_hash",
    }
)

# Code of a string outside the vocabulary.
_OTHER = 0.0


class FeatureKind(StrEnum):
    """How a feature is encoded."""

    NUMBER = "number"
    BOOL = "bool"
    CATEGORY = "category"


class EncodedFeature(msgspec.Struct, frozen=True):
    """One model input: its name, encoding, and (categories) the fixed vocabulary."""

    name: str
    kind: FeatureKind
    vocabulary: tuple[str, ...] = ()


def model_features(
    catalogue: Mapping[str, ValueType] = EXPECTED_FEATURES,
    *,
    exclude: Iterable[str] = ID_FEATURES,
) -> tuple[str, ...]:
    """The catalogue's features a model may read, in catalogue order: all but ids (the
    ``exclude`` names, and any feature declared with a list kind) and timestamps."""
    skip = set(exclude)
    declared = getattr(catalogue, "features", {})
    names = []
    for name, type_ in catalogue.items():
        feature = declared.get(name)
        if name in skip or type_ is ValueType.TIMESTAMP:
            continue
        if feature is not None and feature.kind is not None:
            continue
        names.append(name)
    return tuple(names)


def _kind_of(name: str, type_: ValueType) -> FeatureKind:
    if type_ in (ValueType.NUMBER, ValueType.DURATION):
        return FeatureKind.NUMBER
    if type_ is ValueType.BOOL:
        return FeatureKind.BOOL
    if type_ is ValueType.STRING:
        return FeatureKind.CATEGORY
    raise ValueError(f"feature {name!r} of type {type_.label} cannot be a model input")


class FeatureEncoder:
    """Encodes feature dicts into a ``float64`` matrix, one row per dict, in one pass."""

    __slots__ = ("_categories", "_features", "_names")

    def __init__(self, features: Sequence[EncodedFeature]) -> None:
        self._features = tuple(features)
        self._names = tuple(f.name for f in self._features)
        if len(set(self._names)) != len(self._names):
            raise ValueError("a feature is listed twice")
        # per categorical column: its index, its name, and string → code
        self._categories: tuple[tuple[int, str, dict[str, float]], ...] = tuple(
            (j, f.name, {v: float(i + 1) for i, v in enumerate(f.vocabulary)})
            for j, f in enumerate(self._features)
            if f.kind == "category"
        )

    @classmethod
    def fit(
        cls,
        rows: Iterable[Mapping[str, object]],
        *,
        features: Sequence[str] | None = None,
        catalogue: Mapping[str, ValueType] = EXPECTED_FEATURES,
        max_categories: int = 50,
        min_category_count: int = 10,
    ) -> FeatureEncoder:
        """An encoder for ``features`` (default: :func:`model_features` of the catalogue),
        typed by the catalogue, with each category's vocabulary learnt from ``rows``: its
        ``max_categories`` most frequent strings seen at least ``min_category_count`` times."""
        names = model_features(catalogue) if features is None else tuple(features)
        unknown = [n for n in names if n not in catalogue]
        if unknown:
            raise ValueError(f"features not in the catalogue: {', '.join(unknown)}")
        kinds = {n: _kind_of(n, catalogue[n]) for n in names}
        counts: dict[str, Counter[str]] = {
            n: Counter() for n, k in kinds.items() if k is FeatureKind.CATEGORY
        }
        if counts:
            for row in rows:
                for name, counter in counts.items():
                    value = row.get(name)
                    if isinstance(value, str):
                        counter[value] += 1
        encoded = []
        for name in names:
            vocabulary: tuple[str, ...] = ()
            if name in counts:
                ranked = sorted(counts[name].items(), key=lambda kv: (-kv[1], kv[0]))
                kept = [v for v, c in ranked[:max_categories] if c >= min_category_count]
                vocabulary = tuple(sorted(kept))
            encoded.append(EncodedFeature(name, kinds[name], vocabulary))
        return cls(encoded)

    @property
    def features(self) -> tuple[EncodedFeature, ...]:
        return self._features

    @property
    def names(self) -> tuple[str, ...]:
        """The feature names, in column order."""
        return self._names

    @property
    def categorical(self) -> tuple[int, ...]:
        """The columns holding categorical codes."""
        return tuple(j for j, _, _ in self._categories)

    def __len__(self) -> int:
        return len(self._features)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeatureEncoder) and self._features == other._features

    def __hash__(self) -> int:
        return hash(self._features)

    def __repr__(self) -> str:
        return f"FeatureEncoder({len(self._features)} features)"

    def encode(self, rows: Sequence[Mapping[str, object]]) -> npt.NDArray[np.float64]:
        """The ``(len(rows), len(self))`` matrix of ``rows``.

        Numbers and bools are whatever NumPy reads as ``float``; a category is a string or
        missing. Anything else raises :class:`FeatureValueError` naming the feature.
        """
        if not rows:
            return np.empty((0, len(self._features)), dtype=np.float64)
        names = self._names
        categories = self._categories
        table = []
        for row in rows:
            values: list[object] = list(map(row.get, names))
            for j, name, codes in categories:
                value = values[j]
                if isinstance(value, str):
                    values[j] = codes.get(value, _OTHER)
                elif value is not None:
                    # a category that is not a string is an engine bug, not a category
                    raise FeatureValueError(name, value, "a string")
            table.append(values)
        # one C-level conversion of every cell; None becomes NaN
        try:
            return np.array(table, dtype=np.float64)
        except (TypeError, ValueError):
            raise self._numeric_fault(rows) from None

    def _numeric_fault(self, rows: Sequence[Mapping[str, object]]) -> FeatureValueError:
        for row in rows:
            for feature in self._features:
                value = row.get(feature.name)
                if feature.kind == "category" or value is None:
                    continue
                try:
                    float(value)  # type: ignore[arg-type]  # probing any value on purpose
                except (TypeError, ValueError):
                    return FeatureValueError(feature.name, value, f"a {feature.kind.value}")
        return FeatureValueError("?", None, "numbers")  # NumPy refused what float() reads
