"""The SCIM schemas scimhub serves, as data (RFC 7643 §4, §8.7.1).

Every rule that depends on an attribute's characteristics (type, multiValued,
caseExact, mutability, returned, uniqueness) reads them from here: input
canonicalisation, filters, PATCH, projection and ``/Schemas`` all share one table.
Attribute names are matched case-insensitively everywhere (RFC 7643 §2.1).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypedDict, Unpack

from scimhub.domain import text as rules
from scimhub.domain.roles import Role

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass(frozen=True)
class Attribute:
    """One attribute definition (RFC 7643 §7)."""

    name: str
    """The canonical spelling, as returned in responses."""
    type: str = "string"
    """One of string, boolean, decimal, integer, dateTime, reference, binary, complex."""
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    """readOnly, readWrite, immutable or writeOnly."""
    returned: str = "default"
    """always, never, default or request."""
    uniqueness: str = "none"
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()
    description: str = ""
    text: rules.TextRule | None = None
    """The length limits and form of a string value that is indexed (ADR 0021)."""
    _by_key: dict[str, Attribute] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_key.update({sub.name.lower(): sub for sub in self.sub_attributes})

    @property
    def is_complex(self) -> bool:
        """Tell whether the attribute has sub-attributes."""
        return self.type == "complex"

    def sub(self, name: str) -> Attribute | None:
        """Return the sub-attribute called ``name`` in any case, or None."""
        return self._by_key.get(name.lower())


@dataclass(frozen=True)
class Schema:
    """A schema: a URN and its attributes (RFC 7643 §7)."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    _by_key: dict[str, Attribute] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_key.update({attr.name.lower(): attr for attr in self.attributes})

    def attribute(self, name: str) -> Attribute | None:
        """Return the attribute called ``name`` in any case, or None."""
        return self._by_key.get(name.lower())


@dataclass(frozen=True, eq=False)
class ResourceType:
    """A resource type: its endpoint, core schema and extensions (RFC 7643 §6).

    Each is a module constant, compared and hashed by identity: a hash over
    every attribute of its schemas would cost ~10 µs per request.
    """

    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[Schema, ...] = ()

    def schemas(self) -> Iterator[Schema]:
        """Yield the core schema, then each extension."""
        yield self.schema
        yield from self.extensions


class _Traits(TypedDict, total=False):
    """The characteristics ``_string`` and ``_multi`` pass through to ``Attribute`` (RFC 7643 §2.2)."""

    required: bool
    case_exact: bool
    mutability: str
    returned: str
    uniqueness: str
    canonical_values: tuple[str, ...]
    reference_types: tuple[str, ...]


def _string(
    name: str, description: str, rule: rules.TextRule | None = None, **traits: Unpack[_Traits]
) -> Attribute:
    """Return a string attribute; one with a ``rule`` states it in its description (ADR 0021)."""
    if rule is not None:
        description = f"{description} {rule.describe()}"
    return Attribute(name, "string", description=description, text=rule, **traits)


def _multi(
    name: str, description: str, value: Attribute, types: tuple[str, ...], **traits: Unpack[_Traits]
) -> Attribute:
    """Return the usual value/display/type/primary multi-valued complex attribute."""
    return Attribute(
        name,
        "complex",
        multi_valued=True,
        description=description,
        sub_attributes=(
            value,
            _string("display", "A human-readable name, primarily used for display purposes."),
            _string("type", "A label indicating the attribute's function.", canonical_values=types),
            Attribute("primary", "boolean", description="Indicates the primary or preferred value."),
        ),
        **traits,
    )


ID = _string(
    "id",
    "A unique identifier for the resource, assigned by the service provider.",
    case_exact=True,
    mutability="readOnly",
    returned="always",
    uniqueness="server",
)
EXTERNAL_ID = _string(
    "externalId",
    "An identifier for the resource as defined by the client.",
    rules.EXTERNAL_ID,
    case_exact=True,
)
META = Attribute(
    "meta",
    "complex",
    mutability="readOnly",
    description="Resource metadata.",
    sub_attributes=(
        _string("resourceType", "The name of the resource type.", case_exact=True, mutability="readOnly"),
        Attribute("created", "dateTime", mutability="readOnly", description="When the resource was added."),
        Attribute("lastModified", "dateTime", mutability="readOnly", description="When it last changed."),
        Attribute(
            "location",
            "reference",
            case_exact=True,
            mutability="readOnly",
            reference_types=("uri",),
            description="The URI of the resource.",
        ),
        _string("version", "The version (ETag) of the resource.", case_exact=True, mutability="readOnly"),
    ),
)
COMMON = (ID, EXTERNAL_ID, META)
"""Attributes every resource has (RFC 7643 §3.1); they belong to no schema's list."""
COMMON_BY_KEY = {attribute.name.lower(): attribute for attribute in COMMON}
"""The common attributes by lower-cased name: how a name in any case finds one."""

_NAME = Attribute(
    "name",
    "complex",
    description="The components of the user's real name.",
    sub_attributes=tuple(
        _string(n, d)
        for n, d in (
            ("formatted", "The full name, formatted for display."),
            ("familyName", "The family name, or last name."),
            ("givenName", "The given name, or first name."),
            ("middleName", "The middle name(s)."),
            ("honorificPrefix", "The honorific prefix(es), or title."),
            ("honorificSuffix", "The honorific suffix(es)."),
        )
    ),
)

USER_SCHEMA = Schema(
    CORE_USER,
    "User",
    "User Account",
    (
        _string(
            "userName", "Unique identifier for the User.", rules.NAME, required=True, uniqueness="server"
        ),
        _NAME,
        _string(
            "displayName", "The name of the User, suitable for display to end-users.", rules.DISPLAY_NAME
        ),
        _string("nickName", "The casual way to address the user."),
        Attribute(
            "profileUrl",
            "reference",
            reference_types=("external",),
            description="A fully qualified URL pointing to the user's online profile.",
        ),
        _string("title", "The user's title, such as 'Vice President'."),
        _string("userType", "Identifies the relationship between the organization and the user."),
        _string("preferredLanguage", "The user's preferred written or spoken language."),
        _string("locale", "The user's default location for localisation."),
        _string("timezone", "The user's time zone in IANA Time Zone database format."),
        Attribute("active", "boolean", description="The user's administrative status."),
        _string(
            "password",
            "The user's cleartext password, never returned.",
            mutability="writeOnly",
            returned="never",
        ),
        _multi(
            "emails",
            "Email addresses for the user.",
            _string("value", "An email address, canonicalised per RFC 5321.", rules.EMAIL),
            ("work", "home", "other"),
        ),
        _multi(
            "phoneNumbers",
            "Phone numbers for the user.",
            _string("value", "A phone number, as sent."),
            ("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _multi(
            "ims",
            "Instant messaging addresses for the user.",
            _string("value", "An instant messaging address."),
            ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        ),
        _multi(
            "photos",
            "URLs of images of the user.",
            Attribute("value", "reference", reference_types=("external",), description="The URL of a photo."),
            ("photo", "thumbnail"),
        ),
        Attribute(
            "addresses",
            "complex",
            multi_valued=True,
            description="A physical mailing address for this user.",
            sub_attributes=(
                _string("formatted", "The full mailing address, formatted for display."),
                _string("streetAddress", "The full street address component."),
                _string("locality", "The city or locality component."),
                _string("region", "The state or region component."),
                _string("postalCode", "The zip code or postal code component."),
                _string("country", "The country name component."),
                _string(
                    "type",
                    "A label indicating the attribute's function.",
                    canonical_values=("work", "home", "other"),
                ),
                Attribute("primary", "boolean", description="Indicates the primary mailing address."),
            ),
        ),
        Attribute(
            "groups",
            "complex",
            multi_valued=True,
            mutability="readOnly",
            description="The groups the user belongs to, maintained through the Group resource.",
            sub_attributes=(
                _string("value", "The identifier of the group.", mutability="readOnly"),
                Attribute(
                    "$ref",
                    "reference",
                    mutability="readOnly",
                    reference_types=("User", "Group"),
                    description="The URI of the group.",
                ),
                _string("display", "A human-readable name of the group.", mutability="readOnly"),
                _string(
                    "type",
                    "How the membership was derived.",
                    mutability="readOnly",
                    canonical_values=("direct", "indirect"),
                ),
            ),
        ),
        _multi(
            "entitlements", "A list of entitlements for the user.", _string("value", "An entitlement."), ()
        ),
        _multi(
            "roles",
            "A list of roles for the user.",
            # The server accepts DataHub's roles only (domain/roles.py); canonicalValues
            # (RFC 7643 §7) is how /Schemas tells clients which values those are.
            _string("value", "A role: Admin, Editor or Reader.", canonical_values=tuple(map(str, Role))),
            (),
        ),
        _multi(
            "x509Certificates",
            "A list of certificates issued to the user.",
            Attribute("value", "binary", description="The DER-encoded certificate, base64."),
            (),
        ),
    ),
)

ENTERPRISE_USER_SCHEMA = Schema(
    ENTERPRISE_USER,
    "EnterpriseUser",
    "Enterprise User",
    (
        _string("employeeNumber", "A numeric or alphanumeric identifier assigned to a person."),
        _string("costCenter", "Identifies the name of a cost center."),
        _string("organization", "Identifies the name of an organization."),
        _string("division", "Identifies the name of a division."),
        _string("department", "Identifies the name of a department."),
        Attribute(
            "manager",
            "complex",
            description="The user's manager.",
            sub_attributes=(
                _string("value", "The id of the SCIM resource representing the user's manager."),
                Attribute(
                    "$ref",
                    "reference",
                    reference_types=("User",),
                    description="The URI of the manager's SCIM resource.",
                ),
                _string("displayName", "The displayName of the user's manager.", mutability="readOnly"),
            ),
        ),
    ),
)

GROUP_SCHEMA = Schema(
    CORE_GROUP,
    "Group",
    "Group",
    (
        _string(
            "displayName",
            "A human-readable name for the Group.",
            rules.NAME,
            required=True,
            uniqueness="server",
        ),
        Attribute(
            "members",
            "complex",
            multi_valued=True,
            description="A list of members of the Group.",
            sub_attributes=(
                _string("value", "The identifier of the member.", mutability="immutable"),
                Attribute(
                    "$ref",
                    "reference",
                    mutability="immutable",
                    reference_types=("User", "Group"),
                    description="The URI of the member's resource.",
                ),
                _string("display", "A human-readable name of the member."),
                _string(
                    "type",
                    "The type of the member.",
                    mutability="immutable",
                    canonical_values=("User", "Group"),
                ),
            ),
        ),
    ),
)

USER = ResourceType("User", "/Users", "User Account", USER_SCHEMA, (ENTERPRISE_USER_SCHEMA,))
GROUP = ResourceType("Group", "/Groups", "Group", GROUP_SCHEMA)
RESOURCE_TYPES = (USER, GROUP)
SCHEMAS = (USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA)
