"""The audit trail (history, transaction story, time travel) and the query API's routes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg import sql

from riskstream.log import EventLog, open_log
from riskstream.services.api.auth import ApiKeys
from riskstream.services.audit import (
    ProbeCheckout,
    profile_as_of,
    transaction_story,
    user_history,
)
from riskstream.services.projections import QueryStore, TopicMap, open_store
from riskstream.services.projections.router import query_router
from tests.integration.projection_scenario import (
    FRAUD,
    LEGIT,
    T0,
    create_topics,
    logged,
    login,
    namespace,
    produce,
    project,
    story,
)

S = 1_000
READER, WRITER = "reader-key", "writer-key"


@pytest.fixture
def log(tmp_path: Path) -> Iterator[EventLog]:
    opened = open_log(f"embedded:{tmp_path / 'log'}")
    yield opened
    opened.close()


@pytest.fixture
def topics(log: EventLog) -> TopicMap:
    names = namespace()
    create_topics(log, names)
    produce(log, names, story())
    return names


# -- history and transaction stories -------------------------------------------------------------


def test_a_users_history_is_every_event_and_decision_in_order(
    log: EventLog, topics: TopicMap
) -> None:
    history = user_history(log, FRAUD, topics=topics)
    assert [entry.kind for entry in history.entries] == [
        "login",
        "login",
        "checkout",
        "decision",
        "alert",
        "transaction_paused",
        "mfa_challenge_issued",
        "mfa_completed",
        "transaction_cancelled",
        "checkout",
        "decision",
        "alert",
        "transaction_paused",
        "mfa_challenge_issued",
        "fraud_reported",
    ]
    assert [e.transaction_id for e in history.entries[2:9]] == ["tx2"] * 7
    assert {e.data["user_id"] for e in history.entries} == {FRAUD}
    times = [e.time for e in history.entries]
    assert times == sorted(times)
    assert history.entries[3].data["reasons"][0]["rule"] == "new_device"  # the whole record
    assert not history.truncated

    window = user_history(log, FRAUD, since=T0 + 100 * S, until=T0 + 200 * S, topics=topics)
    assert [e.kind for e in window.entries] == [
        "mfa_completed",
        "transaction_cancelled",
        "checkout",
        "decision",
        "alert",
    ]
    first = user_history(log, FRAUD, limit=3, topics=topics)
    assert [e.kind for e in first.entries] == ["login", "login", "checkout"]
    assert first.truncated
    assert user_history(log, "nobody", topics=topics).entries == []


def test_a_transactions_story_is_its_decision_and_everything_after(
    log: EventLog, topics: TopicMap
) -> None:
    story2 = transaction_story(log, FRAUD, "tx2", topics=topics)
    assert story2 is not None
    assert story2.decision is not None and story2.checkout is not None
    assert story2.decision["action"] == "challenge"
    assert [r["rule"] for r in story2.decision["reasons"]] == ["new_device", "promo_rush"]
    assert story2.checkout["amount"] == 900.0
    assert [e.kind for e in story2.after] == [
        "alert",
        "transaction_paused",
        "mfa_challenge_issued",
        "mfa_completed",
        "transaction_cancelled",
    ]
    assert story2.after[3].data["passed"] is False

    story4 = transaction_story(log, LEGIT, "tx4", topics=topics)
    assert story4 is not None
    assert [e.kind for e in story4.after] == [
        "transaction_paused",
        "mfa_challenge_issued",
        "mfa_completed",
        "transaction_released",
    ]
    story1 = transaction_story(log, LEGIT, "tx1", topics=topics)
    assert story1 is not None and [e.kind for e in story1.after] == ["chargeback"]
    assert transaction_story(log, LEGIT, "tx2", topics=topics) is None  # not that user's


# -- time travel ---------------------------------------------------------------------------------

# The fraudster's second login (device d10, Brazil) is at T0 + 60 s. A millisecond before and
# a millisecond after it, a checkout from d10 in Brazil sees these features differently:
LOGIN_FEATURES = {
    "login.new_device",
    "login.new_country",
    "login.country",
    "session.ms_since_login",
    "travel.speed_kmh",
    "travel.distance_km",
    "device.distinct_accounts_24h",  # the login touches d10
    "ip.distinct_accounts_1h",  # and its IP
    "device.age_ms",  # first seen: by the probe itself before, by the login after
    "account.age_ms",  # two milliseconds older
}
PROBE = ProbeCheckout(device_id="d10", ip="10.0.0.3", country="BR", bin_country="DE", amount=900.0)


def test_the_profile_as_of_a_moment_sees_exactly_what_happened_before_it(
    log: EventLog, topics: TopicMap
) -> None:
    login_at = T0 + 60 * S
    before = profile_as_of(log, FRAUD, login_at - 1, probe=PROBE, topics=topics)
    after = profile_as_of(log, FRAUD, login_at + 1, probe=PROBE, topics=topics)

    assert before.events == 1 and after.events == 2
    assert before.known["devices"] == {"d9": T0}
    assert after.known["devices"] == {"d9": T0, "d10": login_at}
    assert after.known["countries"] == {"DE": T0, "BR": login_at}
    assert before.known["last_login"]["device"] == "d9"
    assert after.known["last_login"] == {
        "time": login_at,
        "device": "d10",
        "country": "BR",
        "new_device": True,
        "new_country": True,
    }
    changed = {
        name
        for name in before.features.keys() | after.features.keys()
        if before.features.get(name) != after.features.get(name)
    }
    assert changed == LOGIN_FEATURES
    assert (before.features["login.new_device"], after.features["login.new_device"]) == (
        False,
        True,
    )
    assert (before.features["login.country"], after.features["login.country"]) == ("DE", "BR")
    assert after.features["session.ms_since_login"] == 1
    assert (before.features["device.age_ms"], after.features["device.age_ms"]) == (0, 1)
    assert before.features["travel.distance_km"] is None
    assert after.features["travel.distance_km"] > 8_000  # Berlin's latitude to São Paulo's
    assert after.features["device.distinct_accounts_24h"] == 1
    assert after.features["checkout.amount"] == 900.0
    assert after.probe["device_id"] == "d10" and after.entity_scope == "user"
    assert after.action in {"allow", "review", "challenge", "block"}


def test_later_events_and_other_users_are_not_in_a_profile_unless_asked(
    log: EventLog, topics: TopicMap
) -> None:
    # Another account logs in from the fraudster's new device before him.
    produce(
        log,
        topics,
        [
            logged(login("u-other", T0 + 30 * S, "d10", "BR")),
            logged(login(FRAUD, T0 + 5_000 * S, "d11", "US")),  # long after
        ],
    )
    at = T0 + 65 * S
    mine = profile_as_of(log, FRAUD, at, probe=PROBE, topics=topics)
    shared = profile_as_of(log, FRAUD, at, probe=PROBE, entities=True, topics=topics)
    assert "d11" not in mine.known["devices"]
    assert mine.features["device.distinct_accounts_24h"] == 1  # his own touches only
    assert shared.entity_scope == "log"
    assert shared.features["device.distinct_accounts_24h"] == 2  # and u-other's
    assert shared.known == mine.known  # the user's own profile is the same
    # The probe defaults to the user's last checkout before the moment.
    default = profile_as_of(log, FRAUD, T0 + 250 * S, topics=topics)
    assert (default.probe["transaction_id"], default.probe["device_id"]) == (
        f"profile-probe:{FRAUD}:{T0 + 250 * S}",
        "d10",
    )
    assert default.probe["amount"] == 1_200.0  # tx3's
    assert default.features["user.checkouts_24h"] == 2


# -- the routes ----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueryStore]:
    if request.param == "sqlite":
        opened = open_store(f"sqlite:{tmp_path / 'query.db'}")
        yield opened
        opened.close()
        return
    dsn: str = request.getfixturevalue("postgres_dsn")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    opened = open_store(f"{dsn}?schema={schema}")
    yield opened
    opened.close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def client(store: QueryStore, log: EventLog, topics: TopicMap) -> Iterator[TestClient]:
    project(store, log, topics).close()
    app = FastAPI()
    keys = ApiKeys({READER: ["read"], WRITER: ["checkout", "events"]})
    app.include_router(query_router(store, log, keys, topics=topics))
    with TestClient(app) as test_client:
        yield test_client


ROUTES = [
    f"/v1/users/{FRAUD}/summary",
    f"/v1/users/{FRAUD}/transactions",
    f"/v1/users/{FRAUD}/history",
    f"/v1/users/{FRAUD}/profile?as_of={T0 + 65 * S}",
    "/v1/transactions/tx2",
    "/v1/decisions/recent",
    "/v1/alerts/recent",
    "/v1/rules/stats",
]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_every_route_needs_a_key_with_the_read_scope(client: TestClient) -> None:
    for route in ROUTES:
        assert client.get(route).status_code == 401, route
        assert client.get(route, headers=_auth("no-such-key")).status_code == 401, route
        assert client.get(route, headers=_auth(WRITER)).status_code == 403, route
        assert client.get(route, headers={"X-API-Key": READER}).status_code == 200, route


def test_the_routes_answer_from_the_read_models_and_the_log(client: TestClient) -> None:
    headers = _auth(READER)
    summary = client.get(f"/v1/users/{FRAUD}/summary", headers=headers).json()
    assert summary["by_action"]["block"] == 1 and summary["open_challenges"] == 1
    assert client.get("/v1/users/nobody/summary", headers=headers).status_code == 404

    recent = client.get("/v1/decisions/recent?limit=2", headers=headers).json()
    assert [d["transaction_id"] for d in recent] == ["tx4", "tx3"]
    blocks = client.get("/v1/decisions/recent?action=block", headers=headers).json()
    assert [d["transaction_id"] for d in blocks] == ["tx3"]
    alerts = client.get("/v1/alerts/recent", headers=headers).json()
    assert [a["transaction_id"] for a in alerts] == ["tx3", "tx2"]
    stats = client.get("/v1/rules/stats?mode=live", headers=headers).json()
    assert {(r["rule"], r["hits"], r["fraud_hits"]) for r in stats} == {
        ("new_device", 2, 2),
        ("promo_rush", 2, 1),
    }

    story2 = client.get("/v1/transactions/tx2", headers=headers).json()
    assert story2["status"]["status"] == "cancelled"
    assert story2["decision"]["reasons"][1]["rule"] == "promo_rush"
    assert [e["kind"] for e in story2["after"]][-1] == "transaction_cancelled"
    assert client.get("/v1/transactions/nope", headers=headers).status_code == 404

    history = client.get(f"/v1/users/{LEGIT}/history?limit=2", headers=headers).json()
    assert [e["kind"] for e in history["entries"]] == ["login", "checkout"]
    assert history["truncated"] is True

    iso = datetime.fromtimestamp((T0 + 65 * S) / 1000, UTC).isoformat()
    by_iso = client.get(f"/v1/users/{FRAUD}/profile", params={"as_of": iso}, headers=headers)
    by_ms = client.get(f"/v1/users/{FRAUD}/profile?as_of={T0 + 65 * S}", headers=headers)
    assert by_iso.status_code == 200 and by_iso.json() == by_ms.json()
    assert by_ms.json()["known"]["devices"] == {"d9": T0, "d10": T0 + 60 * S}
    early = client.get(f"/v1/users/{FRAUD}/profile?as_of={T0 - 1}", headers=headers)
    assert early.status_code == 404


def test_bad_query_parameters_are_named(client: TestClient) -> None:
    headers = _auth(READER)
    bad_time = client.get(f"/v1/users/{FRAUD}/profile?as_of=yesterday", headers=headers)
    assert bad_time.status_code == 422 and "as_of" in bad_time.json()["detail"]
    missing = client.get(f"/v1/users/{FRAUD}/profile", headers=headers)
    assert missing.status_code == 422 and "as_of" in str(missing.json()["detail"])
    too_many = client.get("/v1/decisions/recent?limit=100000", headers=headers)
    assert too_many.status_code == 422 and "limit" in str(too_many.json()["detail"])
    bad_action = client.get("/v1/decisions/recent?action=maybe", headers=headers)
    assert bad_action.status_code == 422 and "action" in str(bad_action.json()["detail"])


@pytest.mark.kafka
def test_the_audit_trail_on_kafka(kafka_bootstrap: str) -> None:
    kafka = open_log(f"kafka://{kafka_bootstrap}")
    names = namespace()
    created = create_topics(kafka, names)
    try:
        produce(kafka, names, story())
        history = user_history(kafka, FRAUD, since=T0 + 100 * S, topics=names)
        assert [e.kind for e in history.entries][:3] == [
            "mfa_completed",
            "transaction_cancelled",
            "checkout",
        ]
        story4 = transaction_story(kafka, LEGIT, "tx4", topics=names)
        assert story4 is not None and story4.after[-1].kind == "transaction_released"
        profile = profile_as_of(kafka, FRAUD, T0 + 65 * S, probe=PROBE, topics=names)
        assert profile.known["devices"] == {"d9": T0, "d10": T0 + 60 * S}
    finally:
        kafka.admin.delete_topics(created)
        kafka.close()
