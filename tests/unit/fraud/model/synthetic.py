"""Seeded synthetic checkouts whose fraud depends on a few features, with delayed labels."""

from __future__ import annotations

import math
import random

from riskstream.fraud.model import DAY_MS, LabeledCheckout

T0 = 1_700_006_400_000  # a UTC midnight
HOUR_MS = 3_600_000
COUNTRIES = ("DE", "FR", "GB", "US", "NL")

# Few, small trees: enough to learn the synthetic signal, fast to train.
FAST_PARAMS = {"num_iterations": 30, "num_leaves": 7, "min_data_in_leaf": 10}


def features(rng: random.Random, *, fraud_bias: float = 0.0) -> tuple[dict[str, object], float]:
    """One checkout's features and its fraud log-odds."""
    new_device = rng.random() < 0.15
    account_age_ms = int(rng.expovariate(1 / (200 * DAY_MS)))
    device_accounts = 1 + int(rng.expovariate(1.5))
    country = rng.choice(COUNTRIES) if rng.random() < 0.97 else "XX"
    amount = round(rng.lognormvariate(4, 0.8), 2)
    log_odds = (
        -5.0
        + fraud_bias
        + 3.5 * new_device
        + 3.0 * (account_age_ms < 5 * DAY_MS)
        + 1.5 * (device_accounts - 1)
        + 2.5 * (country == "XX")
    )
    f: dict[str, object] = {
        "login.new_device": new_device,
        "login.country": country,
        "account.age_ms": account_age_ms,
        "device.distinct_accounts_24h": device_accounts,
        "checkout.amount": amount,
        "checkout.item_count": rng.randrange(1, 6),
        "user.checkouts_24h": rng.randrange(0, 5),
        "device.id": f"d{rng.randrange(10_000)}",
        # missing more often than not, and uninformative
        "mouse.samples": rng.randrange(1, 300) if rng.random() < 0.4 else None,
    }
    return f, log_odds


def checkouts(
    n: int = 3_000, *, days: int = 30, seed: int = 1, start: int = T0
) -> list[LabeledCheckout]:
    """``n`` checkouts spread over ``days``; a fraud's label arrives 1-20 days later."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        event_time = start + rng.randrange(days * DAY_MS)
        f, log_odds = features(rng)
        fraud = rng.random() < 1 / (1 + math.exp(-log_odds))
        label_time = event_time + rng.randrange(DAY_MS, 20 * DAY_MS) if fraud else None
        rows.append(
            LabeledCheckout(
                transaction_id=f"t{seed}-{i}",
                user_id=f"u{rng.randrange(n // 3)}",
                event_time=event_time,
                amount=float(f["checkout.amount"]),  # type: ignore[arg-type]
                features=f,  # type: ignore[arg-type]
                label_time=label_time,
            )
        )
    return rows
