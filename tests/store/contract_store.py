"""``StoreContract``: the rules of ``scimhub/store/contract.py`` as a pytest suite.

Any store gets the checks by subclassing and providing a ``store`` fixture::

    class TestSqliteStore(StoreContract):
        @pytest.fixture
        def store(self): ...
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from scimhub.domain.events import Category, ChangeEvent, Operation
from scimhub.domain.groups import Group, Member, MemberChange, group_urn
from scimhub.domain.roles import Role
from scimhub.domain.tokens import Revoked
from scimhub.domain.users import User, user_urn
from scimhub.errors import Conflict, Uniqueness
from scimhub.query.filter.parser import parse_filter
from scimhub.query.pages import Query, Seek
from scimhub.query.schema import USER
from scimhub.store.contract import Store
from scimhub.store.records import FailureRecord, Revocation, Sealed, SessionRecord, TokenRecord


def make_user(user_name: str | None = None, **doc: Any) -> User:
    """Return a new user record (not stored), with the URN of its userName as the directory makes it."""
    name = user_name or f"user-{uuid.uuid4().hex[:8]}"
    return User(uuid.uuid4().hex, {"userName": name, **doc}, 1, 1, 1, created_urn=user_urn(name))


def make_group(display_name: str | None = None) -> Group:
    """Return a new group record (not stored), with the URN of its displayName as the directory makes it."""
    name = display_name or f"group-{uuid.uuid4().hex[:8]}"
    return Group(uuid.uuid4().hex, {"displayName": name}, 1, 1, 1, created_urn=group_urn(name))


class Boom(Exception):
    """Raise inside a transaction to roll it back: no store code raises it, so nothing else can."""


class StoreContract:
    """The rules every store keeps; subclasses provide the ``store`` fixture."""

    def test_a_stored_user_reads_back_equal(self, store: Store) -> None:
        """A user reads back with the same document, version and times."""
        user = make_user(emails=[{"value": "A@x.org", "type": "work"}], active=False)
        with store.transaction() as tx:
            tx.users.insert(user)
        with store.read() as tx:
            assert tx.users.get(user.id) == user
            assert tx.users.get_by_name(user.user_name.upper()) == user

    def test_user_names_are_unique_in_any_case(self, store: Store) -> None:
        """Inserting or renaming to a taken userName, in another case, raises Uniqueness."""
        first, second = make_user("Bjensen"), make_user("other")
        with store.transaction() as tx:
            tx.users.insert(first)
            tx.users.insert(second)
        with pytest.raises(Uniqueness), store.transaction() as tx:
            tx.users.insert(make_user("BJENSEN"))
        renamed = User(second.id, {"userName": "bjensen"}, 2, 1, 2)
        with pytest.raises(Uniqueness), store.transaction() as tx:
            tx.users.update(renamed)

    def test_a_renamed_user_keeps_its_urn(self, store: Store) -> None:
        """A user's URN is stored with it and reads back unchanged after a rename (ADR 0008)."""
        user = make_user("jdoe")
        with store.transaction() as tx:
            tx.users.insert(user)
            tx.users.update(replace(user, doc={"userName": "jsmith"}, version=2))
        with store.read() as tx:
            renamed = tx.users.get(user.id)
            assert renamed is not None and renamed.urn == "urn:li:corpuser:jdoe"
            assert tx.users.urns([user.id, "nobody"]) == {user.id: "urn:li:corpuser:jdoe"}

    def test_a_kept_urn_is_never_given_to_another_user(self, store: Store) -> None:
        """A new user whose userName makes the URN a renamed user kept raises Uniqueness."""
        user = make_user("jdoe")
        with store.transaction() as tx:
            tx.users.insert(user)
            tx.users.update(replace(user, doc={"userName": "jsmith"}, version=2))
        with pytest.raises(Uniqueness, match="urn:li:corpuser:jdoe"), store.transaction() as tx:
            tx.users.insert(make_user("jdoe"))

    @pytest.mark.parametrize("name", ["user_name_key.jdoe", "users.user_name_key"])
    def test_a_kept_urn_is_told_apart_from_a_taken_name_whatever_the_name_holds(
        self, store: Store, name: str
    ) -> None:
        """A URN's violation reads as one though the name spells the other constraint's name."""
        user = make_user(name)
        with store.transaction() as tx:
            tx.users.insert(user)
            tx.users.update(replace(user, doc={"userName": "renamed"}, version=2))
        with pytest.raises(Uniqueness, match="still names a user renamed since"), store.transaction() as tx:
            tx.users.insert(make_user(name))

    def test_a_plain_duplicate_says_its_name_is_taken(self, store: Store) -> None:
        """A second user of one userName: one detail, whichever constraint fired, on either engine.

        Both its key and its URN are taken; the engines report one or the other (session 40).
        """
        with store.transaction() as tx:
            tx.users.insert(make_user("jdoe"))
        taken = "userName 'jdoe' is already taken, or the DataHub URN urn:li:corpuser:jdoe still names a user"
        with pytest.raises(Uniqueness, match=taken), store.transaction() as tx:
            tx.users.insert(make_user("jdoe"))

    def test_get_by_urn_finds_the_user_that_kept_it(self, store: Store) -> None:
        """get_by_urn() finds a renamed user by its URN from creation, not whoever has its old userName."""
        user, other = make_user("jdoe"), make_user("other")
        with store.transaction() as tx:
            tx.users.insert(user)
            tx.users.insert(other)
            tx.users.update(replace(user, doc={"userName": "jsmith"}, version=2))
            tx.users.update(replace(other, doc={"userName": "jdoe"}, version=2))
        with store.read() as tx:
            found = tx.users.get_by_urn("urn:li:corpuser:jdoe")
            assert found is not None and (found.id, found.user_name) == (user.id, "jsmith")
            assert tx.users.get_by_urn("urn:li:corpuser:other") == tx.users.get(other.id)
            assert tx.users.get_by_urn("urn:li:corpuser:jsmith") is None

    def test_group_names_are_unique_in_any_case(self, store: Store) -> None:
        """A second group whose displayName differs only in case raises Uniqueness."""
        with store.transaction() as tx:
            tx.groups.insert(make_group("Admins"))
        with pytest.raises(Uniqueness), store.transaction() as tx:
            tx.groups.insert(make_group("ADMINS"))

    def test_a_plain_duplicate_group_says_its_name_is_taken(self, store: Store) -> None:
        """A second group of one displayName: the same detail on both engines.

        PostgreSQL's index on the name answered first, SQLite's on the URN (session 40).
        """
        with store.transaction() as tx:
            tx.groups.insert(make_group("Admins"))
        taken = (
            "displayName 'Admins' is already taken, or the DataHub URN urn:li:corpGroup:Admins still names"
        )
        with pytest.raises(Uniqueness, match=taken), store.transaction() as tx:
            tx.groups.insert(make_group("Admins"))

    def test_a_failed_transaction_writes_nothing(self, store: Store) -> None:
        """Every write of a transaction that raises is rolled back, events included."""
        user = make_user()
        event = ChangeEvent("corpuser", "urn:li:corpuser:x", Category.LIFECYCLE, Operation.CREATE, "urn:a", 1)
        with pytest.raises(Boom), store.transaction() as tx:
            tx.users.insert(user)
            tx.events.append([event])
            raise Boom
        with store.read() as tx:
            assert tx.users.get(user.id) is None
            assert tx.users.search(Query(parse_filter(USER, f'userName eq "{user.user_name}"'))).total == 0

    def test_membership_changes_are_deltas(self, store: Store) -> None:
        """apply() reports only what really changed: re-adding or removing a stranger is a no-op."""
        alice, bob = make_user(), make_user()
        group = make_group()
        with store.transaction() as tx:
            tx.users.insert(alice)
            tx.users.insert(bob)
            tx.groups.insert(group)
            assert tx.members.apply(group.id, MemberChange(add=(Member(alice.id),))) == ({alice.id}, set())
            assert tx.members.apply(group.id, MemberChange(add=(Member(alice.id), Member(bob.id)))) == (
                {bob.id},
                set(),
            )
            assert tx.members.apply(group.id, MemberChange(remove=frozenset({alice.id, "stranger"}))) == (
                set(),
                {alice.id},
            )
            assert [m.value for m in tx.members.members(group.id)] == [bob.id]
            assert tx.members.apply(group.id, MemberChange(clear=True, add=(Member(bob.id),))) == (
                set(),
                set(),
            )
            assert tx.members.apply(group.id, MemberChange(clear=True)) == (set(), {bob.id})

    def test_many_ids_past_a_chunk_and_ids_no_row_has(self, store: Store) -> None:
        """Reads and changes over more ids than one statement takes (500) find each one, and nothing else.

        Ids are bound as one JSON array (ADR 0082): ids no row has, with quotes, backslashes and
        characters beyond ASCII, are just ids no row has.
        """
        users = [make_user() for _ in range(1_201)]
        ids = [u.id for u in users]
        strangers = ['a"b', "c\\d", "Zoë 🦊", "", "[1]", ids[0].upper()]
        group = make_group()
        with store.transaction() as tx:
            for user in users:
                tx.users.insert(user)
            tx.groups.insert(group)
            added = tx.members.apply(group.id, MemberChange(add=tuple(Member(i) for i in ids)))
            assert added == (set(ids), set())
        with store.read() as tx:
            assert tx.users.urns([*ids, *strangers]) == {u.id: u.urn for u in users}
            groups_of = tx.members.groups_of([*ids, *strangers])
            assert all([g.id for g in groups_of[i]] == [group.id] for i in ids)
            assert all(groups_of[s] == [] for s in strangers)
            counts = tx.members.counts([group.id, *strangers])
            assert counts == {group.id: 1_201, **dict.fromkeys(strangers, 0)}
        with store.transaction() as tx:
            removed = frozenset([*ids[:1_100], *strangers])
            assert tx.members.apply(group.id, MemberChange(remove=removed)) == (set(), set(ids[:1_100]))
        with store.read() as tx:
            assert [m.value for m in tx.members.members(group.id)] == sorted(ids[1_100:])

    def test_groups_of_and_deleting_a_member(self, store: Store) -> None:
        """groups_of() lists a member's groups; deleting the user removes its memberships."""
        user, group = make_user(), make_group("Readers")
        with store.transaction() as tx:
            tx.users.insert(user)
            tx.groups.insert(group)
            tx.members.apply(group.id, MemberChange(add=(Member(user.id, display="U"),)))
        with store.read() as tx:
            refs = tx.members.groups_of([user.id, "nobody"])
            assert [(g.id, g.display_name) for g in refs[user.id]] == [(group.id, "Readers")]
            assert refs["nobody"] == []
            assert list(tx.members.members(group.id)) == [Member(user.id, "User", "U")]
        with store.transaction() as tx:
            assert tx.users.delete(user.id) is True
            assert tx.users.delete(user.id) is False
        with store.read() as tx:
            assert list(tx.members.members(group.id)) == []

    def test_members_keep_their_type_and_display_exactly(self, store: Store) -> None:
        """Each member's type and display are stored as given, whatever their text; no display is NULL."""
        displays = ['Ann "the \\ admin"', "null", "", "Zoë 🦊 O'Brien", None]
        users = [make_user() for _ in displays]
        inner, group = make_group("Inner"), make_group("Outer")
        with store.transaction() as tx:
            for user in users:
                tx.users.insert(user)
            tx.groups.insert(inner)
            tx.groups.insert(group)
            added = [Member(u.id, "User", d) for u, d in zip(users, displays, strict=True)]
            added.append(Member(inner.id, "Group", "Inner"))
            tx.members.apply(group.id, MemberChange(add=tuple(added)))
        with store.read() as tx:
            assert list(tx.members.members(group.id)) == sorted(added, key=lambda m: m.value)

    def test_a_group_is_found_by_name_in_any_case(self, store: Store) -> None:
        """get_by_name() finds a group by its displayName in any case, and None for no group."""
        group = make_group("Data Stewards")
        with store.transaction() as tx:
            tx.groups.insert(group)
        with store.read() as tx:
            assert tx.groups.get_by_name("DATA stewards") == group
            assert tx.groups.get_by_name("Data") is None

    def test_member_counts_and_first_members(self, store: Store) -> None:
        """counts() counts each group's rows (0 for none); members(limit=) reads only the first ones."""
        users = [make_user() for _ in range(3)]
        full, empty = make_group(), make_group()
        with store.transaction() as tx:
            for user in users:
                tx.users.insert(user)
            tx.groups.insert(full)
            tx.groups.insert(empty)
            tx.members.apply(full.id, MemberChange(add=tuple(Member(u.id) for u in users)))
        with store.read() as tx:
            assert tx.members.counts([full.id, empty.id, "nobody"]) == {full.id: 3, empty.id: 0, "nobody": 0}
            first = [m.value for m in tx.members.members(full.id, limit=2)]
        assert first == sorted(u.id for u in users)[:2]

    def test_role_assignments_tell_whether_they_changed_anything(self, store: Store) -> None:
        """assign() is True only for a new assignment, unassign() only when there was one."""
        user, group = make_user(), make_group()
        with store.transaction() as tx:
            tx.users.insert(user)
            tx.groups.insert(group)
            for principal, id in (("user", user.id), ("group", group.id)):
                assert tx.roles.assign(principal, id, Role.EDITOR) is True
                assert tx.roles.assign(principal, id, Role.EDITOR) is False
                assert tx.roles.unassign(principal, id, Role.EDITOR) is True
                assert tx.roles.unassign(principal, id, Role.EDITOR) is False

    def test_names_of_ids(self, store: Store) -> None:
        """names() maps the ids that exist to their names and leaves out the rest."""
        user, group = make_user("named"), make_group("team")
        with store.transaction() as tx:
            tx.users.insert(user)
            tx.groups.insert(group)
        with store.read() as tx:
            assert tx.users.names([user.id, group.id, "x"]) == {user.id: "named"}
            assert tx.groups.names([user.id, group.id]) == {group.id: "team"}

    def test_search_pages_in_a_stable_order(self, store: Store) -> None:
        """A search counts every match and pages them in order, ties broken by id."""
        tag = uuid.uuid4().hex[:8]
        users = [make_user(f"{tag}-{i}", title=tag) for i in range(5)]
        with store.transaction() as tx:
            for user in users:
                tx.users.insert(user)
        query = Query(parse_filter(USER, f'title eq "{tag}"'), offset=1, limit=2)
        with store.read() as tx:
            page = tx.users.search(query)
        assert page.total == 5
        assert [u.id for u in page.items] == sorted(u.id for u in users)[1:3]

    def test_a_search_reads_each_users_groups_as_groups_of_does(self, store: Store) -> None:
        """with_groups gives each user of any page its groups, ordered as groups_of orders them.

        By offset, by sort key (a cursor), narrowed as the console narrows, and a lookup in one
        statement; names whose order differs from their ids' (and from their case-folded order).
        """
        tag = uuid.uuid4().hex[:8]
        users = [make_user(f"{tag}-{i}", title=tag) for i in range(3)]
        groups = [make_group(f"{tag} {name}") for name in ("beta", "Alpha", "Gamma", "éclair")]
        with store.transaction() as tx:
            for record in users:
                tx.users.insert(record)
            for group in groups:
                tx.groups.insert(group)
            for group in groups:  # the first user is in every group, the second in two, the third in none
                tx.members.apply(group.id, MemberChange(add=(Member(users[0].id),)))
            for group in groups[1:3]:
                tx.members.apply(group.id, MemberChange(add=(Member(users[1].id),)))
        by_title = parse_filter(USER, f'title eq "{tag}"')
        queries = [
            Query(by_title),
            Query(by_title, offset=1, limit=1),
            Query(by_title, seek=Seek()),
            Query(parse_filter(USER, f'userName eq "{users[0].user_name.upper()}"')),
            Query(parse_filter(USER, f'userName eq "{users[2].user_name}"'), limit=1),
        ]
        with store.read() as tx:
            expected = tx.members.groups_of([u.id for u in users])
            for query in queries + [Query(by_title, seek=Seek(count=False))]:
                for narrowing in ({}, {"prefix": tag}, {"active": True}):
                    page = tx.users.search(query, with_groups=True, **narrowing)  # type: ignore[arg-type]
                    assert page.items, (query, narrowing)
                    assert list(page.related) == [expected[u.id] for u in page.items], (query, narrowing)
                    assert tx.users.search(query, **narrowing).related == ()  # type: ignore[arg-type]
        in_order = [f"{tag} {name}" for name in ("Alpha", "beta", "Gamma", "éclair")]
        assert [g.display_name for g in expected[users[0].id]] == in_order
        for query in queries[3:]:
            with store.read(one_statement=True) as tx:
                page = tx.users.search(query, with_groups=True)
            assert page.total == 1
            assert list(page.related) == [expected[u.id] for u in page.items]

    def test_tokens_are_found_by_hash_and_revoked(self, store: Store) -> None:
        """A token is found by its hash, touched, listed and deleted."""
        user = make_user()
        record = TokenRecord("t1", "hash-1", "ci", None, user.id, user.id, 5, None, None)
        with store.transaction() as tx:
            tx.users.insert(user)
            tx.tokens.insert(record)
            tx.tokens.touch("t1", 9)
        found = store.credential("hash-1")
        assert found is not None and found.last_used == 9
        with store.read() as tx:
            assert [t.id for t in tx.tokens.list(user.id)] == ["t1"]
        with store.transaction() as tx:
            assert tx.tokens.revoke("t1", 11) is True
            assert tx.tokens.revoke("t1", 12) is False
        assert store.credential("hash-1") is None
        with store.read() as tx:
            assert tx.tokens.get("t1") is None
            assert tx.tokens.revocation("t1") == Revocation("t1", user.id, Revoked.BY_REQUEST, 11)
            assert tx.tokens.revocation("t2") is None

    def test_deleting_a_users_tokens_remembers_why(self, store: Store) -> None:
        """``revoke_all_of`` deletes every token acting as the user, remembered as USER_DELETED."""
        user, other = make_user(), make_user()
        with store.transaction() as tx:
            tx.users.insert(user)
            tx.users.insert(other)
            for id, actor in (("t1", user), ("t2", user), ("t3", other)):
                tx.tokens.insert(TokenRecord(id, f"hash-{id}", id, None, actor.id, actor.id, 5, None, None))
            tx.tokens.revoke_all_of(user.id, 20)
        with store.read() as tx:
            assert [t.id for t in tx.tokens.list()] == ["t3"]
            assert [tx.tokens.revocation(id) for id in ("t1", "t2", "t3")] == [
                Revocation("t1", user.id, Revoked.USER_DELETED, 20),
                Revocation("t2", user.id, Revoked.USER_DELETED, 20),
                None,
            ]

    def test_a_credential_is_the_token_its_user_and_every_role_in_one_read(self, store: Store) -> None:
        """credential() gives the token, its actor and the actor's roles, direct and through groups."""
        user, group, other = make_user("holder", active=False), make_group(), make_group()
        record = TokenRecord("t1", "hash-1", "ci", None, user.id, None, 5, 70, 9)
        with store.transaction() as tx:
            tx.users.insert(user)
            for g in (group, other):
                tx.groups.insert(g)
            tx.members.apply(group.id, MemberChange(add=(Member(user.id),)))
            tx.roles.assign("user", user.id, Role.READER)
            tx.roles.assign("group", group.id, Role.ADMIN)
            tx.roles.assign("group", other.id, Role.EDITOR)  # not a group of the user's
            tx.tokens.insert(record)
        found = store.credential("hash-1")
        assert found is not None
        assert (found.token_id, found.expires, found.last_used) == ("t1", 70, 9)
        assert (found.user_id, found.urn, found.user_name, found.active) == (
            user.id,
            user.urn,
            "holder",
            False,
        )
        assert sorted(found.roles) == ["Admin", "Reader"]
        assert store.credential("hash-2") is None
        with store.transaction() as tx:
            tx.tokens.revoke("t1", 11)
        assert store.credential("hash-1") is None

    def test_a_credential_holds_the_roles_of_nested_groups_as_the_grants_do(self, store: Store) -> None:
        """A role of a group two levels up reaches the token's user, as ``grants`` says (ADR 0038)."""
        user, inner, outer, loop = make_user(), make_group(), make_group(), make_group()
        with store.transaction() as tx:
            tx.users.insert(user)
            for g in (inner, outer, loop):
                tx.groups.insert(g)
            tx.members.apply(inner.id, MemberChange(add=(Member(user.id),)))
            tx.members.apply(outer.id, MemberChange(add=(Member(inner.id, "Group"),)))
            tx.members.apply(loop.id, MemberChange(add=(Member(outer.id, "Group"),)))
            tx.members.apply(outer.id, MemberChange(add=(Member(loop.id, "Group"),)))  # a cycle
            tx.roles.assign("group", outer.id, Role.ADMIN)
            tx.roles.assign("group", loop.id, Role.EDITOR)
            tx.tokens.insert(TokenRecord("t1", "hash-1", "ci", None, user.id, None, 5, None, None))
        found = store.credential("hash-1")
        with store.read() as tx:
            granted = {g.role.value for g in tx.roles.grants([user.id])[user.id]}
        assert found is not None and set(found.roles) == granted == {"Admin", "Editor"}

    def test_a_token_outlives_its_owner_but_not_its_actor(self, store: Store) -> None:
        """Deleting the user who created a token keeps it, ownerless; deleting its actor deletes it."""
        actor, owner = make_user(), make_user()
        record = TokenRecord("t1", "hash-1", "entra", None, actor.id, owner.id, 5, None, None)
        with store.transaction() as tx:
            tx.users.insert(actor)
            tx.users.insert(owner)
            tx.tokens.insert(record)
        with store.transaction() as tx:
            tx.users.delete(owner.id)
        with store.read() as tx:
            assert tx.tokens.get("t1") == replace(record, owner_id=None)
        with store.transaction() as tx:
            tx.users.delete(actor.id)
        with store.read() as tx:
            assert tx.tokens.get("t1") is None

    @pytest.mark.parametrize("gone", ["actor", "owner"])
    def test_a_token_whose_user_was_deleted_meanwhile_is_a_conflict_and_nothing_is_stored(
        self, store: Store, gone: str
    ) -> None:
        """Read, then deleted by another transaction before the token went in (PostgreSQL's read
        committed lets that happen): a 409, not the foreign key's error (a 500, found by an
        adversarial run)."""
        actor, owner = make_user(), make_user()
        with store.transaction() as tx:
            tx.users.insert(actor if gone == "owner" else owner)
        missing = make_user().id
        record = TokenRecord(
            "t1",
            "hash-1",
            "entra",
            None,
            missing if gone == "actor" else actor.id,
            missing if gone == "owner" else owner.id,
            5,
            None,
            None,
        )
        with pytest.raises(Conflict, match="deleted meanwhile"), store.transaction() as tx:
            tx.tokens.insert(record)
        with store.read() as tx:
            assert tx.tokens.get("t1") is None

    def test_secrets_are_created_once(self, store: Store) -> None:
        """The first value stored for a secret wins for every later caller."""
        with store.transaction() as tx:
            assert tx.secrets.get_or_create("k", "first") == "first"
        with store.transaction() as tx:
            assert tx.secrets.get_or_create("k", "second") == "first"

    def test_failure_records_are_claimed_empty_put_and_forgotten(self, store: Store) -> None:
        """``claim`` stores a new digest empty, returns a stored one as put; ``forget`` drops it."""
        with store.transaction() as tx:
            assert tx.failures.claim("a" * 64, 10) == FailureRecord("a" * 64, (), 0, 10)
            tx.failures.put(FailureRecord("a" * 64, (5, 10), 0, 910))
            tx.failures.claim("b" * 64, 10)
            tx.failures.put(FailureRecord("b" * 64, (), 700, 700))
        with store.read() as tx:
            assert tx.failures.locked_until(["a" * 64, "b" * 64, "c" * 64]) == 700
            assert tx.failures.locked_until(["a" * 64, "c" * 64]) == 0
        with store.transaction() as tx:
            assert tx.failures.claim("a" * 64, 20) == FailureRecord("a" * 64, (5, 10), 0, 910)
            tx.failures.forget("b" * 64)
        with store.read() as tx:
            assert tx.failures.locked_until(["b" * 64]) == 0

    def test_pruning_deletes_expired_failure_records_in_batches(self, store: Store) -> None:
        """``prune`` deletes records expired at or before ``now``, at most ``batch``, nothing alive."""
        with store.transaction() as tx:
            for index in range(5):
                tx.failures.claim(f"{index:064d}", 0)
                tx.failures.put(FailureRecord(f"{index:064d}", (), 100 * index, 100 * index))
        with store.transaction() as tx:
            assert tx.failures.prune(250, 2) == 2
            assert tx.failures.prune(250, 2) == 1
            assert tx.failures.prune(250, 2) == 0
        with store.read() as tx:
            assert tx.failures.locked_until([f"{index:064d}" for index in range(5)]) == 400

    def test_a_session_unseals_what_it_holds_once(self, store: Store) -> None:
        """``seal`` replaces what a session holds (False: no session); ``unseal`` returns and clears it."""
        user = make_user()
        with store.transaction() as tx:
            tx.users.insert(user)
            tx.sessions.insert(SessionRecord("s" * 64, user.id, "mark", 1, 1))
            assert not tx.sessions.seal("t" * 64, Sealed("blob", 1))
            assert tx.sessions.unseal("s" * 64) is None
            assert tx.sessions.seal("s" * 64, Sealed("old", 1))
            assert tx.sessions.seal("s" * 64, Sealed("new", 2))
        with store.transaction() as tx:
            assert tx.sessions.unseal("s" * 64) == Sealed("new", 2)
            assert tx.sessions.unseal("s" * 64) is None
        with store.read() as tx:
            assert tx.sessions.find("s" * 64) == SessionRecord("s" * 64, user.id, "mark", 1, 1)
