"""Declared aggregate features: checked specs, the immutable set of them, the defaults.

A fraud analyst adds an aggregate in one line of a features file (:mod:`.grammar`)::

    feature device.distinct_accounts_24h = distinct user of login, checkout, promo
                                             per device over 24h

::

    from riskstream.fraud.features import FeatureSpecError, FeatureSpecs

    try:
        specs = FeatureSpecs.from_text(text, name="team.features")
    except FeatureSpecError as exc:
        for error in exc.errors:          # every problem: file, line, column, code, message
            print(error)
    specs.for_entity("device")            # -> (AggregateSpec, ...) to compile per entity

Checks, each reported with its position and a code from :data:`.errors.ERROR_CODES`: the
name is ``<entity>.<name>`` with the ``per`` entity first; the entity is one of
:data:`.touch.ENTITIES`; every event kind is one of :data:`.touch.TOUCH_KINDS`; every field
is one of :data:`.touch.TOUCH_FIELDS`; ``sum``/``mean``/``min``/``max`` read a number,
``distinct`` a string or a number; a bare ``FIELD``/``not FIELD`` tests a bool, ``<``,
``<=``, ``>``, ``>=`` compare numbers, ``=``/``!=`` a value of the field's own type; the
window is longer than 0 and at most 400 days; no name is declared twice.

A condition on a field the touch does not carry (``None``) is never true, whatever the
operator: ``not success`` matches failed logins, not touches without a ``success``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Final

from riskstream.fraud.features.errors import FeatureError, FeatureSpecError
from riskstream.fraud.features.grammar import ConditionDecl, FeatureDecl, Located, format_duration
from riskstream.fraud.features.grammar import parse_file as parse_declarations
from riskstream.fraud.features.touch import ENTITIES, TOUCH_FIELDS, TOUCH_KINDS
from riskstream.fraud.rules.catalogue import Feature, ValueType

__all__ = [
    "DEFAULT_FEATURES_NAME",
    "MAX_HORIZON_MS",
    "AggregateSpec",
    "Condition",
    "FeatureSpecs",
    "Measure",
    "catalogue_entries",
    "check_declarations",
    "default_features",
]

#: The file name of the default features inside this package (and in error locations).
DEFAULT_FEATURES_NAME: Final = "default.features"

#: The longest window a feature may have: 400 days.
MAX_HORIZON_MS: Final = 400 * 86_400_000


class Measure(StrEnum):
    """What a feature computes over the touches in its window."""

    COUNT = "count"
    SUM = "sum"
    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    DISTINCT = "distinct"
    RATIO = "ratio"


_NUMERIC = frozenset({Measure.SUM, Measure.MEAN, Measure.MIN, Measure.MAX})
_ORDERING = frozenset({"<", "<=", ">", ">="})


@dataclass(frozen=True, slots=True)
class Condition:
    """``field op value``: a touch passes when its field is set and the comparison holds.

    Bool tests are kept as ``field = true`` / ``field = false`` (``!=`` on a bool is folded
    into ``=``), so ``success``, ``success = true`` and ``not success != true`` compare equal.
    """

    field: str
    op: str
    value: bool | int | float | str

    def __str__(self) -> str:
        if isinstance(self.value, bool):
            return self.field if self.value else f"not {self.field}"
        return f"{self.field} {self.op} {json.dumps(self.value)}"


@dataclass(frozen=True, slots=True)
class AggregateSpec:
    """One declared aggregate: what it measures, over which touches, per which entity.

    ``kinds`` are the event kinds it reads; for ``ratio`` they are ``(numerator,
    denominator)``. ``field`` is the measured field (``None`` for ``count`` and ``ratio``).
    ``where`` conditions all hold for a touch to count.
    """

    name: str
    measure: Measure
    field: str | None
    kinds: tuple[str, ...]
    entity: str
    horizon_ms: int
    where: tuple[Condition, ...] = ()

    @property
    def expression(self) -> str:
        """The right-hand side, as the language writes it (canonical spacing)."""
        if self.measure is Measure.RATIO:
            head = f"ratio of {self.kinds[0]} to {self.kinds[1]}"
        elif self.measure is Measure.COUNT:
            head = f"count of {', '.join(self.kinds)}"
        else:
            head = f"{self.measure.value} {self.field} of {', '.join(self.kinds)}"
        text = f"{head} per {self.entity} over {format_duration(self.horizon_ms)}"
        if self.where:
            text += " where " + " and ".join(str(c) for c in self.where)
        return text

    def __str__(self) -> str:
        return f"feature {self.name} = {self.expression}"


class FeatureSpecs:
    """An immutable, checked, versioned set of :class:`AggregateSpec`.

    Build it with :meth:`from_text`, :meth:`from_file` or :func:`default_features`; the
    constructor takes specs that are already checked. ``version`` hashes the canonical
    form of the specs, so comments and layout do not change it but any change of meaning
    does.
    """

    __slots__ = ("_by_entity", "_by_name", "_specs", "_version")

    _specs: tuple[AggregateSpec, ...]
    _by_name: dict[str, AggregateSpec]
    _by_entity: dict[str, tuple[AggregateSpec, ...]]
    _version: str

    def __init__(self, specs: Iterable[AggregateSpec]) -> None:
        set_ = object.__setattr__
        set_(self, "_specs", tuple(specs))
        by_name: dict[str, AggregateSpec] = {}
        for spec in self._specs:
            if spec.name in by_name:
                raise ValueError(f"feature {spec.name!r} declared twice")
            by_name[spec.name] = spec
        set_(self, "_by_name", by_name)
        set_(
            self,
            "_by_entity",
            {e: tuple(s for s in self._specs if s.entity == e) for e in ENTITIES},
        )
        digest = hashlib.sha256("\n".join(str(s) for s in self._specs).encode())
        set_(self, "_version", digest.hexdigest()[:16])

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"FeatureSpecs is immutable (cannot set {name!r})")

    @classmethod
    def from_text(cls, text: str, *, name: str = "<features>") -> FeatureSpecs:
        """Parse and check a features file's text; raise :class:`FeatureSpecError` listing
        every problem, or return the specs in source order."""
        decls, syntax = parse_declarations(text, file=name)
        specs, errors = check_declarations(decls, file=name)
        problems = sorted([*syntax, *errors], key=lambda e: (e.line, e.column))
        if problems:
            raise FeatureSpecError(problems)
        return cls(specs)

    @classmethod
    def from_file(cls, path: str | Path) -> FeatureSpecs:
        """:meth:`from_text` on a file (UTF-8), its path naming it in error locations."""
        path = Path(path)
        return cls.from_text(path.read_text("utf-8"), name=str(path))

    @property
    def specs(self) -> tuple[AggregateSpec, ...]:
        """Every spec, in declaration order."""
        return self._specs

    @property
    def names(self) -> tuple[str, ...]:
        """Every feature name, in declaration order."""
        return tuple(self._by_name)

    @property
    def version(self) -> str:
        """16 hex digits of the SHA-256 of the canonical specs."""
        return self._version

    def for_entity(self, entity: str) -> tuple[AggregateSpec, ...]:
        """The specs kept per ``entity`` (``()`` for an entity without any)."""
        return self._by_entity.get(entity, ())

    def get(self, name: str) -> AggregateSpec | None:
        """The spec of that name, if declared."""
        return self._by_name.get(name)

    def __getitem__(self, name: str) -> AggregateSpec:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[AggregateSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeatureSpecs) and self._specs == other._specs

    def __hash__(self) -> int:
        return hash(self._specs)

    def __repr__(self) -> str:
        return f"FeatureSpecs(version={self._version!r}, features={len(self._specs)})"


def default_features() -> FeatureSpecs:
    """The features of ``default.features`` (package data)."""
    text = resources.files(__package__).joinpath(DEFAULT_FEATURES_NAME).read_text("utf-8")
    return FeatureSpecs.from_text(text, name=DEFAULT_FEATURES_NAME)


def catalogue_entries(specs: FeatureSpecs | Iterable[AggregateSpec]) -> tuple[Feature, ...]:
    """One ``number`` :class:`~riskstream.fraud.rules.Feature` per spec, described by its
    expression, so rules can be type-checked against the declared features."""
    return tuple(Feature(s.name, ValueType.NUMBER, s.expression) for s in specs)


# -- checking ------------------------------------------------------------------------------


def check_declarations(
    decls: Sequence[FeatureDecl], *, file: str = "<features>"
) -> tuple[list[AggregateSpec], list[FeatureError]]:
    """Check parsed declarations: the specs without problems, and every problem found."""
    checker = _Checker(file)
    specs: list[AggregateSpec] = []
    first_line: dict[str, int] = {}
    for decl in decls:
        before = len(checker.errors)
        name = decl.name.text
        if name in first_line:
            checker.error(
                f"feature {name!r} is already declared on line {first_line[name]}",
                decl.name,
                "duplicate-feature",
            )
        else:
            first_line[name] = decl.name.line
        spec = checker.feature(decl)
        if len(checker.errors) == before and spec is not None:
            specs.append(spec)
    return specs, checker.errors


class _Checker:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[FeatureError] = []

    def error(self, message: str, at: Located, code: str, *, line: int = 0, col: int = 0) -> None:
        self.errors.append(
            FeatureError(
                message, file=self.file, line=line or at.line, column=col or at.column, code=code
            )
        )

    def feature(self, decl: FeatureDecl) -> AggregateSpec | None:
        measure = Measure(decl.measure.text)
        entity = decl.entity.text
        self.name(decl.name, decl.entity)
        for kind in decl.kinds:
            if kind.text not in TOUCH_KINDS:
                self.error(
                    f"unknown event kind {kind.text!r}{_suggest(kind.text, TOUCH_KINDS)}",
                    kind,
                    "unknown-kind",
                )
        if decl.field is not None:
            self.measured_field(measure, decl.field)
        where = tuple(c for c in (self.condition(d) for d in decl.where) if c is not None)
        horizon = decl.horizon_ms
        if horizon is not None and not 0 < horizon <= MAX_HORIZON_MS:
            self.error(
                f"window {decl.horizon.text!r} must be longer than 0 and at most 400d",
                decl.horizon,
                "bad-horizon",
            )
        if horizon is None:
            return None
        kinds = tuple(k.text for k in decl.kinds)
        if measure is Measure.RATIO and kinds[0] == kinds[1]:
            self.error(
                f"a ratio of {kinds[0]!r} to itself is always 1: name two kinds",
                decl.kinds[1],
                "bad-ratio",
            )
            return None
        if measure is not Measure.RATIO:
            kinds = tuple(dict.fromkeys(kinds))  # "of checkout, checkout" reads checkout once
        return AggregateSpec(
            name=decl.name.text,
            measure=measure,
            field=decl.field.text if decl.field is not None else None,
            kinds=kinds,
            entity=entity,
            horizon_ms=horizon,
            where=where,
        )

    def name(self, name: Located, entity: Located) -> None:
        if entity.text not in ENTITIES:
            self.error(
                f"features are kept per {', '.join(ENTITIES)}, not {entity.text!r}"
                + _suggest(entity.text, ENTITIES),
                entity,
                "unknown-entity",
            )
        head, dot, _ = name.text.partition(".")
        if not dot:
            self.error(
                f"feature name {name.text!r} must start with its entity, like "
                f"'{entity.text}.{name.text}'",
                name,
                "bad-name",
            )
        elif entity.text in ENTITIES and head != entity.text:
            self.error(
                f"feature {name.text!r} is kept per {entity.text}: its name must start "
                f"with '{entity.text}.'",
                name,
                "bad-name",
            )

    def measured_field(self, measure: Measure, field: Located) -> None:
        type_ = TOUCH_FIELDS.get(field.text)
        if type_ is None:
            self.unknown_field(field)
        elif measure in _NUMERIC and type_ != "number":
            self.error(
                f"{measure.value} needs a number, but {field.text!r} is a {type_}",
                field,
                "type-mismatch",
            )
        elif measure is Measure.DISTINCT and type_ == "bool":
            self.error(
                f"distinct needs a string or a number, but {field.text!r} is a bool",
                field,
                "type-mismatch",
            )

    def condition(self, decl: ConditionDecl) -> Condition | None:
        field = decl.field
        type_ = TOUCH_FIELDS.get(field.text)
        if type_ is None:
            self.unknown_field(field)
            return None
        value, op = decl.value, decl.op
        if decl.bare:
            if type_ != "bool":
                written = field.text if value else f"not {field.text}"
                self.error(
                    f"{written!r} tests a bool, but {field.text!r} is a {type_} "
                    f"(compare it, like {field.text} {_example(type_)})",
                    field,
                    "type-mismatch",
                )
                return None
            return Condition(field.text, "=", value)
        given = _literal_type(value)
        at = {"line": decl.value_line, "col": decl.value_column}
        if given != type_:
            self.error(
                f"{field.text!r} is a {type_}, compared with a {given}",
                field,
                "type-mismatch",
                **at,
            )
            return None
        if op in _ORDERING and type_ != "number":
            self.error(
                f"{op!r} compares numbers, but {field.text!r} is a {type_} (use = or !=)",
                field,
                "type-mismatch",
            )
            return None
        if type_ == "bool" and op == "!=":
            # null never passes, so "!= true" is "= false"
            return Condition(field.text, "=", not value)
        return Condition(field.text, op, value)

    def unknown_field(self, field: Located) -> None:
        known = tuple(TOUCH_FIELDS)
        self.error(
            f"touches have no field {field.text!r}{_suggest(field.text, known)}",
            field,
            "unknown-field",
        )


def _literal_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _example(type_: str) -> str:
    return "> 0" if type_ == "number" else '= "..."'


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
