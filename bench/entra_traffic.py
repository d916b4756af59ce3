"""What Entra ID sends in a provisioning cycle, as scripts for bench/load.py's ``run_scripts``.

Every body and query is the default (unflagged) dialect of Entra's
provisioning job, as docs/entra-client.md records it:

- Test Connection (§6.2): ``GET /Users?filter=userName eq "<random GUID>"`` and
  the same for a group, answered with an empty list.
- Initial cycle (§6.1): for each user ``GET /Users?filter=userName eq "…"``
  then ``POST /Users`` with the create body of §2.1 (bench/seed.py's
  ``user_body``); users first, then for each group
  ``GET /Groups?excludedAttributes=members&filter=displayName eq "…"``,
  ``POST /Groups`` with §2.2's body (Microsoft's second schema URI, no
  members; or, with ``group_body="core"``, the core-schema-only body with an
  empty ``members`` a tenant captured on Microsoft Q&A, question 637791), then
  ``PATCH`` adding its members in batches (§2.2 "Add Members":
  ``"op": "Add"``, ``{"$ref": null, "value": …}``). The refs find no documented
  batch size (§4.3 item 8), so it is a setting of the data set.
- Incremental cycle (§6.1): ``GET /Users/<id>`` then a ``PATCH`` of the changed
  attributes (§4.2, one ``Replace`` per attribute, the enterprise one by its
  URN-prefixed path); deactivations ``Replace active "False"`` (a string, §4.2);
  for a changed group ``GET /Groups/<id>?excludedAttributes=members``, then
  ``Add`` and ``Remove`` of members by value array (§4.2, "without the flag").

Entra caches the id a server returns and uses it for every later operation,
and an object whose creation failed is created again in the next cycle
(escrow, §6.3). The scripts do the same: ids go into a ``Provisioned`` per
server, and the incremental cycle re-creates what has no id.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import orjson
from load import Request, Script
from seed import user_body, user_name
from workload import PATCH_OP

_CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
_ENTRA_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
_DEPARTMENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
_TAG = "entra"
"""The batch name bench/seed.py's ``user_name`` gives every user of the data set."""

PATCHED = frozenset({200, 204})
"""RFC 7644 §3.5.2: a PATCH answers 200 with the resource or 204 without; Entra takes either."""

# The kinds of request, as the report names them.
FIND_USER = 'GET /Users?filter=userName eq "…"'
CREATE_USER = "POST /Users"
FIND_GROUP = 'GET /Groups?excludedAttributes=members&filter=displayName eq "…"'
CREATE_GROUP = "POST /Groups"
ADD_MEMBERS = "PATCH /Groups Add members"
REMOVE_MEMBERS = "PATCH /Groups Remove members"
READ_USER = "GET /Users/<id>"
CHANGE_USER = "PATCH /Users Replace title, department, displayName"
DEACTIVATE_USER = 'PATCH /Users Replace active "False"'
READ_GROUP = "GET /Groups/<id>?excludedAttributes=members"


@dataclass(frozen=True)
class DataSet:
    """The tenant one cycle provisions, and what changes before the incremental cycle."""

    users: int
    groups: int
    memberships: int
    """Group members in all, spread evenly over the groups, each group's members distinct."""
    batch: int
    """Members per PATCH of the initial cycle."""
    changed_users: int
    deactivated_users: int
    changed_groups: int
    member_changes: int
    """Members added to, and as many removed from, each changed group."""
    group_body: str = "tutorial"
    """Which of Entra's group creations to send: §2.2's ("tutorial") or the core-schema-only one ("core")."""
    seed: int = 5

    def draw_plan(self) -> Plan:
        """Draw who belongs to which group and what the incremental cycle changes, the same every time."""
        rng = random.Random(self.seed)
        each, extra = divmod(self.memberships, self.groups)
        members = [rng.sample(range(self.users), each + (g < extra)) for g in range(self.groups)]
        touched = rng.sample(range(self.users), self.changed_users + self.deactivated_users)
        changes: dict[int, tuple[list[int], list[int]]] = {}
        for group in rng.sample(range(self.groups), self.changed_groups):
            current = set(members[group])
            outside = [u for u in rng.sample(range(self.users), 4 * self.member_changes) if u not in current]
            removed = rng.sample(members[group], min(self.member_changes, len(members[group])))
            changes[group] = (outside[: self.member_changes], removed)
        return Plan(
            members, touched[: self.changed_users], touched[self.changed_users :], changes, rng.random()
        )


@dataclass(frozen=True)
class Plan:
    """The draw of a ``DataSet``: the same for every server of a run."""

    members: list[list[int]]
    """The users of each group, by index."""
    changed_users: list[int]
    deactivated_users: list[int]
    group_changes: dict[int, tuple[list[int], list[int]]]
    """The users each changed group gains and loses."""
    salt: float
    """Seeds the Test Connection GUIDs and the order of the incremental cycle: the same for every server."""


@dataclass
class Provisioned:
    """The ids one server returned, by user and group index: what Entra caches as target ids."""

    users: dict[int, str] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)


def group_name(index: int) -> str:
    """Return the displayName of the ``index``-th group of the data set."""
    return f"Entra group {index:05d}"


def _group_body(index: int, form: str) -> bytes:
    """Return the body Entra creates a group with: externalId (the object id), displayName, no members."""
    body: dict[str, object] = {"externalId": str(uuid.UUID(int=index + 1)), "displayName": group_name(index)}
    if form == "tutorial":  # §2.2 "Create Group", verbatim in shape
        body = {"schemas": [_CORE_GROUP, _ENTRA_GROUP], **body, "meta": {"resourceType": "Group"}}
    elif form == "core":  # as captured by a tenant (Microsoft Q&A 637791)
        body = {"schemas": [_CORE_GROUP], **body, "members": [], "meta": {"resourceType": "Group"}}
    else:
        raise ValueError(f"no group body {form!r}: tutorial or core")
    return orjson.dumps(body)


def _patch(*operations: dict[str, object]) -> bytes:
    return orjson.dumps({"schemas": [PATCH_OP], "Operations": list(operations)})


def _members(op: str, member_ids: list[str]) -> bytes:
    """Return the ``Add`` or ``Remove`` of members by value array, as §2.2 shows them."""
    return _patch({"op": op, "path": "members", "value": [{"$ref": None, "value": m} for m in member_ids]})


def _filter(prefix: str, resource: str, attribute: str, value: str) -> str:
    query = quote(f'{attribute} eq "{value}"', safe="")
    if resource == "Groups":  # §2.2 "Get Group by displayName", in Entra's order
        return f"{prefix}/Groups?excludedAttributes=members&filter={query}"
    return f"{prefix}/{resource}?filter={query}"


def _created_id(status: int, body: bytes) -> str | None:
    return orjson.loads(body)["id"] if status == 201 else None


def _batches(member_ids: list[str], size: int) -> list[bytes]:
    """Return the initial cycle's PATCH bodies adding ``member_ids``, ``size`` per PATCH."""
    return [_members("Add", member_ids[i : i + size]) for i in range(0, len(member_ids), size)]


def _create_user(find: Request, create: Request, index: int, provisioned: Provisioned) -> Script:
    """Look the user up by userName, then create it; keep the id it was given."""
    yield find
    status, answer = yield create
    if (user_id := _created_id(status, answer)) is not None:
        provisioned.users[index] = user_id


def _user_creation(prefix: str, index: int, provisioned: Provisioned) -> Script:
    find = Request("GET", _filter(prefix, "Users", "userName", user_name(_TAG, index)), label=FIND_USER)
    body = orjson.dumps(user_body(_TAG, index))
    return _create_user(find, Request("POST", f"{prefix}/Users", body, 201, CREATE_USER), index, provisioned)


def _create_group(
    find: Request, create: Request, prefix: str, index: int, batches: list[bytes], provisioned: Provisioned
) -> Script:
    """Look the group up by displayName, create it, then add its members one batch per PATCH."""
    yield find
    status, answer = yield create
    if (group_id := _created_id(status, answer)) is None:
        return  # Entra leaves the group for the next cycle: there is nothing to add members to
    provisioned.groups[index] = group_id
    for batch in batches:  # only the path waits for the answer: the bodies are ready
        yield Request("PATCH", f"{prefix}/Groups/{group_id}", batch, PATCHED, ADD_MEMBERS)


def _group_creation(
    prefix: str, data: DataSet, index: int, member_ids: list[str], provisioned: Provisioned
) -> Script:
    find = Request("GET", _filter(prefix, "Groups", "displayName", group_name(index)), label=FIND_GROUP)
    create = Request("POST", f"{prefix}/Groups", _group_body(index, data.group_body), 201, CREATE_GROUP)
    return _create_group(find, create, prefix, index, _batches(member_ids, data.batch), provisioned)


def _update(read: Request, *patches: Request) -> Script:
    """Read the resource (Entra compares it with the source), then send the PATCHes of the differences."""
    yield read
    for patch in patches:  # noqa: UP028 - ``yield from`` would pass the answers on to a tuple iterator
        yield patch


def connection_tests(prefix: str, plan: Plan, count: int) -> Iterator[Script]:
    """Yield ``count`` Test Connection probes: a random user and a random group, neither existing."""
    rng = random.Random(plan.salt)
    for _ in range(count):
        guid = str(uuid.UUID(int=rng.getrandbits(128)))
        yield _update(
            Request("GET", _filter(prefix, "Users", "userName", guid), label=FIND_USER),
            Request("GET", _filter(prefix, "Groups", "displayName", guid), label=FIND_GROUP),
        )


def user_creation(prefix: str, data: DataSet, provisioned: Provisioned) -> list[Script]:
    """Return the initial cycle's user scripts, one per user."""
    return [_user_creation(prefix, index, provisioned) for index in range(data.users)]


def group_creation(prefix: str, data: DataSet, plan: Plan, provisioned: Provisioned) -> list[Script]:
    """Return the initial cycle's group scripts; their PATCH bodies name the users ``provisioned`` holds.

    A member whose own creation failed is left out, as Entra leaves it out.
    """
    users = provisioned.users
    return [
        _group_creation(prefix, data, index, [users[u] for u in members if u in users], provisioned)
        for index, members in enumerate(plan.members)
    ]


def incremental_cycle(prefix: str, data: DataSet, plan: Plan, provisioned: Provisioned) -> list[Script]:
    """Return the incremental cycle's scripts, kinds interleaved; objects without an id are created again."""
    scripts: list[Script] = []
    users, groups = provisioned.users, provisioned.groups
    deactivated = set(plan.deactivated_users)
    for index in plan.changed_users + plan.deactivated_users:
        if index not in users:
            scripts.append(_user_creation(prefix, index, provisioned))
            continue
        path = f"{prefix}/Users/{users[index]}"
        if index in deactivated:
            body = _patch({"op": "Replace", "path": "active", "value": "False"})
            patch = Request("PATCH", path, body, PATCHED, DEACTIVATE_USER)
        else:
            body = _patch(
                {"op": "Replace", "path": "title", "value": f"Title {index % 97}"},
                {"op": "Replace", "path": _DEPARTMENT, "value": f"Department {index % 13}"},
                {"op": "Replace", "path": "displayName", "value": f"Bench User {index} (changed)"},
            )
            patch = Request("PATCH", path, body, PATCHED, CHANGE_USER)
        scripts.append(_update(Request("GET", path, label=READ_USER), patch))
    for index, (added, removed) in plan.group_changes.items():
        if index not in groups:
            members = [users[u] for u in plan.members[index] if u in users]
            scripts.append(_group_creation(prefix, data, index, members, provisioned))
            continue
        path = f"{prefix}/Groups/{groups[index]}"
        adds = _members("Add", [users[u] for u in added if u in users])
        removes = _members("Remove", [users[u] for u in removed if u in users])
        scripts.append(
            _update(
                Request("GET", f"{path}?excludedAttributes=members", label=READ_GROUP),
                Request("PATCH", path, adds, PATCHED, ADD_MEMBERS),
                Request("PATCH", path, removes, PATCHED, REMOVE_MEMBERS),
            )
        )
    random.Random(plan.salt).shuffle(scripts)
    return scripts
