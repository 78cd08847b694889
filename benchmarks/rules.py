"""Rule-language benchmarks: evaluating the default rule set per checkout, in one process.

    python benchmarks/rules.py [--quick] [--events N] [--seed N]

Prints one JSON object per figure on stdout (DESIGN.md §4 "Benchmarks"); a figure that fails
prints ``{"bench": ..., "backend": ..., "error": ...}`` on stderr and the exit status is 1.
No log is involved (``backend: none``): the figures are the pure cost of the rules.

* ``rules.evaluate`` ``events_per_s``: ``RuleSet.evaluate(features, lists)`` over
  pre-built feature dicts (one per checkout: ~50 features, ~95 % ordinary traffic with the
  usual nulls - no promo, no mouse data, no previous location - and ~5 % risky), for the
  default rule set (21 rules) and for it plus 9 more (30 rules: the budget of the brief,
  "well under 50 µs per checkout"). ``params.us_per_event`` is the mean cost per checkout.
* ``rules.evaluate`` ``p50_ms``/``p99_ms``: one timed call per checkout, 30 rules.
* ``rules.build`` ``p50_ms``: parse + type-check + compile the 30 rules (a reload's cost).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from typing import Any

from riskstream.fraud.rules import (
    EXPECTED_FEATURES,
    RuleSet,
    RuleSource,
    default_rules_source,
)

BACKEND = "none"

EXTRA_RULES = """
rule extra.big_first_order
  version 1
  when account.age_ms < 1h and checkout.amount >= 400
  score 20
  action review

rule extra.many_items_new_card
  version 1
  when checkout.item_count >= 20 and instrument.new_for_user
  score 15
  action review

rule extra.young_device_many_accounts
  version 1
  when device.age_ms < 10m and device.distinct_accounts_24h >= 2
  score 25
  action review

rule extra.gift_card_promo
  version 1
  when startswith(lower(promo.code), "gift") and promo.value >= 100
  score 20
  action review
  shadow

rule extra.currency_mismatch
  version 1
  when checkout.currency not in ["EUR", "USD", "GBP"] and checkout.amount > 250
  score 10
  action review

rule extra.device_checkout_burst
  version 1
  when device.checkouts_1h >= 8
  score 30
  action challenge

rule extra.merchant_reports
  version 1
  when merchant.fraud_reports_90d >= 10 and login.new_device
  score 20
  action review

rule extra.quick_checkout_after_login
  version 1
  when session.ms_since_login < 10s and checkout.amount >= 150
  score 15
  action review
  shadow

rule extra.fast_mouse_peak
  version 1
  when mouse.max_speed > 24 or (mouse.samples is not null and mouse.samples < 3)
  score 10
  action review
"""

COUNTRIES = ("DE", "FR", "GB", "US", "NL", "ES", "IT", "PL")


def checkout_features(rng: random.Random, risky: bool) -> dict[str, Any]:
    """One checkout's features: ordinary traffic, or (``risky``) a fraud-like one."""
    country = rng.choice(COUNTRIES)
    f: dict[str, Any] = {
        "login.new_device": rng.random() < (0.7 if risky else 0.05),
        "login.new_country": rng.random() < (0.6 if risky else 0.02),
        "login.country": country,
        "session.ms_since_login": rng.randrange(5_000, 3_600_000),
        "checkout.amount": round(rng.uniform(1, 300 if not risky else 900), 2),
        "checkout.currency": rng.choice(("EUR", "EUR", "USD", "GBP", "PLN")),
        "checkout.country": country,
        "checkout.bin_country": country if rng.random() < 0.9 else rng.choice(COUNTRIES),
        "checkout.item_count": rng.randrange(1, 8),
        "checkout.seconds_after_first_click": rng.uniform(3 if risky else 20, 900),
        "checkout.new_shipping_address": rng.random() < 0.1,
        "user.email_hash": f"e{rng.randrange(100_000)}",
        "user.checkouts_1m": rng.randrange(0, 4 if risky else 2),
        "user.checkouts_1h": rng.randrange(0, 8 if risky else 3),
        "user.checkouts_24h": rng.randrange(0, 10),
        "user.checkout_amount_1h": rng.uniform(0, 500),
        "user.checkout_amount_24h": rng.uniform(0, 2_000 if risky else 600),
        "user.avg_checkout_amount_30d": rng.uniform(20, 200) if rng.random() < 0.8 else None,
        "user.failed_logins_10m": rng.randrange(0, 9 if risky else 2),
        "user.distinct_instruments_24h": rng.randrange(1, 3),
        "user.promo_uses_24h": rng.randrange(0, 2),
        "account.age_ms": rng.randrange(60_000, 400 * 86_400_000),
        "account.ms_since_address_change": (
            rng.randrange(60_000, 90 * 86_400_000) if rng.random() < 0.3 else None
        ),
        "account.ms_since_profile_change": (
            rng.randrange(60_000, 90 * 86_400_000) if rng.random() < 0.3 else None
        ),
        "device.id": f"d{rng.randrange(100_000)}",
        "device.age_ms": rng.randrange(60_000, 400 * 86_400_000),
        "device.distinct_instruments_24h": rng.randrange(1, 6 if risky else 2),
        "device.distinct_accounts_24h": rng.randrange(1, 5 if risky else 2),
        "device.distinct_bin_countries_24h": rng.randrange(1, 4 if risky else 2),
        "device.promo_uses_24h": rng.randrange(0, 5 if risky else 2),
        "device.checkouts_1h": rng.randrange(0, 10 if risky else 3),
        "instrument.id": f"i{rng.randrange(100_000)}",
        "instrument.bin": f"{rng.randrange(400_000, 500_000)}",
        "instrument.new_for_user": rng.random() < (0.6 if risky else 0.05),
        "instrument.chargebacks_90d": 1 if risky and rng.random() < 0.2 else 0,
        "instrument.distinct_accounts_30d": rng.randrange(1, 5 if risky else 2),
        "instrument.promo_uses_24h": rng.randrange(0, 3),
        "ip.address": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
        "ip.distinct_accounts_1h": rng.randrange(1, 15 if risky else 3),
        "merchant.id": f"m{rng.randrange(500)}",
        "merchant.chargeback_rate_90d": rng.uniform(0, 0.03),
        "merchant.fraud_reports_90d": rng.randrange(0, 12),
    }
    if rng.random() < (0.8 if risky else 0.15):
        f["promo.value"] = rng.choice((5, 10, 25, 50, 80))
        f["promo.cart_value"] = rng.uniform(50, 400)
        f["promo.code"] = rng.choice(("WELCOME10", "GIFT50", "SPRING"))
        f["promo.seconds_after_first_click"] = rng.uniform(2, 600)
    if rng.random() < 0.6:
        f["travel.speed_kmh"] = rng.uniform(0, 1500 if risky else 200)
        f["travel.distance_km"] = rng.uniform(0, 2000)
    if rng.random() < (0.3 if risky else 0.85):
        f["mouse.samples"] = rng.randrange(1, 400)
        f["mouse.straightness"] = rng.uniform(0.99 if risky else 0.3, 1.0 if risky else 0.9)
        f["mouse.mean_speed"] = rng.uniform(0.1, 5 if risky else 2)
        f["mouse.max_speed"] = rng.uniform(1, 25)
    return f


def workload(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [checkout_features(rng, risky=rng.random() < 0.05) for _ in range(n)]


def lists_for(features: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Block lists holding a few hundred ids (a handful of them seen in the workload)."""
    blocked = {f"d{i}" for i in range(0, 100_000, 250)}
    return {
        "blocklist.device": blocked,
        "blocklist.instrument": {f"i{i}" for i in range(0, 100_000, 500)},
        "blocklist.ip": {f"10.0.9.{i}" for i in range(256)},
        "blocklist.email_hash": set(),
        "blocklist.bin": {"401234"},
        "allowlist.device": {f"d{i}" for i in range(1, 100_000, 1_000)},
    }


def emit(bench: str, metric: str, value: float, *, unit: str, params: dict[str, Any]) -> None:
    figure = {
        "bench": bench,
        "backend": BACKEND,
        "metric": metric,
        "value": round(value, 6 if metric.endswith("_ms") else 1),
        "unit": unit,
        "params": params,
    }
    print(json.dumps(figure), flush=True)


def emit_error(bench: str, exc: BaseException) -> None:
    line = {"bench": bench, "backend": BACKEND, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(line), file=sys.stderr, flush=True)


def throughput(rules: RuleSet, features: list[dict[str, Any]], events: int, lists: Any) -> float:
    evaluate = rules.evaluate
    rounds = max(1, events // len(features))
    start = time.perf_counter()
    for _ in range(rounds):
        for f in features:
            evaluate(f, lists)
    elapsed = time.perf_counter() - start
    return rounds * len(features) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="finish in under a minute")
    parser.add_argument("--events", type=int, default=None, help="evaluations per figure")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    events = args.events or (200_000 if args.quick else 1_000_000)
    runs = 3 if args.quick else 5
    failed = False

    features = workload(10_000, args.seed)
    lists = lists_for(features)
    default_source = default_rules_source()
    sources = [default_source, RuleSource("extra.rules", EXTRA_RULES)]
    sets = {
        "default": RuleSet.build([default_source], EXPECTED_FEATURES),
        "default+9": RuleSet.build(sources, EXPECTED_FEATURES),
    }
    for label, rules in sets.items():
        try:
            results = [throughput(rules, features, events, lists) for _ in range(runs)]
            outcomes = [rules.evaluate(f, lists) for f in features]
            rate = statistics.median(results)
            emit(
                "rules.evaluate",
                "events_per_s",
                rate,
                unit="events/s",
                params={
                    "rule_set": label,
                    "rules": len(rules),
                    "events": events,
                    "us_per_event": round(1e6 / rate, 2),
                    "fired_share": round(sum(1 for o in outcomes if o.fired) / len(outcomes), 4),
                    "shadow_share": round(
                        sum(1 for o in outcomes if o.shadow_hits) / len(outcomes), 4
                    ),
                    "runs": [round(r, 1) for r in results],
                },
            )
        except Exception as exc:  # one failing figure must not hide the rest
            emit_error("rules.evaluate", exc)
            failed = True

    try:
        rules = sets["default+9"]
        evaluate = rules.evaluate
        samples: list[int] = []
        clock = time.perf_counter_ns
        for _ in range(max(1, min(events, 200_000) // len(features))):
            for f in features:
                t0 = clock()
                evaluate(f, lists)
                samples.append(clock() - t0)
        samples.sort()
        params = {"rule_set": "default+9", "rules": len(rules), "calls": len(samples)}
        for metric, q in (("p50_ms", 0.50), ("p99_ms", 0.99)):
            value = samples[int(q * (len(samples) - 1))] / 1e6
            emit("rules.evaluate", metric, value, unit="ms", params=params)
    except Exception as exc:  # as above
        emit_error("rules.evaluate", exc)
        failed = True

    try:
        times = []
        for _ in range(5 if args.quick else 20):
            t0 = time.perf_counter()
            RuleSet.build(sources, EXPECTED_FEATURES)
            times.append(time.perf_counter() - t0)
        emit(
            "rules.build",
            "p50_ms",
            statistics.median(times) * 1e3,
            unit="ms",
            params={"rules": len(sets["default+9"]), "runs": len(times)},
        )
    except Exception as exc:  # as above
        emit_error("rules.build", exc)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
