"""``riskstream offers``: the offers service, as its own consumer group, until told to stop.

SIGTERM or SIGINT finishes the batch in hand, commits offers, state and offsets, and leaves
the group. Durations read like ``10m``, ``1h30m`` or ``500ms``.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.text import Text

from riskstream.cli.running import run_until_stopped, stop_on_signals
from riskstream.errors import RiskstreamError
from riskstream.log import open_log
from riskstream.services.lists import parse_ttl
from riskstream.services.offers import (
    OFFERS_APPLICATION,
    OFFERS_TOPIC,
    OffersConfig,
    OfferStage,
    ensure_offer_topics,
    offers_topology,
)
from riskstream.settings import Settings
from riskstream.stream import Runner

__all__ = ["offers"]

console = Console(stderr=True)

INVALID = 2  # exit code: invalid input


def _ms(text: str, option: str) -> int:
    try:
        return parse_ttl(text)
    except ValueError as exc:
        console.print(Text(f"error: {option}: {exc}", style="red"))
        raise typer.Exit(INVALID) from None


def offers(
    log_url: str | None = typer.Option(None, "--log", help="Event log URL (default: settings)."),
    state_dir: str = typer.Option(
        ".riskstream/state/offers", help="Directory of the local state stores."
    ),
    group: str = typer.Option(OFFERS_APPLICATION, help="Consumer group (and application name)."),
    topic: str = typer.Option(OFFERS_TOPIC, help="Where offers are written."),
    idle: str = typer.Option("10m", help="Offer when a cart idles this long without checkout."),
    session_gap: str = typer.Option(
        "30m", help="A session silent this long has ended (must exceed --idle)."
    ),
    cooldown: str = typer.Option("1h", help="At most one offer per user this often ('0': off)."),
    flag_window: str = typer.Option(
        "24h", help="How long a flag (review/challenge/block, pause, fraud label) holds offers."
    ),
    max_score: float | None = typer.Option(
        None,
        help="A user whose latest decision scored this much is not low-risk "
        "(default: RISKSTREAM_REVIEW_THRESHOLD).",
    ),
    commit_interval_ms: int | None = typer.Option(
        None, min=1, help="How often state and offsets commit (default 1000)."
    ),
) -> None:
    """Offer low-risk users with an idle cart a personalised discount, in the moment."""
    stopping = stop_on_signals(console)
    settings = Settings()
    try:
        config = OffersConfig(
            application=group,
            offers_topic=topic,
            idle_ms=_ms(idle, "--idle"),
            session_gap_ms=_ms(session_gap, "--session-gap"),
            cooldown_ms=0 if cooldown.strip() == "0" else _ms(cooldown, "--cooldown"),
            flag_window_ms=_ms(flag_window, "--flag-window"),
            max_score=settings.review_threshold if max_score is None else max_score,
        )
    except ValueError as exc:
        console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(INVALID) from None
    log = open_log(log_url or settings.log_url, options=settings.log_options)
    try:
        ensure_offer_topics(log, config, partitions=settings.partitions)
    except RiskstreamError as exc:
        log.close()
        console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(1) from None
    stage = OfferStage(config)
    runner = Runner(
        offers_topology(config, stage),
        log,
        state_dir=state_dir,
        commit_interval_ms=commit_interval_ms,
    )
    console.print(
        f"offers service in group {runner.group_id} starting: "
        f"carts idle {idle} → {config.offers_topic}"
    )
    try:
        run_until_stopped(runner, stopping)
    finally:
        log.close()
    outcomes = ", ".join(f"{name} {count}" for name, count in sorted(stage.outcomes.items()))
    console.print(
        f"offers service stopped after {runner.processed:,} records "
        f"(idle carts: {outcomes or 'none'}); everything committed"
    )
