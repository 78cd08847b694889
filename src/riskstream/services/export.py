"""Export for data science: the events, decisions and labels of a time range, as Parquet.

``export_parquet(log, "jan.parquet", start_ms=..., end_ms=...)`` writes three files, one per
table, each with its own tidy schema (no columns of other tables, no sparse union)::

    jan.events.parquet     one row per activity event with event_time in [start, end)
    jan.decisions.parquet  one row per decision with checkout_time in [start, end)
    jan.labels.parquet     one row per label with label_time in [start, labels_until)

``pandas.read_parquet("jan.decisions.parquet")`` is a training frame. The tables join on
``transaction_id`` (decisions, labels, checkout events) and ``user_id``.

* **events** — ``topic``, ``partition``, ``offset`` (lineage), ``type`` (the event kind:
  ``login``, ``click``, ``checkout`` ...), ``event_id``, ``user_id``, ``event_time``,
  ``source``, ``schema_version``, then every field of every event kind as a typed column,
  null where the kind has no such field (derived from the event schemas, so a new field is a
  new column).
* **decisions** — the decision flattened: ``action``, ``score``, ``rule_score``,
  ``rule_action``, ``rule_ids`` (list), ``shadow_rule_ids`` (list), ``reasons_json`` (every
  fired rule with its score and the feature values it read), ``model_version``,
  ``model_probability``, the challenger's, the versions in force, ``missing``, ``faults``,
  latency, and one column per feature value, ``feature.<name>`` (numbers, booleans and
  strings keep their type; a feature of mixed kinds becomes JSON text, its field metadata
  saying ``encoding: json``).
* **labels** — ``kind`` (``chargeback``, ``fraud_reported``, ``mfa_failed``, ``mfa_passed``),
  ``is_fraud``, ``label_time``, ``transaction_id``, ``user_id``, ``event_id``, ``source``,
  ``amount`` (chargebacks) and ``detail`` (reason code, reporter, MFA method). By default a
  label counts if it arrived inside the range (what was known then); ``labels_until_ms``
  extends that horizon to collect the later labels of the range's checkouts.

Times are ``timestamp[ms, UTC]``. Rows keep log order (per partition); sort as needed.
Each file's schema metadata names the range and the log it came from.

The read goes through :func:`~riskstream.services.history.read_topic`: a consumer that is
only assigned, in no group, committing nothing - production consumers never notice. Memory
stays bounded: rows are written in row groups of ``batch_rows``; the decisions are read
twice (first to learn the feature columns, then to write them), the second time only up to
where the first stopped, so a growing log cannot change the schema midway. Files are
written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Union, get_args, get_origin

import msgspec

# pyarrow ships no type information (and its stubs lag its releases).
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from riskstream.errors import EventDecodeError
from riskstream.events import (
    ACTIVITY_TOPICS,
    EVENT_TYPES,
    Chargeback,
    Event,
    FraudReported,
    MfaCompleted,
    codec_for,
)
from riskstream.fraud.decision import Decision, decode_decision
from riskstream.fraud.topology import DECISIONS_TOPIC
from riskstream.log.port import EventLog
from riskstream.log.records import Record, TopicPartition
from riskstream.services.history import read_topic

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "EVENT_SCHEMA",
    "LABEL_SCHEMA",
    "TABLES",
    "ExportSummary",
    "export_parquet",
    "table_paths",
]

DEFAULT_BATCH_ROWS: Final = 50_000
TABLES: Final = ("events", "decisions", "labels")
FEATURE_PREFIX: Final = "feature."

Progress = Callable[[int], None]
_TIME = pa.timestamp("ms", tz="UTC")
_STRINGS = pa.list_(pa.string())


# -- schemas ----------------------------------------------------------------------------------


def _arrow_type(annotation: Any) -> pa.DataType:
    """The Arrow type of an event field (``X | None`` is ``X``, nullable)."""
    if get_origin(annotation) in (Union, types.UnionType):
        (inner,) = (arg for arg in get_args(annotation) if arg is not type(None))
        return _arrow_type(inner)
    if get_origin(annotation) is tuple:
        return pa.list_(_arrow_type(get_args(annotation)[0]))
    simple = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}
    if annotation not in simple:
        raise TypeError(f"no Parquet column type for event fields of type {annotation!r}")
    return simple[annotation]


def _event_schema(kinds: Iterable[type[Event]]) -> pa.Schema:
    columns: dict[str, pa.DataType] = {
        "topic": pa.string(),
        "partition": pa.int32(),
        "offset": pa.int64(),
        "type": pa.string(),
        "event_id": pa.string(),
        "user_id": pa.string(),
        "event_time": _TIME,
        "source": pa.string(),
        "schema_version": pa.int32(),
    }
    for kind in kinds:
        for field in msgspec.structs.fields(kind):
            arrow = _arrow_type(field.type)
            known = columns.setdefault(field.name, arrow)
            if field.name not in ("event_time", "schema_version") and known != arrow:
                raise TypeError(f"event field {field.name!r} has two types: {known}, {arrow}")
    return pa.schema([pa.field(name, arrow) for name, arrow in columns.items()])


EVENT_SCHEMA: Final = _event_schema(EVENT_TYPES)
_TAGS: Final = {kind: str(kind.__struct_config__.tag) for kind in EVENT_TYPES}

_DECISION_COLUMNS: Final = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("user_id", pa.string()),
        ("checkout_time", _TIME),
        ("decided_at", _TIME),
        ("latency_ms", pa.int64()),
        ("amount", pa.float64()),
        ("currency", pa.string()),
        ("merchant_id", pa.string()),
        ("action", pa.string()),
        ("score", pa.float64()),
        ("rule_score", pa.float64()),
        ("rule_action", pa.string()),
        ("rule_ids", _STRINGS),
        ("shadow_rule_ids", _STRINGS),
        ("reasons_json", pa.string()),
        ("model_version", pa.string()),
        ("model_probability", pa.float64()),
        ("challenger_version", pa.string()),
        ("challenger_probability", pa.float64()),
        ("rules_version", pa.string()),
        ("lists_version", pa.string()),
        ("features_version", pa.string()),
        ("missing", _STRINGS),
        ("faults", _STRINGS),
    ]
)

LABEL_SCHEMA: Final = pa.schema(
    [
        ("event_id", pa.string()),
        ("transaction_id", pa.string()),
        ("user_id", pa.string()),
        ("label_time", _TIME),
        ("kind", pa.string()),
        ("is_fraud", pa.bool_()),
        ("source", pa.string()),
        ("amount", pa.float64()),
        ("detail", pa.string()),
    ]
)

_json = msgspec.json.Encoder()
_JSON_TEXT: Final = {b"encoding": b"json"}


class _FeatureKinds:
    """What kinds of values each feature took, to give it one column type."""

    def __init__(self) -> None:
        self.kinds: dict[str, set[str]] = {}

    def observe(self, features: dict[str, Any]) -> None:
        kinds = self.kinds
        for name, value in features.items():
            seen = kinds.get(name)
            if seen is None:
                seen = kinds[name] = set()
            if value is not None:
                seen.add(_kind(value))

    def columns(self) -> list[pa.Field]:
        """One field per feature, sorted by name; a feature whose values were of mixed
        kinds is JSON text, and says so in its field metadata (``encoding: json``)."""
        fields = []
        for name in sorted(self.kinds):
            kinds = self.kinds[name]
            column = FEATURE_PREFIX + name
            if kinds == {"bool"}:
                fields.append(pa.field(column, pa.bool_()))
            elif kinds == {"int"}:
                fields.append(pa.field(column, pa.int64()))
            elif kinds <= {"int", "float"}:  # also a feature never set: nulls of float64
                fields.append(pa.field(column, pa.float64()))
            elif kinds == {"str"}:
                fields.append(pa.field(column, pa.string()))
            else:
                fields.append(pa.field(column, pa.string(), metadata=_JSON_TEXT))
        return fields


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str" if isinstance(value, str) else "other"


def _is_json(field: pa.Field) -> bool:
    return bool(field.metadata) and field.metadata.get(b"encoding") == b"json"


# -- rows -------------------------------------------------------------------------------------


def _event_row(record: Record, event: Event) -> dict[str, Any]:
    row: dict[str, Any] = msgspec.structs.asdict(event)
    for name, value in row.items():
        if isinstance(value, tuple):
            row[name] = list(value)
    row["topic"], row["partition"], row["offset"] = record.topic, record.partition, record.offset
    row["type"] = _TAGS.get(type(event), type(event).__name__)
    return row


def _label_row(event: Chargeback | FraudReported | MfaCompleted) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_id": event.event_id,
        "transaction_id": event.transaction_id,
        "user_id": event.user_id,
        "label_time": event.event_time,
        "source": event.source,
    }
    if isinstance(event, Chargeback):
        row.update(kind="chargeback", is_fraud=True, amount=event.amount, detail=event.reason_code)
    elif isinstance(event, FraudReported):
        row.update(kind="fraud_reported", is_fraud=event.confirmed, detail=event.reporter)
    else:
        kind = "mfa_passed" if event.passed else "mfa_failed"
        row.update(kind=kind, is_fraud=not event.passed, detail=event.method)
    return row


def _decision_row(decision: Decision, features: dict[str, bool]) -> dict[str, Any]:
    """The row of a decision; ``features`` names the feature columns, True for JSON text."""
    model, challenger = decision.model, decision.challenger
    row: dict[str, Any] = {
        "transaction_id": decision.transaction_id,
        "user_id": decision.user_id,
        "checkout_time": decision.checkout_time,
        "decided_at": decision.decided_at,
        "latency_ms": decision.latency_ms,
        "amount": decision.amount,
        "currency": decision.currency,
        "merchant_id": decision.merchant_id,
        "action": decision.action,
        "score": decision.score,
        "rule_score": decision.rule_score,
        "rule_action": decision.rule_action,
        "rule_ids": [reason.rule for reason in decision.reasons],
        "shadow_rule_ids": [reason.rule for reason in decision.shadow],
        "reasons_json": _json.encode(decision.reasons).decode(),
        "model_version": None if model is None else model.version,
        "model_probability": None if model is None else model.probability,
        "challenger_version": None if challenger is None else challenger.version,
        "challenger_probability": None if challenger is None else challenger.probability,
        "rules_version": decision.rules_version,
        "lists_version": decision.lists_version,
        "features_version": decision.features_version,
        "missing": decision.missing,
        "faults": decision.faults,
    }
    for name, value in decision.features.items():
        as_json = features.get(name)
        if as_json is None:
            continue  # cannot happen for records of the first pass
        if as_json and value is not None:
            value = _json.encode(value).decode()  # noqa: PLW2901 - mixed kinds as JSON text
        row[FEATURE_PREFIX + name] = value
    return row


# -- writing ----------------------------------------------------------------------------------


class _Table:
    """One Parquet file, written a row group at a time under a temporary name."""

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int) -> None:
        self.path = path
        self.schema = schema
        self.batch_rows = batch_rows
        self.rows = 0
        self._temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
        self._writer = pq.ParquetWriter(self._temporary, schema, compression="zstd")
        self._columns: dict[str, list[Any]] = {name: [] for name in schema.names}
        self._pending = 0

    def add(self, row: dict[str, Any]) -> None:
        get = row.get
        for name, column in self._columns.items():
            column.append(get(name))
        self._pending += 1
        if self._pending >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        arrays = [pa.array(self._columns[field.name], type=field.type) for field in self.schema]
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self.rows += self._pending
        self._pending = 0
        for column in self._columns.values():
            column.clear()

    def commit(self) -> None:
        self._flush()
        self._writer.close()
        self._temporary.replace(self.path)

    def abort(self) -> None:
        self._writer.close()
        self._temporary.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote: a file and a row count per table, the records read and how many
    of them did not decode (skipped and counted: bad input never stops an export)."""

    files: dict[str, Path]
    rows: dict[str, int]
    records_read: int
    undecodable: int


def table_paths(out: Path | str) -> dict[str, Path]:
    """``jan.parquet`` → ``jan.events.parquet``, ``jan.decisions.parquet``, ...."""
    out = Path(out)
    stem = out.name.removesuffix(".parquet")
    return {table: out.with_name(f"{stem}.{table}.parquet") for table in TABLES}


def _iso(ms: int) -> str:
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()
    except (ValueError, OverflowError, OSError):  # beyond the calendar: "the end of time"
        return f"{ms} ms"


class _Counter:
    """Records read and undecodable, with progress reported in steps."""

    def __init__(self, progress: Progress | None) -> None:
        self.read = 0
        self.undecodable = 0
        self._progress = progress
        self._unreported = 0

    def each(self, records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            self.read += 1
            self._unreported += 1
            if self._unreported >= 5_000:
                self.report()
            yield record
        self.report()

    def report(self) -> None:
        if self._progress is not None and self._unreported:
            self._progress(self._unreported)
        self._unreported = 0


def export_parquet(
    log: EventLog,
    out: Path | str,
    *,
    start_ms: int,
    end_ms: int,
    labels_until_ms: int | None = None,
    activity_topics: tuple[str, ...] = ACTIVITY_TOPICS,
    decisions_topic: str = DECISIONS_TOPIC,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Progress | None = None,
) -> ExportSummary:
    """Write the range ``[start_ms, end_ms)`` of ``log`` to the files of :func:`table_paths`."""
    labels_until = end_ms if labels_until_ms is None else labels_until_ms
    if end_ms <= start_ms or labels_until < end_ms:
        raise ValueError("the range needs start < end <= labels_until")
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    paths = table_paths(out)
    metadata = {
        "riskstream.from": _iso(start_ms),
        "riskstream.to": _iso(end_ms),
        "riskstream.labels_until": _iso(labels_until),
        "riskstream.log": log.url,
    }
    counter = _Counter(progress)
    feature_kinds, ends = _survey(log, decisions_topic, start_ms, end_ms, counter)
    feature_fields = feature_kinds.columns()
    schemas = {
        "events": EVENT_SCHEMA,
        "decisions": pa.schema([*_DECISION_COLUMNS, *feature_fields]),
        "labels": LABEL_SCHEMA,
    }
    tables: dict[str, _Table] = {}
    try:
        for name in TABLES:
            schema = schemas[name].with_metadata({**metadata, "riskstream.table": name})
            tables[name] = _Table(paths[name], schema, batch_rows)
        _write_events(log, activity_topics, tables, (start_ms, end_ms, labels_until), counter)
        features = {f.name.removeprefix(FEATURE_PREFIX): _is_json(f) for f in feature_fields}
        for record in counter.each(read_topic(log, [decisions_topic])):
            tp = TopicPartition(record.topic, record.partition)
            if record.offset >= ends.get(tp, 0):
                continue  # arrived after the survey: not in its schema
            decision = _decision(record, counter)
            if decision is not None and start_ms <= decision.checkout_time < end_ms:
                tables["decisions"].add(_decision_row(decision, features))
        for table in tables.values():
            table.commit()
    except BaseException:
        for table in tables.values():
            table.abort()
        raise
    return ExportSummary(
        files=paths,
        rows={name: table.rows for name, table in tables.items()},
        records_read=counter.read,
        undecodable=counter.undecodable,
    )


def _survey(
    log: EventLog, topic: str, start_ms: int, end_ms: int, counter: _Counter
) -> tuple[_FeatureKinds, dict[TopicPartition, int]]:
    """The feature columns of the range's decisions, and where each partition's read ended."""
    kinds = _FeatureKinds()
    ends: dict[TopicPartition, int] = {}
    for record in read_topic(log, [topic]):
        tp = TopicPartition(record.topic, record.partition)
        ends[tp] = max(ends.get(tp, 0), record.offset + 1)
        decision = _decision(record, counter)
        if decision is not None and start_ms <= decision.checkout_time < end_ms:
            kinds.observe(decision.features)
    return kinds, ends


def _decision(record: Record, counter: _Counter) -> Decision | None:
    try:
        return decode_decision(record.value)
    except (msgspec.DecodeError, ValueError):
        counter.undecodable += 1
        return None


def _write_events(
    log: EventLog,
    topics: tuple[str, ...],
    tables: dict[str, _Table],
    bounds: tuple[int, int, int],
    counter: _Counter,
) -> None:
    start_ms, end_ms, labels_until = bounds
    events, labels = tables["events"], tables["labels"]
    codecs = {topic: codec_for(topic) for topic in topics}
    for record in counter.each(read_topic(log, topics)):
        try:
            event = codecs[record.topic].decode(record.value)
        except EventDecodeError:
            counter.undecodable += 1
            continue
        at = event.event_time
        if start_ms <= at < end_ms:
            events.add(_event_row(record, event))
        if start_ms <= at < labels_until and isinstance(
            event, Chargeback | FraudReported | MfaCompleted
        ):
            labels.add(_label_row(event))
