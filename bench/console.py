"""The console's pages at a million users: server time per page (issue 13: < 100 ms each).

    .venv/bin/python bench/console.py [--backend sqlite|postgresql|both] [--users N] [--repeats N]

For each backend: a fresh database, a token (``scimhub token create``, which migrates and
creates ``admin``), then ``--users`` users and two groups generated in bulk SQL by the server's
own rows (``bench/bulk.py``, as ``bench/scale.py`` does: a group of 100 and one of 10,000). On top,
through the use cases: the 10,000-member group gets Editor (10,000 effective Editors), five users
get Admin, 1,000 users are suspended. PostgreSQL is then vacuumed and analysed, as autovacuum would.

The application runs in this process (Starlette's TestClient, the whole middleware stack) signed in
as ``admin``. The console's counts are read first (their time is printed: a background reading, ADR
0045); the last page is the Overview while every request finds them stale, so that a reading runs
beside it. Each page is read ``--repeats`` times after three unmeasured reads; the figure is the
**server's own time**, the ``ms`` of its access log line (from the request reaching the app to its
last byte), as ``bench/scale.py`` reports it. Prints p50, p95 and max per page.
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from bulk import ScaleData, generate
from options import add_database_options, chosen_backends
from servers import FreshDatabase, scimhub_token
from starlette.testclient import TestClient

from scimhub.console.counts import CountCache
from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit
from scimhub.domain.roles import Role
from scimhub.domain.text import fold
from scimhub.query.pages import Query, Seek
from scimhub.query.paths import resolve
from scimhub.query.schema import USER
from scimhub.scim.cursors import Position
from scimhub.settings import Settings
from scimhub.web.app import create_app
from scimhub.wiring import Services, build

PASSWORD = "bench admin password"
LARGE_GROUP = 10_000
SUSPENDED = 1_000


class _ServerTimes(logging.Handler):
    """Collect the ``ms`` of each access-log line: the server's own time per request."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.times.append(float(record.__dict__["request"]["ms"]))


def _prepare(services: Services, data: ScaleData) -> None:
    """Give roles and suspensions through the use cases, as an administrator would."""
    services.accounts.set_password(SYSTEM, "admin", PASSWORD)
    services.roles.assign(SYSTEM, Role.EDITOR, "group", data.large_group)
    for index in range(5):
        services.roles.assign(SYSTEM, Role.ADMIN, "user", data.user_id(data.users - 1 - index))
    for index in range(SUSPENDED):
        user_id = data.user_id(data.users // 2 + index)
        services.users.update(SYSTEM, user_id, lambda user: UserEdit({**user.doc, "active": False}))


def _check_role_pages(services: Services) -> None:
    """Fail unless the Editors' first page by creation, either way, is the same by both reads.

    Uncounted, the page comes from the creation times the membership rows keep (ADR 0052); counted,
    from every holder. Generated rows that missed a copy of ``created`` would show here, not as speed.
    """
    for descending in (False, True):
        pages = [
            services.users.search(
                Query(
                    sort_by=resolve(USER, "meta.created"), descending=descending, seek=Seek(None, count=count)
                ),
                role=Role.EDITOR,
            )
            for count in (False, True)
        ]
        listed = [[view.user.id for view in page.items] for page in pages]
        assert listed[0] == listed[1] and len(listed[0]) == Query().limit, (
            "the two reads of the Editors differ"
        )


def _pages(data: ScaleData, services: Services) -> dict[str, str]:
    # Deep pages are links carrying the sort key of the row before them (ADR 0044), as Next makes them:
    # the users after the 90 % one's folded userName (names sort as their indexes), the members after
    # the 4,950th member id.
    deep = (data.users * 9 // 10) // 50 + 1
    before_deep = fold(data.user_name((deep - 1) * 50 - 1))
    deep_at = services.scim.cursors.issue("console/users?sort=userName", Position((before_deep,)))
    with services.groups.open(data.large_group) as snapshot:
        skipped = snapshot.next_members(99 * 50)[-1].value
    some = data.user_name(data.users // 3)
    return {
        "Overview": "/console/overview",
        "Users, page 1 (by userName)": "/console/users",
        f"Users, page {deep:,} (90 % deep)": "/console/users?sort=userName&at=" + quote(deep_at),
        "Users, newest first": "/console/users?sort=created&order=desc",
        "Users, search a userName prefix (10 match)": "/console/users?q="
        + quote(some[: len("scale.user") + 6]),
        "Users, search a displayName prefix (10 match)": "/console/users?q=" + quote("Bench User 033333"),
        "Users, suspended": "/console/users?status=suspended",
        "Users, effective role Editor": "/console/users?role=Editor",
        # The members of the Editor group are the oldest users: newest first, they are the far end of the
        # walk (ADR 0045), which then gives up after 10,000 users and reads the holders.
        "Users, effective role Editor, newest first": "/console/users?role=Editor&sort=created&order=desc",
        "Users, effective role Admin (5)": "/console/users?role=Admin",
        "User page": f"/console/users/{data.user_id(data.users // 3)}",
        "Groups": "/console/groups",
        f"Group of {LARGE_GROUP:,}, page 1": f"/console/groups/{data.large_group}",
        f"Group of {LARGE_GROUP:,}, page 100": f"/console/groups/{data.large_group}?at=after:{skipped}",
        "Roles": "/console/roles",
        "Role Admin, direct holders": "/console/roles/Admin",
        "Access tokens": "/console/tokens",
        "Events": "/console/events",
        "Own profile": "/console/me",
    }


def _measure(backend: str, users: int, repeats: int, workdir: Path, postgres_url: str) -> None:
    database = FreshDatabase(backend, workdir, postgres_url)
    try:
        scimhub_token(database.url)
        started = time.monotonic()
        data = generate(database.url, users, 100, min(LARGE_GROUP, users))
        services = build(Settings(database_url=database.url), upgrade=False)
        _prepare(services, data)
        _check_role_pages(services)
        database.settle()
        print(f"\n{backend}: {users:,} users generated and prepared in {time.monotonic() - started:.0f} s")
        times = _ServerTimes()
        access = logging.getLogger("scimhub.access")
        access.addHandler(times)
        access.setLevel(logging.INFO)
        access.propagate = False
        with TestClient(create_app(services)) as browser:
            page = browser.get("/console/sign-in").text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            form = {"username": "admin", "password": PASSWORD, "csrf": token}
            assert browser.post("/console/sign-in", data=form, follow_redirects=False).status_code == 303
            console = browser.app.state.console  # type: ignore[attr-defined]
            started = time.monotonic()
            reading = console.counts.refresh()  # what the background reading costs, on its own
            drawn = {role.value: len(next(iter(orders.values()))) for role, orders in reading.samples.items()}
            held = {role.value: count for role, count in reading.holders.items()}
            spent = 1000 * (time.monotonic() - started)
            print(
                f"  counts read in {spent:.0f} ms: {reading.users:,} users, holders {held}, sampled {drawn}"
            )
            pages = _pages(data, services)
            print("  | page | p50 ms | p95 ms | max ms |")
            print("  | --- | ---: | ---: | ---: |")
            # Every page asks for the counts again while one reading runs: the requests made then.
            pages["Overview, counts read again meanwhile"] = pages["Overview"]
            for name, path in pages.items():
                if name.startswith("Overview, counts"):
                    console.counts = CountCache(services, ttl=0)  # every page finds them stale
                    console.counts.refresh()
                for _ in range(3):
                    assert browser.get(path).status_code == 200, path
                times.times.clear()
                for _ in range(repeats):
                    browser.get(path)
                measured = sorted(times.times)
                p95 = measured[min(len(measured) - 1, round(0.95 * (len(measured) - 1)))]
                median = statistics.median(measured)
                print(f"  | {name} | {median:.1f} | {p95:.1f} | {measured[-1]:.1f} |", flush=True)
        access.removeHandler(times)
        services.core.shutdown(wait=True)  # the last background reading ends before the database goes
    finally:
        database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_options(parser)
    parser.add_argument("--users", type=int, default=1_000_000, help="users to generate [1,000,000]")
    parser.add_argument("--repeats", type=int, default=20, help="measured reads per page [20]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        for backend in chosen_backends(args):
            _measure(backend, args.users, args.repeats, Path(workdir), args.postgres_url)


if __name__ == "__main__":
    main()
