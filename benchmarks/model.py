"""Fraud-model benchmarks: training, and batch scoring with and without explanations.

    python benchmarks/model.py [--quick] [--rows N] [--events N] [--seed N]

Prints one JSON object per figure on stdout (DESIGN.md §4 "Benchmarks"); a figure that fails
prints ``{"bench": ..., "backend": ..., "error": ...}`` on stderr and the exit status is 1.
No log is involved (``backend: none``): the figures are the pure cost of the model.

The workload is the feature dicts of ``benchmarks/rules.py`` (~50 features per checkout,
~5 % risky); a risky checkout is fraud with probability 0.6, an ordinary one with 0.003, so
the classes overlap as they do in real traffic and the trees grow to their full size. The
model is trained with the default parameters (200 trees, depth <= 5, <= 31 leaves).

* ``model.train`` ``events_per_s``: rows trained per second (``params.train_s``).
* ``model.encode`` ``events_per_s``: feature dicts → matrix, per batch size.
* ``model.score`` ``events_per_s``: ``Scorer.score_batch`` per batch size (1, 16, 256) and
  explanation mode: ``none`` (``contributions=False``), ``all`` (TreeSHAP for every row),
  ``above_0.1`` (only the rows with probability >= 0.1: ``params.explained_share`` of them).
  ``params.us_per_event`` is the mean cost per checkout.
* ``model.score`` ``p50_ms``/``p99_ms``: one timed ``score_batch`` call of one checkout, per
  explanation mode.
* ``model.load`` ``p50_ms``: ``ModelArtifact.from_bytes`` + ``Scorer(...)`` (a model swap).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from rules import checkout_features

from riskstream.fraud.model import DAY_MS, LabeledCheckout, ModelArtifact, Scorer, train

BACKEND = "none"
T0 = 1_700_006_400_000
BATCHES = (1, 16, 256)
MODES: dict[str, tuple[float, bool]] = {  # mode -> (explain_above, contributions)
    "none": (0.0, False),
    "above_0.1": (0.1, True),
    "all": (0.0, True),
}
# Explaining every row costs ~50x more than scoring it: a smaller share of the events.
ALL_SHARE = 20

Features = list[dict[str, Any]]


def labeled_rows(n: int, seed: int) -> list[LabeledCheckout]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        risky = rng.random() < 0.05
        fraud = rng.random() < (0.6 if risky else 0.003)
        event_time = T0 + rng.randrange(30 * DAY_MS)
        features = checkout_features(rng, risky)
        rows.append(
            LabeledCheckout(
                transaction_id=f"t{i}",
                user_id=f"u{rng.randrange(n // 5 + 1)}",
                event_time=event_time,
                amount=float(features["checkout.amount"]),
                features=features,
                label_time=event_time + DAY_MS if fraud else None,
            )
        )
    return rows


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


def rate(
    call: Callable[[Sequence[dict[str, Any]]], object], features: Features, batch: int, events: int
) -> float:
    """Events per second of ``call`` over ``events`` checkouts in consecutive batches."""
    starts = itertools.islice(
        itertools.cycle(range(0, len(features) - batch + 1, batch)), max(1, events // batch)
    )
    batches = [features[i : i + batch] for i in starts]
    start = time.perf_counter()
    for b in batches:
        call(b)
    elapsed = time.perf_counter() - start
    return len(batches) * batch / elapsed


def bench_train(rows: list[LabeledCheckout], seed: int) -> tuple[ModelArtifact, bytes]:
    t0 = time.perf_counter()
    model = train(rows, train_until=T0 + 30 * DAY_MS, label_maturity_ms=0, seed=seed)
    train_s = time.perf_counter() - t0
    artifact = ModelArtifact.from_model(model, created_at=0)
    data = artifact.to_bytes()
    emit(
        "model.train",
        "events_per_s",
        len(model.training) / train_s,
        unit="events/s",
        params={
            "rows": len(model.training),
            "frauds": model.training.frauds,
            "train_s": round(train_s, 3),
            "trees": model.booster.num_trees(),
            "features": len(model.encoder),
            "artifact_bytes": len(data),
        },
    )
    return artifact, data


def bench_encode(scorer: Scorer, features: Features, events: int, runs: int) -> None:
    for batch in BATCHES:
        results = [rate(scorer.encode, features, batch, events) for _ in range(runs)]
        value = statistics.median(results)
        params = {"batch": batch, "us_per_event": round(1e6 / value, 2)}
        emit("model.encode", "events_per_s", value, unit="events/s", params=params)


def bench_score(
    artifact: ModelArtifact, mode: str, features: Features, events: int, runs: int
) -> None:
    explain_above, contributions = MODES[mode]
    scorer = Scorer(artifact, explain_above=explain_above)
    sample = scorer.score_batch(features[:1024], contributions=contributions)
    share = sum(1 for s in sample if s.top_contributions) / len(sample)
    budget = events // ALL_SHARE if mode == "all" else events

    def score(batch: Sequence[dict[str, Any]]) -> object:
        return scorer.score_batch(batch, contributions=contributions)

    for batch in BATCHES:
        results = [rate(score, features, batch, budget) for _ in range(runs)]
        value = statistics.median(results)
        params = {
            "batch": batch,
            "explain": mode,
            "explained_share": round(share, 4),
            "us_per_event": round(1e6 / value, 2),
            "runs": [round(r, 1) for r in results],
        }
        emit("model.score", "events_per_s", value, unit="events/s", params=params)

    samples: list[int] = []
    clock = time.perf_counter_ns
    for f in itertools.islice(itertools.cycle(features), budget):
        one = [f]
        t = clock()
        scorer.score_batch(one, contributions=contributions)
        samples.append(clock() - t)
    samples.sort()
    params = {
        "batch": 1,
        "explain": mode,
        "explained_share": round(share, 4),
        "calls": len(samples),
    }
    for metric, q in (("p50_ms", 0.50), ("p99_ms", 0.99)):
        value = samples[int(q * (len(samples) - 1))] / 1e6
        emit("model.score", metric, value, unit="ms", params=params)


def bench_load(data: bytes, runs: int) -> None:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        Scorer(ModelArtifact.from_bytes(data))
        times.append(time.perf_counter() - t)
    params = {"artifact_bytes": len(data), "runs": len(times)}
    emit("model.load", "p50_ms", statistics.median(times) * 1e3, unit="ms", params=params)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="finish in under a minute")
    parser.add_argument("--rows", type=int, default=None, help="training rows")
    parser.add_argument("--events", type=int, default=None, help="checkouts scored per figure")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n_rows = args.rows or (30_000 if args.quick else 100_000)
    events = args.events or (20_000 if args.quick else 100_000)
    runs = 3 if args.quick else 5

    try:
        artifact, data = bench_train(labeled_rows(n_rows, args.seed), args.seed)
    except Exception as exc:  # nothing else can run without a model
        emit_error("model.train", exc)
        return 1
    features = [r.features for r in labeled_rows(4_096, args.seed + 1)]
    benches: list[tuple[str, Callable[[], None]]] = [
        ("model.encode", lambda: bench_encode(Scorer(artifact), features, events, runs)),
        *(
            ("model.score", lambda m=mode: bench_score(artifact, m, features, events, runs))
            for mode in MODES
        ),
        ("model.load", lambda: bench_load(data, 5 if args.quick else 20)),
    ]
    failed = False
    for name, bench in benches:
        try:
            bench()
        except Exception as exc:  # one failing figure must not hide the rest
            emit_error(name, exc)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
