"""The fraud topology under a topic prefix, for API tests and benchmarks on a shared broker:

    RISKSTREAM_API_TOPIC_PREFIX=t-1a2b. riskstream worker \\
        --topology tests.integration.api_worker_app:topology --log kafka://...

Every topic the engine reads or writes carries the prefix (the prefix the API is given with
the same variable), so runs on one broker never see each other's events or decisions. The
shipped rules decide (no published rules or models: other runs may publish theirs).
"""

from __future__ import annotations

import os

from riskstream.events import ACTIVITY_TOPICS
from riskstream.fraud.topology import ALERTS_TOPIC, DECISIONS_TOPIC, FraudConfig, fraud_topology
from riskstream.stream.topology import Topology

__all__ = ["PREFIX_ENV", "config_for", "topology"]

PREFIX_ENV = "RISKSTREAM_API_TOPIC_PREFIX"


def config_for(prefix: str) -> FraudConfig:
    """The fraud topology's names under ``prefix``."""
    return FraudConfig(
        application=f"{prefix}riskstream-fraud",
        input_topics=tuple(prefix + topic for topic in ACTIVITY_TOPICS),
        decisions_topic=prefix + DECISIONS_TOPIC,
        alerts_topic=prefix + ALERTS_TOPIC,
        dlq_namespace=prefix,
    )


def topology() -> Topology:
    return fraud_topology(config_for(os.environ.get(PREFIX_ENV, "")))
