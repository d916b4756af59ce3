"""The write load of the crash rehearsal (``bench/crash.py``): clients that each know what they wrote.

Each client owns its resources (its users and one group) and writes them one
request at a time, so the state it should find after a crash is the serial
application of its acknowledged writes, and at most its last request is in
doubt. Every write is recorded with its outcome; a client stops at its first
write that did not get a 2xx (the server was killed, or something is wrong).
What each write must leave behind, in the rows and in the event feed, is
modelled by ``Model``; ``crash_checks`` compares that with the database.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from scimhub.domain.groups import group_urn
from scimhub.domain.users import user_urn

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM = "/scim/v2"

Event = tuple[str, str, str | None]
"""(category, operation, modifier): one event the feed must hold; the modifier for memberships only."""


@dataclass
class Model:
    """What one client's writes should have left: live users and titles, the group's members, the events."""

    group: str
    users: dict[str, str] = field(default_factory=dict)
    """userName → title, for the users that exist."""
    members: set[str] = field(default_factory=set)
    """userNames in the client's group."""
    events: dict[str, list[Event]] = field(default_factory=dict)
    """URN → the events of it, in order, for every user and the group."""

    def note(self, urn: str, category: str, operation: str, modifier: str | None = None) -> None:
        """Expect one more event of ``urn``."""
        self.events.setdefault(urn, []).append((category, operation, modifier))


@dataclass(frozen=True)
class Write:
    """One write request: what it does to the model, and what it got."""

    kind: str
    names: tuple[str, ...]
    title: str = ""

    def apply(self, model: Model) -> None:
        """Change ``model`` as this write does when it commits."""
        if self.kind == "create":
            model.users[self.names[0]] = "t0"
            model.note(user_urn(self.names[0]), "LIFECYCLE", "CREATE")
        elif self.kind == "retitle":
            model.users[self.names[0]] = self.title
            model.note(user_urn(self.names[0]), "ATTRIBUTE", "MODIFY")
        elif self.kind in ("add", "remove"):
            for name in self.names:
                (model.members.add if self.kind == "add" else model.members.discard)(name)
                model.note(user_urn(name), "GROUP_MEMBERSHIP", self.kind.upper(), group_urn(model.group))
        elif self.kind == "delete":
            del model.users[self.names[0]]
            model.members.discard(self.names[0])
            model.note(user_urn(self.names[0]), "LIFECYCLE", "HARD_DELETE")
        else:
            raise ValueError(self.kind)


@dataclass
class Outcome:
    """A write and what came back: a status, or ``refused`` (never sent) or ``no answer`` (maybe applied)."""

    write: Write
    status: int | None
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        """Tell whether the write got a 2xx."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def in_doubt(self) -> bool:
        """Tell whether the write may or may not have committed (no answer, or a 5xx)."""
        return self.error == "no answer" or (self.status is not None and self.status >= 500)


@dataclass
class Client:
    """One client's resources, writes and model; ``run`` writes until a write gets no 2xx."""

    name: str
    seed: int
    model: Model = field(init=False)
    ids: dict[str, str] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    group_id: str = ""

    def __post_init__(self) -> None:
        self.model = Model(group=f"{self.name}-g")
        self._random = random.Random(self.seed)
        self._serial = 0

    def doubtful_model(self) -> tuple[Write, Model] | None:
        """Return the write in doubt and the model with it applied too, if the last write is in doubt."""
        if not self.outcomes or not self.outcomes[-1].in_doubt:
            return None
        write = self.outcomes[-1].write
        applied = copy.deepcopy(self.model)
        write.apply(applied)
        return write, applied

    def settle(self, applied: bool) -> None:
        """Record what became of the write in doubt, so that later checks expect exactly that."""
        last = self.outcomes[-1]
        if applied:
            last.write.apply(self.model)
        last.error = "applied" if applied else "absent"
        last.status = None

    def set_up(self, http: httpx.Client) -> None:
        """Create the client's group (before the load: it must exist)."""
        response = http.post(f"{SCIM}/Groups", json={"schemas": [GROUP], "displayName": self.model.group})
        response.raise_for_status()
        self.group_id = response.json()["id"]
        self.model.note(group_urn(self.model.group), "LIFECYCLE", "CREATE")

    def run(self, http: httpx.Client) -> None:
        """Write until a write does not get a 2xx: after the kill, every client's last write fails.

        No other way to stop: a client told to stop could end on a 2xx and leave
        nothing in doubt, and the round would not test what a kill leaves.
        """
        while True:
            write = self._next()
            outcome = self._send(http, write)
            self.outcomes.append(outcome)
            if not outcome.acknowledged:
                return
            write.apply(self.model)

    def _next(self) -> Write:
        live = sorted(self.model.users)
        members, others = sorted(self.model.members), [n for n in live if n not in self.model.members]
        roll = self._random.random()
        if len(live) < 3 or (roll < 0.25 and len(live) < 10):
            self._serial += 1
            return Write("create", (f"{self.name}-u{self._serial}",))
        if roll < 0.5:
            self._serial += 1
            return Write("retitle", (self._random.choice(live),), f"t{self._serial}")
        if roll < 0.7 and others:
            return Write(
                "add", tuple(self._random.sample(others, min(len(others), self._random.randint(1, 3))))
            )
        if roll < 0.85 and members:
            return Write(
                "remove", tuple(self._random.sample(members, min(len(members), self._random.randint(1, 2))))
            )
        return Write("delete", (self._random.choice(live),))

    def _send(self, http: httpx.Client, write: Write) -> Outcome:
        try:
            response = self._request(http, write)
        except httpx.ConnectError as error:
            return Outcome(write, None, "refused" if "refused" in str(error).lower() else "no answer")
        except httpx.HTTPError:
            return Outcome(write, None, "no answer")
        if response.status_code == 201 and write.kind == "create":
            self.ids[write.names[0]] = response.json()["id"]
        return Outcome(write, response.status_code)

    def _request(self, http: httpx.Client, write: Write) -> httpx.Response:
        name = write.names[0]
        if write.kind == "create":
            body: dict[str, Any] = {"schemas": [USER], "userName": name, "title": "t0", "displayName": name}
            return http.post(f"{SCIM}/Users", json=body)
        if write.kind == "retitle":
            operations = [{"op": "replace", "path": "title", "value": write.title}]
            return http.patch(
                f"{SCIM}/Users/{self.ids[name]}", json={"schemas": [PATCH], "Operations": operations}
            )
        if write.kind == "add":
            value = [{"value": self.ids[n]} for n in write.names]
            operations = [{"op": "add", "path": "members", "value": value}]
            return http.patch(
                f"{SCIM}/Groups/{self.group_id}", json={"schemas": [PATCH], "Operations": operations}
            )
        if write.kind == "remove":
            operations = [{"op": "remove", "path": f'members[value eq "{self.ids[n]}"]'} for n in write.names]
            return http.patch(
                f"{SCIM}/Groups/{self.group_id}", json={"schemas": [PATCH], "Operations": operations}
            )
        return http.delete(f"{SCIM}/Users/{self.ids[name]}")
