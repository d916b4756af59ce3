"""The WAL pages a SQLite create writes, alone and when the creates of one loop turn share a commit.

    .venv/bin/python bench/wal_pages.py [--users 2000] [--creates 8]

Seeds ``--users`` users into a new database, then makes creates as ``Users.create`` does (Entra's
create body) and reads what reached the WAL: the frames of the WAL file, each one page, named by
the b-tree it belongs to (SQLite's ``dbstat``; "(new page)" for pages made since). First
``--creates`` creates each in a transaction of its own, then as many run as tasks of one event loop
inside ``SqlStore.unwaiting``, which share one COMMIT (ADR 0061). It prints the pages per create
both ways and the b-trees they belong to.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sqlite3
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

from seed import USER, seed_users, user_body

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit, Users
from scimhub.scim.values import read_resource
from scimhub.store.sql import migrate
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.store import SqlStore
from scimhub.wiring import now_micros

_WAL_HEADER, _FRAME_HEADER = 32, 24


def _frames(database: Path) -> list[int]:
    """Return the page number of each frame of ``database``'s WAL (sqlite.org/fileformat2.html §4.1)."""
    wal = (database.parent / (database.name + "-wal")).read_bytes()
    page_size = struct.unpack(">I", wal[8:12])[0]
    pages, offset = [], _WAL_HEADER
    while offset + _FRAME_HEADER <= len(wal):
        pages.append(struct.unpack(">I", wal[offset : offset + 4])[0])
        offset += _FRAME_HEADER + page_size
    return pages


def main() -> None:
    """Print the WAL pages per create, alone and shared."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--creates", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scimhub-wal-") as directory:
        database = Path(directory) / "wal.db"
        engine = make_engine(f"sqlite:///{database}")
        migrate.upgrade(engine)
        store = SqlStore(engine)
        seed_users(store, SYSTEM, "wal", args.users)
        users = Users(store, now_micros)
        raw = sqlite3.connect(database)
        names = dict(raw.execute("SELECT pageno, name FROM dbstat").fetchall())
        made = iter(range(10**6))

        def create() -> None:
            resource = read_resource(USER, user_body("new", next(made)))
            users.create(SYSTEM, UserEdit(resource.doc, resource.password))

        async def in_one_turn(count: int) -> None:
            async def one() -> None:
                with store.unwaiting() as on_loop:
                    create()
                await on_loop.committed()

            await asyncio.gather(*(one() for _ in range(count)))

        def measured(label: str, count: int, run: Callable[[], None]) -> None:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            run()
            pages = _frames(database)
            trees = collections.Counter(names.get(page, "(new page)") for page in pages)
            print(f"{label}: {len(pages)} WAL pages for {count} create(s), {len(pages) / count:.1f} each")
            print("  " + ", ".join(f"{name} {n}" for name, n in sorted(trees.items())))

        if store._checkpoints is not None:  # none may empty the WAL before it is read
            store._checkpoints.close()

        def each_alone() -> None:
            for _ in range(args.creates):
                create()

        measured("each alone", args.creates, each_alone)
        measured("one turn", args.creates, lambda: asyncio.run(in_one_turn(args.creates)))
        store.close()
        engine.dispose()


if __name__ == "__main__":
    main()
