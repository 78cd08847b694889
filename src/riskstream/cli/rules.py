"""``riskstream rules publish|list|check|retire`` and ``riskstream lists add|remove|show``.

What the fraud team changes while the engine runs; running workers pick it up from the
compacted topics ``risk.rules`` and ``risk.lists`` without a restart (see
:mod:`riskstream.services.rulebook`). The logic lives in :mod:`riskstream.services`; this
module parses options and renders.

Exit codes: 0 done, 2 invalid input (a rules file that does not check - nothing is
published - or a bad argument), 1 the log failed. ``--json`` prints one machine-readable
object on stdout; tables go to stdout, messages to stderr.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from riskstream.errors import RiskstreamError
from riskstream.fraud.rules import ListKind, RuleError, RuleSet, RuleSetError
from riskstream.log import EventLog, open_log
from riskstream.services.hotreload import Rejected, wall_clock_ms
from riskstream.services.lists import (
    ListEntry,
    ListName,
    add_list_entry,
    list_key,
    parse_ttl,
    read_list_entries,
    remove_list_entry,
)
from riskstream.services.rules_topic import (
    DEFAULT_RULE_SET_NAME,
    PublishedRuleSet,
    RulesChange,
    build_published,
    engine_catalogue,
    format_rule_error,
    publish_rules,
    read_published_rules,
    retire_rules,
)
from riskstream.settings import Settings

__all__ = ["lists_app", "rules_app"]

rules_app = typer.Typer(
    help="Publish, list and check rule sets; running workers reload them live.",
    no_args_is_help=True,
)
lists_app = typer.Typer(
    help="Block and allow lists (device, instrument, ip, email_hash, bin), reloaded live.",
    no_args_is_help=True,
)
console = Console(stderr=True)

INVALID = 2  # exit code: invalid input, nothing was changed

# Defined here rather than imported from app.py, which imports this module.
LogOption = typer.Option(
    None, "--log", help="Event log URL (default: RISKSTREAM_LOG_URL or embedded:.riskstream/log)."
)
JsonOption = typer.Option(False, "--json", help="Print a machine-readable summary on stdout.")
NameOption = typer.Option(DEFAULT_RULE_SET_NAME, "--name", help="The rule set's name.")
FileArgument = typer.Argument(..., help="A rules file.", show_default=False)
ListArgument = typer.Argument(..., help="blocklist or allowlist.", show_default=False)
KindArgument = typer.Argument(..., help="What the list holds.", show_default=False)
ValueArgument = typer.Argument(..., help="The id to list (device id, IP, BIN, ...).")
OnlyListArgument = typer.Argument(None, help="Only this list.")
OnlyKindArgument = typer.Argument(None, help="Only this kind.")


@contextmanager
def _open(log_url: str | None) -> Iterator[EventLog]:
    """The log the options name; errors of ours end the command with a message, exit 1."""
    settings = Settings()
    url = log_url or settings.log_url
    try:
        log = open_log(url, options=settings.log_options)
    except RiskstreamError as exc:
        console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(1) from exc
    try:
        yield log
    except RiskstreamError as exc:
        console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(1) from exc
    finally:
        log.close()


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- rules: checking a file ----------------------------------------------------------------


def _load(file: Path, *, as_json: bool) -> RuleSet:
    """Build ``file`` against the engine's catalogue, or print every error and exit 2.

    The set is built under the file's name (part of its version, so publishing the same
    file from another directory gives the same version); errors show the path as given.
    """
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        console.print(Text(f"error: cannot read {file}: {exc}", style="red"))
        if as_json:
            print(json.dumps({"ok": False, "file": str(file), "errors": [str(exc)]}))
        raise typer.Exit(INVALID) from exc
    try:
        return RuleSet.from_text(text, engine_catalogue(), name=file.name)
    except RuleSetError as exc:
        errors = [_shown(error, file) for error in exc.errors]
        for error in errors:
            console.print(Text(format_rule_error(error)), soft_wrap=True)
        count = len(errors)
        console.print(
            Text(f"{file}: {count} error{'s' * (count != 1)}, nothing published", style="red")
        )
        if as_json:
            print(
                json.dumps(
                    {"ok": False, "file": str(file), "errors": [_error_json(e) for e in errors]}
                )
            )
        raise typer.Exit(INVALID) from exc


def _shown(error: RuleError, file: Path) -> RuleError:
    """The error located at the path the user gave (it was built under the file's name)."""
    if error.file != file.name:
        return error
    return RuleError(
        error.message, file=str(file), line=error.line, column=error.column, code=error.code
    )


def _error_json(error: RuleError) -> dict[str, object]:
    return {
        "file": error.file,
        "line": error.line,
        "column": error.column,
        "code": error.code,
        "message": error.message,
    }


def _rules_json(rules: RuleSet) -> list[dict[str, object]]:
    return [
        {
            "id": rule.id,
            "version": rule.version,
            "action": rule.action.value,
            "score": rule.score,
            "shadow": rule.shadow,
            "description": rule.description,
        }
        for rule in rules
    ]


def _rules_table(rules: RuleSet) -> Table:
    table = Table()
    table.add_column("rule")
    table.add_column("version", justify="right")
    table.add_column("action")
    table.add_column("score", justify="right")
    table.add_column("shadow")
    for rule in rules:
        table.add_row(
            Text(rule.id),
            str(rule.version),
            rule.action.value,
            str(rule.score),
            "shadow" if rule.shadow else "",
        )
    return table


@rules_app.command("check")
def rules_check(file: Path = FileArgument, as_json: bool = JsonOption) -> None:
    """Check a rules file against the engine's features; publish nothing."""
    rules = _load(file, as_json=as_json)
    shadow = sum(rule.shadow for rule in rules)
    if as_json:
        print(
            json.dumps(
                {
                    "ok": True,
                    "file": str(file),
                    "version": rules.version,
                    "rules": _rules_json(rules),
                }
            )
        )
        return
    console.print(
        Text(f"{file}: ok, {len(rules)} rules ({shadow} in shadow), version {rules.version}")
    )


# -- rules: the log ------------------------------------------------------------------------


@rules_app.command("publish")
def rules_publish(
    file: Path = FileArgument,
    name: str = NameOption,
    published_by: str | None = typer.Option(
        None, "--by", help="Who publishes (default: user@host)."
    ),
    log_url: str | None = LogOption,
    as_json: bool = JsonOption,
) -> None:
    """Check a rules file and publish it as a rule set; running workers switch to it.

    A file with errors is not published (exit 2). Prints the new version and what changed
    against the set published before.
    """
    rules = _load(file, as_json=as_json)
    catalogue = engine_catalogue()
    with _open(log_url) as log:
        before = read_published_rules(log).get(name)
        previous: RuleSet | None = None
        if before is not None:
            try:
                previous = build_published(before, catalogue)
            except Rejected as exc:  # published under an older catalogue, or written by hand
                console.print(
                    Text(f"the published version {before.version} does not build: {exc}", "yellow")
                )
        change = RulesChange.between(previous, rules)
        fresh = before is None or before.version != rules.version
        record = publish_rules(log, rules, name=name, published_by=published_by) if fresh else None
        url = log.url
    if as_json:
        print(
            json.dumps(
                {
                    "ok": True,
                    "log": url,
                    "name": name,
                    "version": rules.version,
                    "published": fresh,
                    "previous_version": None if before is None else before.version,
                    "published_at": None if record is None else record.published_at,
                    "rules": len(rules),
                    "change": change.as_dict(),
                }
            )
        )
        return
    _report_publish(name, rules, before, change, record)


def _report_publish(
    name: str,
    rules: RuleSet,
    before: PublishedRuleSet | None,
    change: RulesChange,
    record: PublishedRuleSet | None,
) -> None:
    if record is None:
        console.print(Text(f"rule set {name!r} is already at version {rules.version}: unchanged"))
        return
    since = "first version" if before is None else f"was {before.version}"
    console.print(
        Text(f"published rule set {name!r} version {rules.version} ({since}), {len(rules)} rules")
    )
    for label, ids, style in (
        ("added", change.added, "green"),
        ("changed", change.changed, "yellow"),
        ("removed", change.removed, "red"),
        ("shadowed", change.shadowed, "cyan"),
        ("enforced", change.enforced, "magenta"),
    ):
        for rule_id in ids:
            console.print(Text(f"  {label:<9}{rule_id}", style=style))
    for rule_id in change.unbumped:
        console.print(
            Text(f"  warning: {rule_id} changed but its version did not go up", style="yellow")
        )
    if before is not None and not change:
        console.print(Text("  no rule changed (only comments or layout)"))


@rules_app.command("list")
def rules_list(log_url: str | None = LogOption, as_json: bool = JsonOption) -> None:
    """The published rule sets: version, who published when, and every rule."""
    catalogue = engine_catalogue()
    with _open(log_url) as log:
        published = read_published_rules(log)
        url = log.url
    built: dict[str, RuleSet | Rejected] = {}
    for name, record in published.items():
        try:
            built[name] = build_published(record, catalogue)
        except Rejected as exc:
            built[name] = exc
    if as_json:
        sets = []
        for name, record in published.items():
            rules = built[name]
            sets.append(
                {
                    "name": name,
                    "version": record.version,
                    "source_name": record.source_name,
                    "published_at": record.published_at,
                    "published_by": record.published_by,
                    "valid": isinstance(rules, RuleSet),
                    "errors": list(rules.errors) if isinstance(rules, Rejected) else [],
                    "rule_count": len(rules) if isinstance(rules, RuleSet) else 0,
                    "rules": _rules_json(rules) if isinstance(rules, RuleSet) else [],
                }
            )
        print(json.dumps({"log": url, "rule_sets": sets}))
        return
    if not published:
        console.print(f"no rule sets published on [cyan]{url}[/]")
        return
    out = Console()
    for name, record in published.items():
        rules = built[name]
        header = Text(f"{name}", style="bold")
        header.append(
            f"  version {record.version} from {record.source_name}, published "
            f"{_when(record.published_at)} by {record.published_by or '?'}"
        )
        out.print(header)
        if isinstance(rules, Rejected):
            out.print(Text("  does not build against the engine's features:", style="red"))
            for error in rules.errors:
                out.print(Text(f"  {error}"), soft_wrap=True)
            continue
        out.print(_rules_table(rules))


@rules_app.command("retire")
def rules_retire(
    name: str = typer.Argument(..., help="The rule set to retire."),
    log_url: str | None = LogOption,
    as_json: bool = JsonOption,
) -> None:
    """Retire a published rule set; workers following it go back to their default rules."""
    with _open(log_url) as log:
        known = name in read_published_rules(log)
        if known:
            retire_rules(log, name)
    if as_json:
        print(json.dumps({"ok": True, "name": name, "retired": known}))
    elif known:
        console.print(Text(f"retired rule set {name!r}"))
    else:
        console.print(Text(f"no rule set {name!r} is published: nothing to retire"))


# -- lists ---------------------------------------------------------------------------------


def _entry_json(entry: ListEntry, now: int) -> dict[str, object]:
    return {
        "list": entry.list_name.value,
        "kind": entry.kind.value,
        "value": entry.value,
        "reason": entry.reason,
        "added_at": entry.added_at,
        "expires_at": entry.expires_at,
        "active": entry.active(now),
    }


@lists_app.command("add")
def lists_add(
    list_name: ListName = ListArgument,
    kind: ListKind = KindArgument,
    value: str = ValueArgument,
    reason: str = typer.Option("", "--reason", help="Why (shown to analysts and in audits)."),
    ttl: str | None = typer.Option(
        None, "--ttl", help="Expire after this long: 30m, 12h, 7d, 2w (default: never)."
    ),
    log_url: str | None = LogOption,
    as_json: bool = JsonOption,
) -> None:
    """Add an id to a list (or replace its entry); workers see it within a poll."""
    value = value.strip()
    if not value:
        console.print(Text("error: the value is empty", style="red"))
        raise typer.Exit(INVALID)
    try:
        ttl_ms = None if ttl is None else parse_ttl(ttl)
    except ValueError as exc:
        console.print(Text(f"error: --ttl: {exc}", style="red"))
        raise typer.Exit(INVALID) from exc
    with _open(log_url) as log:
        entry = add_list_entry(log, list_name, kind, value, reason=reason, ttl_ms=ttl_ms)
    if as_json:
        print(json.dumps({"ok": True, "key": entry.key, **_entry_json(entry, entry.added_at)}))
        return
    until = "" if entry.expires_at is None else f", until {_when(entry.expires_at)}"
    console.print(Text(f"added {entry.value} to {entry.list_ref}{until}"))


@lists_app.command("remove")
def lists_remove(
    list_name: ListName = ListArgument,
    kind: ListKind = KindArgument,
    value: str = ValueArgument,
    log_url: str | None = LogOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove an id from a list."""
    value = value.strip()
    key = list_key(list_name, kind, value)
    with _open(log_url) as log:
        present = any(entry.key == key for entry in read_list_entries(log))
        if present:
            remove_list_entry(log, list_name, kind, value)
    ref = f"{list_name.value}.{kind.value}"
    if as_json:
        print(json.dumps({"ok": True, "key": key, "removed": present}))
    elif present:
        console.print(Text(f"removed {value} from {ref}"))
    else:
        console.print(Text(f"{value} is not on {ref}: nothing to remove"))


@lists_app.command("show")
def lists_show(
    list_name: ListName | None = OnlyListArgument,
    kind: ListKind | None = OnlyKindArgument,
    include_expired: bool = typer.Option(False, "--all", help="Show expired entries too."),
    log_url: str | None = LogOption,
    as_json: bool = JsonOption,
) -> None:
    """The entries of the lists (unexpired ones unless --all)."""
    now = wall_clock_ms()
    with _open(log_url) as log:
        entries = [
            entry
            for entry in read_list_entries(log)
            if (list_name is None or entry.list_name is list_name)
            and (kind is None or entry.kind is kind)
            and (include_expired or entry.active(now))
        ]
        url = log.url
    if as_json:
        print(json.dumps({"log": url, "entries": [_entry_json(e, now) for e in entries]}))
        return
    if not entries:
        console.print(f"no list entries on [cyan]{url}[/]")
        return
    table = Table(title=f"list entries on {url}")
    for column in ("list", "value", "reason", "added (UTC)", "expires (UTC)"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        expires = _when(entry.expires_at)
        if not entry.active(now):
            expires += " (expired)"
        table.add_row(
            entry.list_ref, Text(entry.value), Text(entry.reason), _when(entry.added_at), expires
        )
    Console().print(table)
