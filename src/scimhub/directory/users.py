"""Use cases on users: one transaction per call, each write appends its events."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from scimhub.directory.actors import Actor
from scimhub.directory.changes import (
    attribute_events,
    check_version,
    creation_events,
    hard_delete,
    role_events,
)
from scimhub.directory.passwords import hash_password
from scimhub.domain.roles import Role
from scimhub.domain.users import User, provisioned_roles, user_urn
from scimhub.domain.versions import Versions
from scimhub.errors import NotFound
from scimhub.query.filter.tree import Compare
from scimhub.query.pages import Page, Query, Walk
from scimhub.query.paths import AttrRef, resolve
from scimhub.query.schema import USER
from scimhub.store.contract import Store, UserRows
from scimhub.store.records import GroupRef

Clock = Callable[[], int]
"""Return the current time in microseconds since the epoch."""


@dataclass(frozen=True)
class UserEdit:
    """A user's new attributes, and a new password if one was given."""

    doc: dict[str, Any]
    password: str | None = None


@dataclass(frozen=True)
class UserView:
    """A user and, when asked for, the groups it belongs to."""

    user: User
    groups: list[GroupRef] | None = None


@dataclass(frozen=True)
class UserRef:
    """A user as a caller names it: by its current userName, or by the DataHub URN it keeps.

    The command line names users by userName; the JSON API, in DataHub's terms, by
    URN. A URN is looked up as stored, never turned back into a userName: after a
    rename that userName is another user's, or nobody's (ADR 0008).
    """

    text: str
    """The userName (compared in any case) or the ``urn:li:corpuser:`` URN (compared exactly)."""
    is_urn: bool = False

    @classmethod
    def by_name(cls, user_name: str) -> UserRef:
        """Return a reference to the user whose userName is ``user_name``."""
        return cls(user_name)

    @classmethod
    def by_urn(cls, urn: str) -> UserRef:
        """Return a reference to the user whose stored URN is ``urn``."""
        return cls(urn, is_urn=True)

    def find(self, users: UserRows) -> User | None:
        """Return the user this names, or None."""
        return users.get_by_urn(self.text) if self.is_urn else users.get_by_name(self.text)

    def missing(self) -> NotFound:
        """Return the error for a reference that names no user, naming the userName or the URN."""
        named = f"the URN {self.text}" if self.is_urn else f"the userName '{self.text}'"
        return NotFound(f"no user has {named}")


_BY_USER_NAME = resolve(USER, "userName")
_ID = resolve(USER, "id")


def _not_found(id: str) -> NotFound:
    return NotFound(f"User {id} not found")


class Users:
    """Provision, read and deprovision users."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def get(self, id: str, *, with_groups: bool = False) -> UserView:
        """Return one user. :raises NotFound: When there is no such user."""
        return self._lookup(_ID, id, _not_found(id), with_groups)

    def find(self, user_name: str, *, with_groups: bool = False) -> UserView:
        """Return the user whose userName is ``user_name`` in any case.

        :raises NotFound: When no user has that userName.
        """
        return self._lookup(_BY_USER_NAME, user_name, UserRef.by_name(user_name).missing(), with_groups)

    def _lookup(self, unique: AttrRef, value: str, missing: NotFound, with_groups: bool) -> UserView:
        """Return the user whose ``unique`` attribute equals ``value``: a lookup, one statement (ADR 0057)."""
        found = self.search(Query(Compare(unique, "eq", value)), with_groups=with_groups).items
        if not found:
            raise missing
        return found[0]

    def search(
        self,
        query: Query,
        *,
        with_groups: bool = False,
        prefix: str | None = None,
        active: bool | None = None,
        role: Role | None = None,
        walk: Walk | None = None,
    ) -> Page[UserView]:
        """Return one page of the users that match ``query``, narrowed as ``UserRows.search`` says.

        A lookup is one statement, its users' groups included, and takes no transaction (ADR 0057).
        """
        with self._store.read(one_statement=query.is_lookup) as tx:
            page = tx.users.search(
                query, prefix=prefix, active=active, role=role, walk=walk, with_groups=with_groups
            )
        groups = page.related if with_groups else [None] * len(page.items)
        views = [UserView(u, g) for u, g in zip(page.items, groups, strict=True)]
        return Page(page.total, views, page.keys, page.more)

    def sample_holders(self, role: Role, size: int, orders: Sequence[AttrRef]) -> list[tuple[Any, ...]]:
        """Return what each of ``orders`` sorts by, for up to ``size`` holders of ``role`` drawn at random."""
        with self._store.read() as tx:
            return tx.users.sample_holders(role, size, orders)

    def by_user_name(self, offset: int, limit: int, *, with_groups: bool = False) -> Page[UserView]:
        """Return one page of every user in userName order (the unique index's order, ADR 0017)."""
        return self.search(Query(sort_by=_BY_USER_NAME, offset=offset, limit=limit), with_groups=with_groups)

    def create(self, actor: Actor, edit: UserEdit) -> User:
        """Store a new user.

        :raises Uniqueness: When its userName is taken, or the URN it makes still
            names a renamed user (ADR 0008).
        :raises InvalidValue: When its roles name a role that does not exist.
        """
        roles = provisioned_roles(edit.doc)
        now = self._clock()
        if edit.password:
            self._store.leave_loop()  # argon2id: tens of ms that must not hold the event loop (ADR 0055)
        user = User(
            id=uuid.uuid4().hex,
            doc=edit.doc,
            version=1,
            created=now,
            last_modified=now,
            password_hash=hash_password(edit.password) if edit.password else None,
            created_urn=user_urn(edit.doc["userName"]),  # ADR 0008: kept through renames
        )
        with self._store.transaction() as tx:
            tx.users.insert(user)
            tx.events.append(creation_events("corpuser", user.urn, user.doc, actor.urn, now))
            tx.events.append(role_events(user.urn, frozenset(), roles, actor.urn, now))
        return user

    def update(
        self,
        actor: Actor,
        id: str,
        edit: Callable[[User], UserEdit],
        expected_versions: Versions | None = None,
        *,
        with_groups: bool = False,
    ) -> UserView:
        """Change a user with ``edit`` (PUT or PATCH), under a row lock; return it as stored.

        A change that leaves every attribute as it was writes nothing and keeps the
        version, so a client that re-sends its state does not churn ETags or events.

        :raises NotFound: When there is no such user.
        :raises PreconditionFailed: When ``expected_versions`` does not hold the stored one.
        :raises Uniqueness: When the new userName is taken.
        """
        with self._store.transaction() as tx:
            user = tx.users.get(id, for_update=True)
            if user is None:
                raise _not_found(id)
            check_version("User", id, user.version, expected_versions)
            change = edit(user)
            roles = provisioned_roles(change.doc)
            groups = tx.members.groups_of([id])[id] if with_groups else None
            if change.doc == user.doc and change.password is None:
                return UserView(user, groups)
            now = self._clock()
            if change.password:
                self._store.leave_loop()  # as in create: nothing is written yet, the work moves whole
            updated = replace(
                user,
                doc=change.doc,
                version=user.version + 1,
                last_modified=now,
                password_hash=hash_password(change.password) if change.password else user.password_hash,
            )
            tx.users.update(updated)
            tx.events.append(attribute_events("corpuser", updated.urn, user.doc, updated.doc, actor.urn, now))
            tx.events.append(role_events(updated.urn, user.provisioned_roles, roles, actor.urn, now))
        return UserView(updated, groups)

    def delete(self, actor: Actor, id: str, expected_versions: Versions | None = None) -> None:
        """Delete a user for good, and its memberships.

        :raises NotFound: When there is no such user.
        :raises PreconditionFailed: When ``expected_versions`` does not hold the stored one.
        """
        self._store.leave_loop()  # its memberships go with it, as many as its groups (ADR 0076)
        now = self._clock()
        with self._store.transaction() as tx:
            tx.tokens.revoke_all_of(id, now)  # remembered, so the tokens are refused as the user's
            hard_delete(tx.users, tx.events, "User", "corpuser", id, expected_versions, actor.urn, now)
