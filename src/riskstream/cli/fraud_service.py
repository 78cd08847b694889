"""``riskstream fraud-service``: hold challenged and blocked payments, send MFA challenges,
release or cancel - in its own consumer group, until told to stop.

SIGTERM or SIGINT finishes the batch in hand, commits outputs, state and offsets, and leaves
the group. A SIGKILL loses nothing either: the restarted service resumes from its last
commit and writes the same lifecycle events again (readers deduplicate by event id).
"""

from __future__ import annotations

import typer
from rich.console import Console

from riskstream.cli.running import run_until_stopped, stop_on_signals
from riskstream.cli.worker import DeliveryChoice
from riskstream.log import open_log
from riskstream.services.fraud_service import (
    FileNotifier,
    FraudServiceSettings,
    ensure_topics,
    fraud_service_topology,
)
from riskstream.settings import Settings
from riskstream.stream import Runner

__all__ = ["fraud_service"]

console = Console(stderr=True)

_DELIVERY = typer.Option(
    DeliveryChoice.low_latency,
    help="low_latency: events leave at once (deduplicate by event id); exactly_once: "
    "Kafka transactions.",
)


def fraud_service(
    log_url: str | None = typer.Option(None, "--log", help="Event log URL (default: settings)."),
    state_dir: str = typer.Option(
        ".riskstream/fraud-service", help="Directory of the service's local state stores."
    ),
    mfa_timeout: float | None = typer.Option(
        None,
        min=0.001,
        help="Seconds an MFA challenge may go unanswered (default: RISKSTREAM_MFA_TIMEOUT_S, 300).",
    ),
    channel: str | None = typer.Option(
        None, help="Where challenges are sent (default: RISKSTREAM_MFA_CHANNEL, sms)."
    ),
    notify_log: str | None = typer.Option(
        None,
        help="File the notifier appends one JSON line per challenge to "
        "(default: RISKSTREAM_MFA_NOTIFY_LOG).",
    ),
    topic_prefix: str = typer.Option(
        "", help="Prefix of the service's topics and group (as the API's topic prefix)."
    ),
    group: str | None = typer.Option(None, help="Consumer group (default: the application)."),
    delivery: DeliveryChoice = _DELIVERY,
    commit_interval_ms: int | None = typer.Option(
        None, min=1, help="How often state and offsets commit (default 1000, exactly_once 100)."
    ),
    session_timeout_ms: int = typer.Option(
        10_000, min=1_000, help="How long the group waits for a silent member before moving on."
    ),
    metrics_port: int | None = typer.Option(None, help="Serve Prometheus metrics on this port."),
) -> None:
    """Run the Fraud Service: pause, challenge, release or cancel transactions."""
    stopping = stop_on_signals(console)
    settings = Settings()
    service = FraudServiceSettings()
    overrides: dict[str, object] = {
        "mfa_timeout_s": mfa_timeout,
        "mfa_channel": channel,
        "mfa_notify_log": notify_log,
    }
    service = service.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    config = service.config().prefixed(topic_prefix)
    log = open_log(log_url or settings.log_url, options=settings.log_options)
    notifier = FileNotifier(service.mfa_notify_log)
    ensure_topics(log, config, partitions=settings.partitions)
    runner = Runner(
        fraud_service_topology(config, notifier=notifier),
        log,
        state_dir=state_dir,
        group_id=group,
        delivery=delivery.value,
        commit_interval_ms=commit_interval_ms,
        session_timeout_ms=session_timeout_ms,
    )
    console.print(
        f"fraud service in group {runner.group_id} starting: MFA timeout "
        f"{config.mfa_timeout_ms / 1000:g}s, challenges to {service.mfa_notify_log}"
    )
    try:
        run_until_stopped(runner, stopping, metrics_port=metrics_port)
    finally:
        notifier.close()
        log.close()
    console.print(f"fraud service stopped after {runner.processed:,} records; all committed")
