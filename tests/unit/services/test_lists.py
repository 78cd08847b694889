"""Block/allow list entries: keys, durations, the table readers keep, and `riskstream lists`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.fraud.rules import DEFAULT_LISTS, ListKind
from riskstream.services.compacted import Change
from riskstream.services.hotreload import Rejected
from riskstream.services.lists import (
    ListEntry,
    ListName,
    ListTable,
    decode_entry,
    list_key,
    parse_ttl,
)

NOW = 1_700_000_000_000


def _entry(
    value: str, *, kind: ListKind = ListKind.DEVICE, expires_at: int | None = None
) -> ListEntry:
    return ListEntry(
        list_name=ListName.BLOCKLIST,
        kind=kind,
        value=value,
        reason="r",
        added_at=NOW,
        expires_at=expires_at,
    )


def _change(entry: ListEntry | None, key: str, offset: int = 0) -> Change:
    value = None if entry is None else msgspec.json.encode(entry)
    return Change(key.encode(), value, offset, NOW)


def test_keys_and_names_follow_the_rule_language() -> None:
    entry = _entry("d-1")
    assert entry.key == list_key("blocklist", "device", "d-1") == "blocklist:device:d-1"
    assert entry.list_ref == "blocklist.device" and entry.list_ref in DEFAULT_LISTS
    assert list_key(ListName.ALLOWLIST, ListKind.IP, "::1") == "allowlist:ip:::1"
    encoded = json.loads(msgspec.json.encode(entry))
    assert encoded == {
        "list": "blocklist",
        "kind": "device",
        "value": "d-1",
        "reason": "r",
        "added_at": NOW,
        "expires_at": None,
    }
    with pytest.raises(ValueError):
        list_key("greylist", "device", "d-1")


@pytest.mark.parametrize(
    ("text", "ms"),
    [("7d", 604_800_000), ("12h", 43_200_000), ("1h30m", 5_400_000), ("2w", 1_209_600_000),
     ("500ms", 500), ("45s", 45_000)],
)  # fmt: skip
def test_parse_ttl(text: str, ms: int) -> None:
    assert parse_ttl(text) == ms


@pytest.mark.parametrize("text", ["", "7", "d", "7 days", "1.5h", "0s", "-1d", "7d!"])
def test_parse_ttl_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ttl(text)


def test_decode_refuses_bad_records() -> None:
    entry = _entry("d-1")
    assert decode_entry(b"blocklist:device:d-1", msgspec.json.encode(entry)) == entry
    with pytest.raises(Rejected, match="published under the key"):
        decode_entry(b"blocklist:device:d-2", msgspec.json.encode(entry))
    with pytest.raises(Rejected, match="not a list entry"):
        decode_entry(b"blocklist:device:d-1", b'{"list": "blocklist", "kind": "phone"}')
    with pytest.raises(Rejected, match="empty"):
        decode_entry(b"blocklist:device:", msgspec.json.encode(_entry("")))


def test_table_applies_changes_and_expires_at_read_time() -> None:
    table = ListTable(DEFAULT_LISTS)
    rejected: list[Rejected] = []
    changed = table.apply(
        [
            _change(_entry("d-1"), "blocklist:device:d-1", 0),
            _change(_entry("d-2", expires_at=NOW + 10), "blocklist:device:d-2", 1),
            _change(_entry("10.0.0.1", kind=ListKind.IP), "blocklist:ip:10.0.0.1", 2),
            Change(b"blocklist:device:x", b"garbage", 3, NOW),
        ],
        lambda _change, exc: rejected.append(exc),
    )
    assert changed and len(table) == 3 and len(rejected) == 1
    before = table.snapshot(NOW)
    assert before.lists["blocklist.device"] == {"d-1", "d-2"}
    assert before.lists["blocklist.ip"] == {"10.0.0.1"}
    assert before.lists["allowlist.bin"] == frozenset()
    assert set(before.lists) == set(DEFAULT_LISTS)
    assert before.valid_until == NOW + 10

    after = table.snapshot(NOW + 10)
    assert after.lists["blocklist.device"] == {"d-1"} and after.valid_until is None
    assert after.version != before.version

    assert not table.apply([_change(_entry("d-1"), "blocklist:device:d-1", 4)], print)
    assert table.apply([_change(None, "blocklist:device:d-1", 5)], print)
    assert not table.apply([_change(None, "blocklist:device:unknown", 6)], print)
    assert table.snapshot(NOW).lists["blocklist.device"] == {"d-2"}


def test_the_lists_version_depends_on_content_only() -> None:
    one, two = ListTable(), ListTable(DEFAULT_LISTS)
    a = _change(_entry("a"), "blocklist:device:a")
    b = _change(_entry("b"), "blocklist:device:b")
    one.apply([a, b], print)
    two.apply([b, a], print)
    assert one.snapshot(NOW).version == two.snapshot(NOW).version
    assert ListTable().snapshot(NOW).version != one.snapshot(NOW).version


def test_cli_lists_add_show_remove(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"embedded:{tmp_path / 'log'}"

    def run(*args: str) -> Any:
        result = runner.invoke(app, [*args, "--log", url, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    added = run("lists", "add", "blocklist", "device", "d-123", "--reason", "ring", "--ttl", "7d")
    assert added["key"] == "blocklist:device:d-123" and added["reason"] == "ring"
    assert added["expires_at"] == added["added_at"] + 7 * 86_400_000
    run("lists", "add", "allowlist", "instrument", "card-1")
    shown = run("lists", "show")
    values = [(e["list"], e["kind"], e["value"]) for e in shown["entries"]]
    assert values == [("allowlist", "instrument", "card-1"), ("blocklist", "device", "d-123")]
    only = run("lists", "show", "blocklist")
    assert [e["value"] for e in only["entries"]] == ["d-123"]

    assert run("lists", "remove", "blocklist", "device", "d-123")["removed"] is True
    assert run("lists", "remove", "blocklist", "device", "d-123")["removed"] is False
    assert [e["value"] for e in run("lists", "show")["entries"]] == ["card-1"]

    bad_kind = runner.invoke(app, ["lists", "add", "blocklist", "phone", "x", "--log", url])
    assert bad_kind.exit_code == 2
    bad_ttl = runner.invoke(
        app, ["lists", "add", "blocklist", "ip", "1.2.3.4", "--ttl", "soon", "--log", url]
    )
    assert bad_ttl.exit_code == 2 and "--ttl" in bad_ttl.output
