"""Consumer groups without a coordinator: members agree through tables in ``meta.db``.

* ``members`` — one row per live member: subscribed topics and a heartbeat time. A member
  refreshes its heartbeat from ``poll``; any member that notices a heartbeat older than its
  owner's session timeout deletes that member and its ownership rows (one transaction) and
  moves the group's ``generation``.
* ``groups.generation`` — moves on every join, leave, expiry, subscription change and topic
  creation or deletion: a member recomputes its target only when it moved (or while a
  partition it should own is still held by another member), so the check costs one
  indexed read every ~100 ms.
* Target — ``assign_partitions`` over the live members and the topics' partition counts,
  computed identically by every member (deterministic, no leader).
* ``owners`` — who holds each partition. A member gives up what is no longer its target
  (after ``on_revoke``, so that commit still passes the fence) and takes what is, when it is
  unowned or its owner has expired. Ownership only changes inside write transactions that
  check it, so a partition never has two owners.
* ``commits`` — committed offsets. A group member's commit checks, in the same transaction,
  that it still owns every partition it commits (``CommitFailedError`` otherwise): a member
  that stalled past its session and lost its partitions can no longer move their offsets.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum

import msgspec

from riskstream.errors import CommitFailedError
from riskstream.log.assignor import assign_partitions
from riskstream.log.embedded.db import write_tx
from riskstream.log.records import TopicPartition

__all__ = ["GroupMember", "GroupState", "expire_members", "now_ms"]

_topics_encode = msgspec.json.Encoder().encode
_topics_decode = msgspec.json.Decoder(list[str]).decode


def now_ms() -> int:
    """Wall-clock milliseconds: comparable across processes and across reboots."""
    return time.time_ns() // 1_000_000


class GroupState(Enum):
    SAME = "same"
    CHANGED = "changed"
    LOST = "lost"


def expire_members(conn: sqlite3.Connection, group_id: str | None, now: int) -> int:
    """Delete members whose session ran out, with their ownership; call inside a write tx."""
    where = "heartbeat_ms + session_timeout_ms < ?"
    params: tuple[object, ...] = (now,)
    if group_id is not None:
        where += " AND group_id = ?"
        params = (now, group_id)
    expired = conn.execute(
        f"SELECT group_id, member_id FROM members WHERE {where}", params
    ).fetchall()
    for group, member in expired:
        conn.execute("DELETE FROM owners WHERE group_id = ? AND member_id = ?", (group, member))
        conn.execute("DELETE FROM members WHERE group_id = ? AND member_id = ?", (group, member))
        conn.execute("UPDATE groups SET generation = generation + 1 WHERE group_id = ?", (group,))
    return len(expired)


class GroupMember:
    """This consumer's membership in one group, through the consumer's ``meta.db`` connection."""

    def __init__(self, conn: sqlite3.Connection, group_id: str, session_timeout_ms: int) -> None:
        self.conn = conn
        self.group_id = group_id
        self.session_timeout_ms = session_timeout_ms
        self.member_id = ""
        self.topics: tuple[str, ...] = ()
        self.owned: set[TopicPartition] = set()
        self.pending = False
        self._generation = -1
        self._heartbeat_ns = max(min(session_timeout_ms // 4, 1000), 10) * 1_000_000
        self._next_heartbeat = 0

    @property
    def joined(self) -> bool:
        return bool(self.member_id)

    def join(self, topics: Sequence[str]) -> set[TopicPartition]:
        """Register, or change the subscription; the assignment follows through ``sync``.

        Returns the partitions this member held but lost because it had expired meanwhile
        (it then joins under a new id); the caller revokes them.
        """
        self.topics = tuple(dict.fromkeys(topics))
        encoded = _topics_encode(list(self.topics))
        lost: set[TopicPartition] = set()
        now = now_ms()
        with write_tx(self.conn) as conn:
            expire_members(conn, self.group_id, now)
            conn.execute(
                "INSERT INTO groups(group_id, generation) VALUES (?, 1) "
                "ON CONFLICT(group_id) DO UPDATE SET generation = generation + 1",
                (self.group_id,),
            )
            if (
                self.member_id
                and not conn.execute(
                    "UPDATE members SET topics = ?, heartbeat_ms = ? "
                    "WHERE group_id = ? AND member_id = ?",
                    (encoded, now, self.group_id, self.member_id),
                ).rowcount
            ):
                lost, self.owned = self.owned, set()
                self.member_id = ""
            if not self.member_id:
                self.member_id = f"{os.getpid()}-{secrets.token_hex(6)}"
                conn.execute(
                    "INSERT INTO members"
                    "(group_id, member_id, topics, heartbeat_ms, session_timeout_ms) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (self.group_id, self.member_id, encoded, now, self.session_timeout_ms),
                )
        self._next_heartbeat = time.monotonic_ns() + self._heartbeat_ns
        self._generation = -1
        return lost

    def rejoin(self) -> None:
        """Join again under a new id after this member was expired."""
        self.member_id = ""
        self.owned.clear()
        self.join(self.topics)

    def leave(self) -> None:
        """Drop membership and ownership at once; callers revoke before calling this."""
        if not self.member_id:
            return
        with write_tx(self.conn) as conn:
            params = (self.group_id, self.member_id)
            conn.execute("DELETE FROM owners WHERE group_id = ? AND member_id = ?", params)
            conn.execute("DELETE FROM members WHERE group_id = ? AND member_id = ?", params)
            conn.execute(
                "UPDATE groups SET generation = generation + 1 WHERE group_id = ?",
                (self.group_id,),
            )
        self.member_id = ""
        self.owned.clear()

    def sync(self) -> GroupState:
        """Heartbeat when due (expiring dead peers), then report whether to rebalance."""
        now = time.monotonic_ns()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self._heartbeat_ns
            if not self._heartbeat():
                return GroupState.LOST
        row = self.conn.execute(
            "SELECT generation FROM groups WHERE group_id = ?", (self.group_id,)
        ).fetchone()
        generation = -1 if row is None else int(row[0])
        if generation != self._generation:
            self._generation = generation
            return GroupState.CHANGED
        return GroupState.CHANGED if self.pending else GroupState.SAME

    def _heartbeat(self) -> bool:
        now = now_ms()
        with write_tx(self.conn) as conn:
            alive = conn.execute(
                "UPDATE members SET heartbeat_ms = ? WHERE group_id = ? AND member_id = ?",
                (now, self.group_id, self.member_id),
            ).rowcount
            expire_members(conn, self.group_id, now)
        return alive == 1

    def target(self) -> set[TopicPartition] | None:
        """The partitions this member should own now; ``None`` if it is no longer a member."""
        members = self.conn.execute(
            "SELECT member_id, topics FROM members WHERE group_id = ?", (self.group_id,)
        ).fetchall()
        if all(member != self.member_id for member, _ in members):
            return None
        counts: dict[str, int] = dict(
            self.conn.execute("SELECT name, partitions FROM topics").fetchall()
        )
        subscribers: dict[str, list[str]] = {}
        for member, topics in members:
            for topic in _topics_decode(topics):
                if topic in counts:
                    subscribers.setdefault(topic, []).append(member)
        # Topics with the same subscribers are assigned together, so co-partitioned topics
        # keep partition p of each on one member.
        by_members: dict[tuple[str, ...], dict[str, int]] = {}
        for topic, names in subscribers.items():
            by_members.setdefault(tuple(sorted(names)), {})[topic] = counts[topic]
        target: set[TopicPartition] = set()
        for group_members, partition_counts in by_members.items():
            if self.member_id in group_members:
                target |= assign_partitions(group_members, partition_counts)[self.member_id]
        return target

    def release(self, partitions: Iterable[TopicPartition]) -> None:
        released = [(self.group_id, tp.topic, tp.partition, self.member_id) for tp in partitions]
        with write_tx(self.conn) as conn:
            conn.executemany(
                "DELETE FROM owners "
                "WHERE group_id = ? AND topic = ? AND part = ? AND member_id = ?",
                released,
            )
        self.owned.difference_update(TopicPartition(t, p) for _, t, p, _ in released)

    def claim(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        """Take the partitions that are free (or held by an expired member); with their commits."""
        claimed: dict[TopicPartition, int | None] = {}
        with write_tx(self.conn) as conn:
            live = {
                m
                for (m,) in conn.execute(
                    "SELECT member_id FROM members WHERE group_id = ?", (self.group_id,)
                )
            }
            if self.member_id not in live:
                return claimed
            counts = dict(conn.execute("SELECT name, partitions FROM topics").fetchall())
            for tp in sorted(partitions):
                if tp.partition >= counts.get(tp.topic, 0):
                    continue
                key = (self.group_id, tp.topic, tp.partition)
                row = conn.execute(
                    "SELECT member_id FROM owners WHERE group_id = ? AND topic = ? AND part = ?",
                    key,
                ).fetchone()
                if row is not None and row[0] in live and row[0] != self.member_id:
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO owners(group_id, topic, part, member_id) "
                    "VALUES (?, ?, ?, ?)",
                    (*key, self.member_id),
                )
                claimed[tp] = self._committed_one(tp)
        self.owned.update(claimed)
        return claimed

    def commit(self, offsets: Mapping[TopicPartition, int], *, fenced: bool) -> None:
        """Store ``offsets``; ``fenced`` first checks, in the same transaction, that we own them."""
        now = now_ms()
        with write_tx(self.conn) as conn:
            if fenced:
                held = {
                    TopicPartition(topic, part)
                    for topic, part in conn.execute(
                        "SELECT topic, part FROM owners WHERE group_id = ? AND member_id = ?",
                        (self.group_id, self.member_id),
                    )
                }
                lost = sorted(set(offsets) - held)
                if lost:
                    raise CommitFailedError(
                        f"group {self.group_id!r}: member no longer owns {lost}; not committed"
                    )
            conn.executemany(
                "INSERT INTO commits(group_id, topic, part, off, committed_ms) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(group_id, topic, part) "
                "DO UPDATE SET off = excluded.off, committed_ms = excluded.committed_ms",
                [(self.group_id, tp.topic, tp.partition, off, now) for tp, off in offsets.items()],
            )

    def committed(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int | None]:
        return {tp: self._committed_one(tp) for tp in partitions}

    def _committed_one(self, tp: TopicPartition) -> int | None:
        row = self.conn.execute(
            "SELECT off FROM commits WHERE group_id = ? AND topic = ? AND part = ?",
            (self.group_id, tp.topic, tp.partition),
        ).fetchone()
        return None if row is None else int(row[0])
