"""Durable state in one SQLite file: instances, history, inbox, activities, timers, entities, blob receipts.

Every change that belongs together (an episode's history, the messages it consumed and the work it scheduled)
is one transaction, so a host killed at any moment restarts from a consistent state: unfinished activities are
still in `activities` (and run again: at-least-once), due timers are still in `timers`, undelivered messages
are still in `inbox`.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

TERMINAL = ("Completed", "Failed", "Terminated", "Canceled")
ACTIVE = ("Pending", "Running", "Suspended")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    input_shown TEXT,
    output TEXT,
    custom_status TEXT,
    version TEXT,
    created_time TEXT NOT NULL,
    created_ts REAL NOT NULL,
    last_updated_time TEXT NOT NULL,
    parent_instance_id TEXT,
    parent_execution_id TEXT,
    parent_task_id INTEGER,
    engine TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_created ON instances(created_ts, instance_id);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
);
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    event TEXT NOT NULL,
    enqueued_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_instance ON inbox(instance_id, id);
CREATE TABLE IF NOT EXISTS activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT,
    enqueued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    timer_id INTEGER NOT NULL,
    fire_at REAL NOT NULL,
    fire_at_text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timers_due ON timers(fire_at);
CREATE TABLE IF NOT EXISTS entities (
    entity_id TEXT PRIMARY KEY,
    state TEXT,
    last_operation_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entity_ops (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    input TEXT,
    caller_instance_id TEXT,
    caller_execution_id TEXT,
    request_id TEXT,
    enqueued_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entity_ops_entity ON entity_ops(entity_id, id);
CREATE TABLE IF NOT EXISTS blob_receipts (
    function TEXT NOT NULL,
    blob TEXT NOT NULL,
    etag TEXT NOT NULL,
    content_md5 TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    updated_time TEXT NOT NULL,
    PRIMARY KEY (function, blob)
);
"""


@dataclass
class Instance:
    """An orchestration instance row."""

    instance_id: str
    name: str
    execution_id: str
    status: str
    input: str | None
    input_shown: str | None
    output: str | None
    custom_status: str | None
    version: str | None
    created_time: str
    created_ts: float
    last_updated_time: str
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None
    engine: dict = field(default_factory=dict)


@dataclass
class Message:
    """A pending inbox message: a history event waiting for the instance's next episode."""

    id: int
    instance_id: str
    execution_id: str | None
    event: dict
    enqueued_at: float


@dataclass
class ActivityWork:
    """An activity to run (again, after a crash: at-least-once)."""

    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None
    enqueued_at: float


@dataclass
class EntityOp:
    """One queued entity operation (a signal when `request_id` is None)."""

    id: int
    entity_id: str
    operation: str
    input: str | None
    caller_instance_id: str | None
    caller_execution_id: str | None
    request_id: str | None
    enqueued_at: float


@dataclass
class Effects:
    """What one episode (or API call) writes besides the instance row, applied in its transaction."""

    history: list[dict] = field(default_factory=list)
    reset_history: bool = False
    keep_history: int | None = None
    consumed: list[int] = field(default_factory=list)
    messages: list[tuple[str, str | None, dict, float | None]] = field(default_factory=list)
    activities: list[tuple[int, str, str | None]] = field(default_factory=list)
    timers: list[tuple[int, float, str]] = field(default_factory=list)
    cancel_timers: list[int] = field(default_factory=list)
    cancel_all_timers: bool = False
    children: list[tuple[Instance, dict]] = field(default_factory=list)
    entity_ops: list[tuple[str, str, str | None, str | None, str | None]] = field(default_factory=list)


class Conflict(Exception):
    """An instance with this id is still active."""


class DurableStore:
    """Thread-safe access to the SQLite file (one connection, one lock, WAL)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against a killed process (the WAL survives); only a power cut can lose a commit.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction, committed on success, rolled back on any exception."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- instances ---------------------------------------------------------------------------------------

    def get_instance(self, instance_id: str) -> Instance | None:
        rows = self.read("SELECT * FROM instances WHERE instance_id = ?", (instance_id,))
        return _instance(rows[0]) if rows else None

    def create_instance(self, instance: Instance, started: dict, *, now: float) -> None:
        """Insert (or replace a finished) instance and its ExecutionStarted message; Conflict if it is active."""
        with self.tx() as db:
            self._create_instance(db, instance, started, now=now)

    def _create_instance(self, db: sqlite3.Connection, instance: Instance, started: dict, *, now: float) -> None:
        row = db.execute("SELECT status FROM instances WHERE instance_id = ?", (instance.instance_id,)).fetchone()
        if row is not None:
            if row["status"] in ACTIVE:
                raise Conflict(f"An Orchestration instance with the status {row['status']} already exists.")
            self._delete_instance(db, instance.instance_id)
        db.execute(
            "INSERT INTO instances VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                instance.instance_id,
                instance.name,
                instance.execution_id,
                instance.status,
                instance.input,
                instance.input_shown,
                instance.output,
                instance.custom_status,
                instance.version,
                instance.created_time,
                instance.created_ts,
                instance.last_updated_time,
                instance.parent_instance_id,
                instance.parent_execution_id,
                instance.parent_task_id,
                json.dumps(instance.engine),
            ),
        )
        self._enqueue(db, instance.instance_id, instance.execution_id, started, now)

    def _delete_instance(self, db: sqlite3.Connection, instance_id: str) -> None:
        for table in ("instances", "history", "inbox", "activities", "timers"):
            db.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))

    def enqueue(self, instance_id: str, execution_id: str | None, event: dict, *, now: float) -> bool:
        """Queue a message for an instance that exists; False when it does not."""
        with self.tx() as db:
            if db.execute("SELECT 1 FROM instances WHERE instance_id = ?", (instance_id,)).fetchone() is None:
                return False
            self._enqueue(db, instance_id, execution_id, event, now)
            return True

    def _enqueue(self, db, instance_id: str, execution_id: str | None, event: dict, enqueued_at: float) -> None:
        db.execute(
            "INSERT INTO inbox (instance_id, execution_id, event, enqueued_at) VALUES (?,?,?,?)",
            (instance_id, execution_id, json.dumps(event), enqueued_at),
        )

    def load_episode(self, instance_id: str) -> tuple[Instance, list[dict], list[Message]] | None:
        """The instance, its current execution's history, and its pending messages in arrival order."""
        with self._lock:
            row = self._db.execute("SELECT * FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
            if row is None:
                return None
            history = [
                json.loads(r["event"])
                for r in self._db.execute(
                    "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
                )
            ]
            messages = [
                Message(r["id"], r["instance_id"], r["execution_id"], json.loads(r["event"]), r["enqueued_at"])
                for r in self._db.execute("SELECT * FROM inbox WHERE instance_id = ? ORDER BY id", (instance_id,))
            ]
        return _instance(row), history, messages

    def commit(self, instance: Instance, expected_execution: str, effects: Effects, *, now: float) -> bool:
        """Apply an episode: False (nothing written) if the instance changed execution meanwhile."""
        with self.tx() as db:
            row = db.execute(
                "SELECT execution_id FROM instances WHERE instance_id = ?", (instance.instance_id,)
            ).fetchone()
            if row is None or row["execution_id"] != expected_execution:
                return False
            self._apply(db, instance, effects, now)
            return True

    def _apply(self, db: sqlite3.Connection, instance: Instance, effects: Effects, now: float) -> None:
        iid = instance.instance_id
        if effects.consumed:
            db.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in effects.consumed])
        if effects.cancel_all_timers:
            # Queued activities still run, as in Azure; their results are dropped as stale.
            db.execute("DELETE FROM timers WHERE instance_id = ?", (iid,))
        if effects.reset_history:
            db.execute("DELETE FROM history WHERE instance_id = ?", (iid,))
        if effects.keep_history is not None:
            db.execute("DELETE FROM history WHERE instance_id = ? AND seq >= ?", (iid, effects.keep_history))
        if effects.history:
            last = db.execute("SELECT COALESCE(MAX(seq), -1) FROM history WHERE instance_id = ?", (iid,)).fetchone()[0]
            db.executemany(
                "INSERT INTO history (instance_id, seq, event) VALUES (?,?,?)",
                [(iid, last + 1 + i, json.dumps(e)) for i, e in enumerate(effects.history)],
            )
        db.executemany(
            "INSERT INTO activities (instance_id, execution_id, task_id, name, input, enqueued_at)"
            " VALUES (?,?,?,?,?,?)",
            [(iid, instance.execution_id, task_id, name, text, now) for task_id, name, text in effects.activities],
        )
        db.executemany(
            "INSERT INTO timers (instance_id, execution_id, timer_id, fire_at, fire_at_text) VALUES (?,?,?,?,?)",
            [(iid, instance.execution_id, tid, at, text) for tid, at, text in effects.timers],
        )
        for timer_id in effects.cancel_timers:
            db.execute("DELETE FROM timers WHERE instance_id = ? AND timer_id = ?", (iid, timer_id))
        for child, started in effects.children:
            try:
                self._create_instance(db, child, started, now=now)
            except Conflict as exc:
                failed = {
                    "EventType": 9,
                    "EventId": -1,
                    "Timestamp": started["Timestamp"],
                    "TaskScheduledId": child.parent_task_id,
                    "Reason": str(exc),
                    "Details": None,
                }
                self._enqueue(db, iid, instance.execution_id, failed, now)
        for target, execution_id, event, at in effects.messages:
            self._enqueue(db, target, execution_id, event, now if at is None else at)
        db.executemany(
            "INSERT INTO entity_ops (entity_id, operation, input, caller_instance_id, caller_execution_id,"
            " request_id, enqueued_at) VALUES (?,?,?,?,?,?,?)",
            [(eid, op, text, caller, caller and instance.execution_id, req, now) for eid, op, text, caller, req in
             effects.entity_ops],
        )  # fmt: skip
        db.execute(
            "UPDATE instances SET name=?, execution_id=?, status=?, input=?, input_shown=?, output=?, custom_status=?,"
            " last_updated_time=?, engine=? WHERE instance_id=?",
            (
                instance.name,
                instance.execution_id,
                instance.status,
                instance.input,
                instance.input_shown,
                instance.output,
                instance.custom_status,
                instance.last_updated_time,
                json.dumps(instance.engine),
                iid,
            ),
        )

    def discard_messages(self, ids: list[int]) -> None:
        with self.tx() as db:
            db.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])

    def instances_with_messages(self) -> list[str]:
        return [r[0] for r in self.read("SELECT DISTINCT instance_id FROM inbox")]

    def history(self, instance_id: str) -> list[dict]:
        rows = self.read("SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,))
        return [json.loads(r["event"]) for r in rows]

    def list_instances(
        self,
        *,
        created_from: float | None = None,
        created_to: float | None = None,
        statuses: list[str] | None = None,
        prefix: str | None = None,
        top: int | None = None,
        continuation: str | None = None,
    ) -> tuple[list[Instance], str | None]:
        """One page of instances in creation order, and the token for the next page (None at the end)."""
        where, args = ["1=1"], []
        if created_from is not None:
            where.append("created_ts >= ?")
            args.append(created_from)
        if created_to is not None:
            where.append("created_ts <= ?")
            args.append(created_to)
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        if prefix:
            where.append("substr(instance_id, 1, ?) = ?")
            args.extend([len(prefix), prefix])
        if continuation:
            after_ts, after_id = _decode_token(continuation)
            where.append("(created_ts > ? OR (created_ts = ? AND instance_id > ?))")
            args.extend([after_ts, after_ts, after_id])
        sql = f"SELECT * FROM instances WHERE {' AND '.join(where)} ORDER BY created_ts, instance_id"
        if top:
            sql += " LIMIT ?"
            args.append(top + 1)
        rows = [_instance(r) for r in self.read(sql, tuple(args))]
        token = None
        if top and len(rows) > top:
            rows = rows[:top]
            token = _encode_token(rows[-1].created_ts, rows[-1].instance_id)
        return rows, token

    def purge(self, instance_ids: list[str]) -> int:
        """Delete these instances and everything they own; the number deleted."""
        with self.tx() as db:
            deleted = 0
            for instance_id in instance_ids:
                if db.execute("SELECT 1 FROM instances WHERE instance_id = ?", (instance_id,)).fetchone():
                    self._delete_instance(db, instance_id)
                    deleted += 1
            return deleted

    # -- activities --------------------------------------------------------------------------------------

    def activities_to_run(self, exclude: set[int], limit: int) -> list[ActivityWork]:
        if limit <= 0:
            return []
        rows = self.read("SELECT * FROM activities ORDER BY id LIMIT ?", (limit + len(exclude),))
        work = [ActivityWork(**dict(r)) for r in rows if r["id"] not in exclude]
        return work[:limit]

    def complete_activity(self, work: ActivityWork, event: dict, *, now: float) -> bool:
        """Replace the activity row by its result message; False if the work was cancelled meanwhile."""
        with self.tx() as db:
            if db.execute("DELETE FROM activities WHERE id = ?", (work.id,)).rowcount == 0:
                return False
            self._enqueue(db, work.instance_id, work.execution_id, event, now)
            return True

    # -- timers ------------------------------------------------------------------------------------------

    def next_timer_at(self) -> float | None:
        rows = self.read("SELECT MIN(fire_at) FROM timers")
        return rows[0][0] if rows else None

    def fire_due_timers(self, now: float) -> list[str]:
        """Turn every due timer into a TimerFired message; the instances to wake."""
        with self.tx() as db:
            due = db.execute("SELECT * FROM timers WHERE fire_at <= ? ORDER BY fire_at, id", (now,)).fetchall()
            for row in due:
                event = {
                    "EventType": 11,
                    "EventId": -1,
                    "Timestamp": row["fire_at_text"],
                    "TimerId": row["timer_id"],
                    "FireAt": row["fire_at_text"],
                }
                # The due time, not the firing time, so replay latency includes any lateness of this loop.
                self._enqueue(db, row["instance_id"], row["execution_id"], event, row["fire_at"])
                db.execute("DELETE FROM timers WHERE id = ?", (row["id"],))
            return sorted({row["instance_id"] for row in due})

    # -- entities ----------------------------------------------------------------------------------------

    def signal_entity(self, entity_id: str, operation: str, input_text: str | None, *, now: float) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO entity_ops (entity_id, operation, input, enqueued_at) VALUES (?,?,?,?)",
                (entity_id, operation, input_text, now),
            )

    def entity_batch(self, entity_id: str, limit: int) -> tuple[str | None, bool, list[EntityOp]]:
        """The entity's state (JSON text), whether it exists, and its next operations in order."""
        with self._lock:
            row = self._db.execute("SELECT state FROM entities WHERE entity_id = ?", (entity_id,)).fetchone()
            ops = self._db.execute(
                "SELECT * FROM entity_ops WHERE entity_id = ? ORDER BY id LIMIT ?", (entity_id, limit)
            ).fetchall()
        return (row["state"] if row else None), row is not None, [EntityOp(**dict(r)) for r in ops]

    def commit_entity_batch(
        self,
        entity_id: str,
        state: str | None,
        exists: bool,
        done: list[int],
        responses: list[tuple[str, str | None, dict]],
        *,
        now: float,
        now_text: str,
    ) -> None:
        """Save the state, drop the processed operations and answer the callers, atomically."""
        with self.tx() as db:
            if exists:
                db.execute(
                    "INSERT INTO entities VALUES (?,?,?) ON CONFLICT(entity_id) DO UPDATE SET state=excluded.state,"
                    " last_operation_time=excluded.last_operation_time",
                    (entity_id, state, now_text),
                )
            else:
                db.execute("DELETE FROM entities WHERE entity_id = ?", (entity_id,))
            db.executemany("DELETE FROM entity_ops WHERE id = ?", [(i,) for i in done])
            for instance_id, execution_id, event in responses:
                self._enqueue(db, instance_id, execution_id, event, now)

    def read_entity(self, entity_id: str) -> str | None:
        rows = self.read("SELECT state FROM entities WHERE entity_id = ?", (entity_id,))
        return rows[0]["state"] if rows else None

    def entities_with_ops(self) -> list[str]:
        return [r[0] for r in self.read("SELECT DISTINCT entity_id FROM entity_ops")]

    def list_entities(self, name: str) -> list[sqlite3.Row]:
        return self.read("SELECT * FROM entities WHERE entity_id LIKE ? ORDER BY entity_id", (f"@{name.lower()}@%",))

    # -- blob receipts -----------------------------------------------------------------------------------

    def blob_receipt(self, function: str, blob: str) -> sqlite3.Row | None:
        rows = self.read("SELECT * FROM blob_receipts WHERE function = ? AND blob = ?", (function, blob))
        return rows[0] if rows else None

    def record_blob_receipt(
        self, function: str, blob: str, etag: str, md5: str | None, *, attempts: int, done: bool, now_text: str
    ) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO blob_receipts VALUES (?,?,?,?,?,?,?) ON CONFLICT(function, blob) DO UPDATE SET"
                " etag=excluded.etag, content_md5=excluded.content_md5, attempts=excluded.attempts,"
                " done=excluded.done, updated_time=excluded.updated_time",
                (function, blob, etag, md5, attempts, int(done), now_text),
            )


def _instance(row: sqlite3.Row) -> Instance:
    values = dict(row)
    values["engine"] = json.loads(values["engine"])
    return Instance(**values)


def _encode_token(created_ts: float, instance_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_ts, instance_id]).encode()).decode()


def _decode_token(token: str) -> tuple[float, str]:
    try:
        created_ts, instance_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return float(created_ts), str(instance_id)
    except (ValueError, TypeError) as exc:
        raise ValueError("invalid continuation token") from exc


def epoch() -> float:
    return time.time()
