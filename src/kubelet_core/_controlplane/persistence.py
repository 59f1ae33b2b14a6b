"""Write-through SQLite persistence with group commit.

The in-memory store is the read path; SQLite is only written. Every mutation enqueues a
row write (with an opaque payload, the store's event) and gets a future; a single writer
thread commits whatever has accumulated in one transaction, together with the highest
resourceVersion handed out so far, then ``on_commit`` receives the batch's payloads in
order (the store publishes them) and only then are the futures resolved. Requests await
their future before answering, so an acknowledged or watched write is durable (WAL with
``synchronous=NORMAL``: a killed process loses nothing committed; only an OS crash may
lose the last commits, and then nobody outside saw them either), while a burst of 1,000
creates costs a handful of commits instead of 1,000.

Next to the objects, a bounded change log (``changes``: resourceVersion, key, event type,
object) is written in the same transaction, as etcd keeps revisions until compaction: after
a restart the store rebuilds its watch history from it, so a client resuming a watch from
the last resourceVersion it saw gets every later event instead of a 410.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
#: Receives the payloads of one committed (or failed) batch, in write order.
BatchCallback = Callable[[list[Any]], None]


def _ignore(_payloads: list[Any]) -> None:
    return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, rv INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
    rv INTEGER PRIMARY KEY, key TEXT NOT NULL, type TEXT NOT NULL, data BLOB NOT NULL
);
"""
#: (resourceVersion, storage key, event type, encoded object) of one logged change.
Change = tuple[int, str, str, bytes]


class Persistence:
    def __init__(self, path: Path, *, log_size: int = 10_000) -> None:
        self.path = path
        # Changes kept for watch resumption after a restart (etcd's compaction window).
        self.log_size = log_size
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cp-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[str, int, str, bytes]] = []
        self._payloads: list[Any] = []
        self.on_commit: BatchCallback = _ignore
        self.on_abort: BatchCallback = _ignore
        self._waiters: list[asyncio.Future[None]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._rv = 0

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        self._conn = conn

    def load_changes(self) -> list[Change]:
        """The logged changes, oldest first."""
        assert self._conn is not None
        rows = self._conn.execute("SELECT rv, key, type, data FROM changes ORDER BY rv").fetchall()
        return [(int(rv), key, kind, bytes(data)) for rv, key, kind, data in rows]

    def load(self) -> tuple[int, Iterator[tuple[str, bytes]]]:
        """Return the saved resourceVersion counter and all (key, data) rows."""
        assert self._conn is not None
        row = self._conn.execute("SELECT value FROM meta WHERE name='rv'").fetchone()
        rv = int(row[0]) if row else 0
        max_row = self._conn.execute("SELECT MAX(rv) FROM objects").fetchone()
        if max_row and max_row[0]:
            rv = max(rv, int(max_row[0]))
        rows = self._conn.execute("SELECT key, data FROM objects").fetchall()
        return rv, iter([(k, bytes(d)) for k, d in rows])

    def write(
        self, key: str, rv: int, event_type: str, data: bytes, payload: Any = None
    ) -> asyncio.Future[None]:
        """Queue a change (a ``DELETED`` one removes the row); resolves once committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._pending.append((key, rv, event_type, data))
        self._payloads.append(payload)
        self._waiters.append(fut)
        self._rv = max(self._rv, rv)
        if self._flushing is None or self._flushing.done():
            self._flushing = loop.create_task(self._flush_loop())
        return fut

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, waiters, payloads = self._pending, self._waiters, self._payloads
            self._pending, self._waiters, self._payloads = [], [], []
            try:
                await loop.run_in_executor(self._executor, self._commit, batch, self._rv)
            except Exception as exc:  # report to every waiter of the failed batch
                self.on_abort(payloads)
                for fut in waiters:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            try:
                self.on_commit(payloads)
            except Exception:  # a listener's bug must not leave the writers waiting
                log.exception("publishing a committed batch failed")
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    def _commit(self, batch: list[tuple[str, int, str, bytes]], rv: int) -> None:
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN")
        try:
            for key, obj_rv, event_type, data in batch:
                if event_type == "DELETED":
                    conn.execute("DELETE FROM objects WHERE key=?", (key,))
                else:
                    conn.execute(
                        "INSERT OR REPLACE INTO objects(key, rv, data) VALUES (?,?,?)",
                        (key, obj_rv, data),
                    )
            conn.executemany(
                "INSERT OR REPLACE INTO changes(rv, key, type, data) VALUES (?,?,?,?)",
                [(obj_rv, key, event_type, data) for key, obj_rv, event_type, data in batch],
            )
            conn.execute("DELETE FROM changes WHERE rv <= ?", (rv - self.log_size,))
            conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('rv', ?)", (str(rv),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        while self._flushing is not None and not self._flushing.done():
            await self._flushing
        loop = asyncio.get_running_loop()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await loop.run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)
