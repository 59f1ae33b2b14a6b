"""Write-through SQLite persistence with group commit.

The in-memory store is the read path; SQLite is only written. Every mutation enqueues a
row write and gets a future; a single writer thread commits whatever has accumulated in
one transaction and then resolves all those futures. Requests await their future before
answering, so an acknowledged write is durable, while a burst of 1,000 creates costs a
handful of commits instead of 1,000.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, rv INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Persistence:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cp-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[str, int, bytes | None]] = []
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

    def write(self, key: str, rv: int, data: bytes | None) -> asyncio.Future[None]:
        """Queue a put (``data``) or delete (``None``); the future resolves once committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._pending.append((key, rv, data))
        self._waiters.append(fut)
        self._rv = max(self._rv, rv)
        if self._flushing is None or self._flushing.done():
            self._flushing = loop.create_task(self._flush_loop())
        return fut

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, waiters = self._pending, self._waiters
            self._pending, self._waiters = [], []
            try:
                await loop.run_in_executor(self._executor, self._commit, batch, self._rv)
            except Exception as exc:  # report to every waiter of the failed batch
                for fut in waiters:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    def _commit(self, batch: list[tuple[str, int, bytes | None]], rv: int) -> None:
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN")
        try:
            for key, obj_rv, data in batch:
                if data is None:
                    conn.execute("DELETE FROM objects WHERE key=?", (key,))
                else:
                    conn.execute(
                        "INSERT OR REPLACE INTO objects(key, rv, data) VALUES (?,?,?)",
                        (key, obj_rv, data),
                    )
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
