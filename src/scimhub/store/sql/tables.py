"""The database schema, in SQLAlchemy Core (ADR 0002: Core, not the ORM).

Resources keep every attribute the client sent in ``doc``, a JSON document in
canonical SCIM form (ADR 0004), so a GET returns exactly what was written. The
attributes clients search and sort by are also kept in indexed columns, and the
ones that need case-insensitive uniqueness have a ``*_key`` column holding the
lower-cased value under a unique index: the database, not a read-then-write,
refuses the second ``bjensen``. Times are integer microseconds since the epoch,
which compare and index the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.exc import DBAPIError

from scimhub.domain.groups import group_urn
from scimhub.domain.users import user_urn

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def violated(error: DBAPIError) -> str:
    """Return what names the constraint ``error`` violated.

    On PostgreSQL its name, which the server gives apart from its message (the message quotes the
    values, and a URN may hold a column's name); on SQLite the message, which names the table's
    column (never the value) or says "FOREIGN KEY".
    """
    return getattr(getattr(error.orig, "diag", None), "constraint_name", None) or str(error.orig)


Document = JSON().with_variant(JSONB(), "postgresql")
"""JSON text on SQLite, JSONB on PostgreSQL (indexable, and compared by value)."""

ID = String(36)
Micros = BigInteger
"""Microseconds since 1970-01-01T00:00:00Z."""
CodePointText = Text().with_variant(Text(collation="C"), "postgresql")
"""Text that orders by code point on both engines, so ``sortBy`` can read its index in order
(SQLite's default collation, BINARY, already does). The unique index on such a key also
carries the id on PostgreSQL, so a deep page finds its ids from the index alone."""


def _urn_of_new_user(context: DefaultExecutionContext) -> str:
    """Return the URN of the userName an inserted row carries, for inserts that name none (ADR 0008)."""
    return user_urn(context.get_current_parameters()["user_name"])


def _urn_of_new_group(context: DefaultExecutionContext) -> str:
    """Return the URN of the displayName an inserted row carries, for inserts that name none (ADR 0037)."""
    return group_urn(context.get_current_parameters()["display_name"])


users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_name", Text, nullable=False),
    Column("user_name_key", CodePointText, nullable=False),
    Column("urn", Text, nullable=False, unique=True, default=_urn_of_new_user),
    Column("external_id", Text),
    Column("display_name", Text),
    Column("display_name_key", CodePointText),
    Column("active", Boolean, nullable=False),
    Column("doc", Document, nullable=False),
    Column("password_hash", Text),
    Column("version", Integer, nullable=False),
    Column("created", Micros, nullable=False),
    Column("last_modified", Micros, nullable=False),
    Index(None, "external_id"),
    Index(None, "created"),
    Index(None, "last_modified"),
    Index(None, "active"),  # the console counts and lists suspended users of a million by index
    Index(None, "display_name_key"),  # the console finds users by a prefix of their displayName
    UniqueConstraint("user_name_key", postgresql_include=["id"]),
)
"""Users. ``urn`` is the DataHub URN made when the user was created and kept through
renames (ADR 0008); unique, since two users can never be one DataHub entity.
``display_name_key`` is the folded displayName, for the console's prefix search."""

user_emails = Table(
    "user_emails",
    metadata,
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("value_key", Text, nullable=False),
    Column("type_key", Text),
    Index(None, "value_key"),
    Index(None, "user_id"),
)
"""One row per email, lower-cased, so ``emails[type eq "work"].value eq …`` uses an index."""

groups = Table(
    "groups",
    metadata,
    Column("id", ID, primary_key=True),
    Column("display_name", Text, nullable=False),
    Column("display_name_key", CodePointText, nullable=False),
    Column("urn", Text, nullable=False, unique=True, default=_urn_of_new_group),
    Column("external_id", Text),
    Column("doc", Document, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created", Micros, nullable=False),
    Column("last_modified", Micros, nullable=False),
    Index(None, "external_id"),
    Index(None, "created"),
    Index(None, "last_modified"),
    UniqueConstraint("display_name_key", postgresql_include=["id"]),
)
"""Groups. ``urn`` is the DataHub URN made when the group was created and kept through
renames (ADR 0037), as a user's is (ADR 0008)."""

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", ID, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ID, primary_key=True),
    Column("member_type", String(8), nullable=False),
    Column("display", Text),
    Column("member_created", Micros),  # the member user's ``created``, never changed; NULL for a group
    Index(None, "member_id"),
    # A group's member users newest or oldest first: a page of a role's holders by creation (ADR 0052).
    Index(None, "group_id", "member_created", "member_id"),
    # The groups nested in a group, without its member users: the walk down a role's groups (ADR 0045).
    Index(
        "ix_group_members_nested",
        "group_id",
        "member_id",
        sqlite_where=text("member_type = 'Group'"),
        postgresql_where=text("member_type = 'Group'"),
    ),
)
"""Membership as rows: one member added or removed is one row, whatever the group's size."""

GROUP_MEMBER: ColumnElement[str] = literal_column("'Group'")
"""``member_type`` of a group nested in a group, in the SQL text rather than a parameter: only then
may a planner read ``ix_group_members_nested`` alone, or know how few rows the walks between groups
meet (ADR 0045, ADR 0051)."""

user_roles = Table(
    "user_roles",
    metadata,
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), primary_key=True),
    Column("source", String(16), primary_key=True),
    Column("user_created", Micros),  # the user's ``created``, never changed, as ``member_created``
    Index(None, "role", "user_id"),  # a role's holders by id: one range a page (ADR 0045)
    Index(None, "role", "user_created", "user_id"),  # a role's direct holders by creation (ADR 0052)
)
"""A user's direct roles: ``provisioned`` (mirrored from the SCIM ``roles`` attribute on
every write, like ``user_emails``) or ``assigned`` (by an administrator, API or CLI)."""

group_roles = Table(
    "group_roles",
    metadata,
    Column("group_id", ID, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), primary_key=True),
    Index(None, "role", "group_id"),
)
"""Roles an administrator gave a group; every member holds them (DataHub's rolesViaGroups)."""

tokens = Table(
    "tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("hash", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("actor_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("owner_id", ID, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created", Micros, nullable=False),
    Column("expires", Micros),
    Column("last_used", Micros),
    Index(None, "actor_id"),
    Index(None, "owner_id"),
)
"""Personal access tokens, kept only as a salted hash (ADR 0005). Deleting the token's
user (``actor_id``) deletes the token; deleting the user who created it (``owner_id``)
only forgets who did: Entra's token outlives the administrator who made it."""

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("password_mark", String(64), nullable=False),
    Column("created", Micros, nullable=False),
    Column("last_seen", Micros, nullable=False),
    Column("sealed", Text, nullable=True),
    Column("sealed_at", Micros, nullable=True),
    Index(None, "user_id"),
    Index(None, "last_seen"),
)
"""Console sessions (ADR 0030), kept as the sha256 of the cookie's secret; deleting the user ends them.
``sealed`` is a new token XORed with a pad only the browser holds, until its one reveal (ADR 0048)."""

sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("failures", Text, nullable=False),
    Column("locked_until", Micros, nullable=False),
    Column("expires", Micros, nullable=False),
    Index(None, "expires"),
)
"""Recent sign-in failures per user name and per address (ADR 0048), keyed by the sha256 of the key;
``failures`` the times within the window, space-separated microseconds."""

password_resets = Table(
    "password_resets",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created", Micros, nullable=False),
    Column("expires", Micros, nullable=False),
    Index(None, "user_id"),
)
"""One-time password-reset links (ADR 0033), kept as the sha256 of the link's secret."""

server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
"""Generated-once secrets (token signing key, hash salt) that every process must share."""

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    # No foreign key: a deleted user's tokens are remembered after the user is gone.
    Column("actor_id", ID, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("revoked", Micros, nullable=False),
)
"""Revoked tokens, by id only (never the hash): a later refusal or second revoke can say why."""

events = Table(
    "events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("entity_type", String(32), nullable=False),
    Column("entity_urn", Text, nullable=False),
    Column("category", String(32), nullable=False),
    Column("operation", String(32), nullable=False),
    Column("modifier", Text),
    Column("parameters", Document),
    Column("actor", Text, nullable=False),
    Column("time", Micros, nullable=False),
    Index(None, "entity_urn", "seq"),
    Index(None, "actor", "seq"),
    Index(None, "time"),
    sqlite_autoincrement=True,
)
"""The change outbox: each write appends its events in the same transaction (ADR 0006).

``seq`` is the feed's order (ADR 0011): on PostgreSQL a sequence read under the
commit-order lock, on SQLite ``AUTOINCREMENT``, so a number is never handed out
twice, even after pruning deleted every row that had it."""

event_feed = Table(
    "event_feed",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("stream", String(32), nullable=False),
    Column("pruned_through", BigInteger, nullable=False),
)
"""The feed's one row: the id every offset carries (an offset of another database is
refused) and the highest ``seq`` pruning has deleted (an offset below it is refused)."""

datahub_push_state = Table(
    "datahub_push_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("leader", Text),
    Column("lease_until", Micros),
    Column("last_success", Micros),
    Column("last_error", Text),
    Column("last_error_at", Micros),
    Column("failures", Integer, nullable=False),
    Column("halted", Boolean, nullable=False),
)
"""Where the push to DataHub stands (ADR 0013): its checkpoint in the outbox (``last_seq``),
the process that holds the lease to push (``leader`` until ``lease_until``), and how it went."""

datahub_pushed_entities = Table(
    "datahub_pushed_entities",
    metadata,
    Column("urn", Text, primary_key=True),
    Column("entity_type", String(32), nullable=False),
    Column("scim_id", ID, nullable=False),
    Column("pushed_at", Micros, nullable=False),
    Index(None, "scim_id"),
)
"""Every user and group the push wrote into DataHub and has not deleted there, with the SCIM id
it had: a group renamed or deleted since is found here, and so are the users to rewrite."""

datahub_pushed_memberships = Table(
    "datahub_pushed_memberships",
    metadata,
    Column(
        "user_urn",
        Text,
        ForeignKey("datahub_pushed_entities.urn", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("group_urn", Text, primary_key=True),
    Index(None, "group_urn"),
)
"""The ``groupMembership`` each user last got in DataHub, one row per group: the members DataHub
lists for a group that is gone from scimhub, whose lists must be rewritten without it."""
