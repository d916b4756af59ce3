"""The discovery documents: ServiceProviderConfig, Schemas and ResourceTypes (RFC 7644 §4).

Every document is computed from the schema table in ``schema.py``, the same table
that input checks, filters, PATCH and projection read, so what ``/Schemas``
announces is what the server enforces. The functions return plain JSON-ready
dicts; which URL the client used, and therefore every ``meta.location``, comes in
through ``DiscoveryConfig.base_location``.

``/Schemas`` publishes the resource schemas (RFC 7643 §8.7.1) and also the three
schemas that describe the discovery documents themselves, whose representation
RFC 7643 §8.7.2 gives; scim2-tester's ``core_schemas_validation`` looks for them
by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scimhub.errors import NotFound
from scimhub.query.schema import RESOURCE_TYPES, SCHEMAS, Attribute, ResourceType, Schema
from scimhub.scim.listing import list_response

SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


@dataclass(frozen=True)
class DiscoveryConfig:
    """What the discovery documents announce that the schema table cannot know."""

    base_location: str
    """The absolute URL of the SCIM base the client called, such as
    ``https://idp.example.com/scim/v2``; every ``meta.location`` is built under it."""
    max_results: int = 200
    """The most resources one query returns (``filter.maxResults``): search's page-size cap."""
    etag_supported: bool = True
    """Whether resources carry ``meta.version`` and writes honour ``If-Match`` (``etag.supported``)."""
    documentation_uri: str | None = None
    """A page for people about this service (``documentationUri``), when there is one."""
    default_page_size: int = 100
    """Resources in a page whose request names no ``count`` (``pagination.defaultPageSize``)."""
    bulk_max_operations: int = 1000
    """The most operations one ``/Bulk`` request may hold (``bulk.maxOperations``); 0: no Bulk."""
    bulk_max_payload_bytes: int = 1_048_576
    """The largest ``/Bulk`` request body (``bulk.maxPayloadSize``)."""
    cursor_timeout_seconds: int = 600
    """How long a paging cursor stays valid (RFC 9865 ``pagination.cursorTimeout``)."""

    def __post_init__(self) -> None:
        for name in ("max_results", "default_page_size", "cursor_timeout_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    def location(self, *segments: str) -> str:
        """Return the absolute URL of ``segments`` under the base, e.g. ``location("Schemas", urn)``.

        Schema URNs go in unquoted: ``:`` is allowed in a path segment (RFC 3986
        §3.3), and RFC 7643 §8.7.1 shows ``/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User``.
        """
        return "/".join((self.base_location.rstrip("/"), *segments))


def _ro(name: str, type_: str = "string", description: str = "", **traits: Any) -> Attribute:
    """Return a read-only attribute: clients never write discovery documents."""
    return Attribute(name, type_, mutability="readOnly", description=description, **traits)


def _feature(name: str, description: str, *limits: Attribute) -> Attribute:
    """Return one of the ``{"supported": bool, …limits}`` complex attributes of RFC 7643 §5."""
    supported = _ro("supported", "boolean", "Whether the feature is supported.", required=True)
    return _ro(name, "complex", description, required=True, sub_attributes=(supported, *limits))


def _reference(name: str, description: str, *types: str, **traits: Any) -> Attribute:
    """Return a read-only reference attribute pointing to ``types``."""
    return _ro(name, "reference", description, reference_types=types, **traits)


SERVICE_PROVIDER_CONFIG_SCHEMA = Schema(
    SERVICE_PROVIDER_CONFIG,
    # RFC 7643 §8.7.2 shows "Service Provider Configuration"; the name is free text and
    # scim2-tester's core_schemas_validation looks for "ServiceProviderConfig".
    "ServiceProviderConfig",
    "Schema for representing the service provider's configuration.",
    (
        _reference("documentationUri", "A URL of the service provider's help documentation.", "external"),
        _feature("patch", "PATCH configuration options."),
        _feature(
            "bulk",
            "Bulk configuration options.",
            _ro("maxOperations", "integer", "The most operations one bulk request may hold.", required=True),
            _ro("maxPayloadSize", "integer", "The largest bulk request body, in bytes.", required=True),
        ),
        _feature(
            "filter",
            "Filter options.",
            _ro("maxResults", "integer", "The most resources one query returns.", required=True),
        ),
        _feature("changePassword", "Password change options."),
        _ro(
            "pagination",
            "complex",
            "Pagination options (RFC 9865 §4).",
            sub_attributes=(
                _ro("cursor", "boolean", "Whether cursor-based pagination is supported.", required=True),
                _ro("index", "boolean", "Whether index-based pagination is supported.", required=True),
                _ro(
                    "defaultPaginationMethod",
                    description="The pagination used when a request names none.",
                    canonical_values=("cursor", "index"),
                ),
                _ro("defaultPageSize", "integer", "Results in a page when the request has no count."),
                _ro("maxPageSize", "integer", "The most results in a page, whatever the count."),
                _ro("cursorTimeout", "integer", "Seconds a cursor stays valid between page requests."),
            ),
        ),
        _feature("sort", "Sort options."),
        # RFC 7643 §5 makes etag REQUIRED, like the other features.
        _feature("etag", "ETag options."),
        _ro(
            "authenticationSchemes",
            "complex",
            "The authentication schemes the service provider supports.",
            multi_valued=True,
            required=True,
            sub_attributes=(
                # "type" and "primary" are in RFC 7643 §5 but missing from §8.7.2
                # (reported erratum 8011).
                _ro(
                    "type",
                    description="The authentication scheme.",
                    required=True,
                    canonical_values=("oauth", "oauth2", "oauthbearertoken", "httpbasic", "httpdigest"),
                ),
                _ro("name", description="The common authentication scheme name.", required=True),
                _ro("description", description="A description of the authentication scheme.", required=True),
                _reference("specUri", "A URL of the authentication scheme's specification.", "external"),
                _reference("documentationUri", "A URL of the scheme's usage documentation.", "external"),
                _ro("primary", "boolean", "Whether this is the preferred authentication scheme."),
            ),
        ),
    ),
)

RESOURCE_TYPE_SCHEMA = Schema(
    RESOURCE_TYPE,
    "ResourceType",
    "Specifies the schema that describes a SCIM resource type.",
    (
        _ro("id", description="The resource type's server-unique id; the same as its name here."),
        _ro("name", description="The resource type name.", required=True),
        _ro("description", description="The resource type's human-readable description."),
        _reference("endpoint", "The endpoint, relative to the base URL.", "uri", required=True),
        _reference("schema", "The URN of the core schema.", "uri", required=True, case_exact=True),
        _ro(
            "schemaExtensions",
            "complex",
            "The schema extensions the resource type may carry.",
            multi_valued=True,
            sub_attributes=(
                _reference("schema", "The URN of an extension.", "uri", required=True, case_exact=True),
                _ro("required", "boolean", "Whether a resource must carry the extension.", required=True),
            ),
        ),
    ),
)

_CHARACTERISTICS = (
    _ro("name", description="The attribute's name.", required=True, case_exact=True),
    _ro(
        "type",
        description="The attribute's data type.",
        required=True,
        canonical_values=("string", "complex", "boolean", "decimal", "integer", "dateTime", "reference")
        + ("binary",),
    ),
    _ro("multiValued", "boolean", "Whether the attribute holds a list of values.", required=True),
    _ro("description", description="The attribute's human-readable description."),
    _ro("required", "boolean", "Whether the attribute must have a value."),
    _ro("canonicalValues", description="Suggested values.", multi_valued=True, case_exact=True),
    _ro("caseExact", "boolean", "Whether string values compare case-sensitively."),
    _ro(
        "mutability",
        description="When the attribute may be written.",
        case_exact=True,
        canonical_values=("readOnly", "readWrite", "immutable", "writeOnly"),
    ),
    _ro(
        "returned",
        description="When the attribute is returned.",
        case_exact=True,
        canonical_values=("always", "never", "default", "request"),
    ),
    _ro(
        "uniqueness",
        description="How the service provider enforces uniqueness.",
        case_exact=True,
        canonical_values=("none", "server", "global"),
    ),
    _ro("referenceTypes", description="The resource types a reference may point to.", multi_valued=True),
)

SCHEMA_SCHEMA = Schema(
    SCHEMA,
    "Schema",
    "Specifies the schema attributes of a SCIM resource or extension.",
    (
        _ro("id", description="The unique URN of the schema.", required=True, case_exact=True),
        _ro("name", description="The schema's human-readable name.", required=True),
        _ro("description", description="The schema's human-readable description."),
        _ro(
            "attributes",
            "complex",
            "The attributes of the schema and their characteristics.",
            multi_valued=True,
            required=True,
            sub_attributes=(
                *_CHARACTERISTICS,
                # One level of sub-attributes is all RFC 7643 §2.3.8 allows.
                _ro(
                    "subAttributes",
                    "complex",
                    "The sub-attributes of a complex attribute.",
                    multi_valued=True,
                    sub_attributes=_CHARACTERISTICS,
                ),
            ),
        ),
    ),
)

PUBLISHED_SCHEMAS: tuple[Schema, ...] = (
    *SCHEMAS,
    SERVICE_PROVIDER_CONFIG_SCHEMA,
    RESOURCE_TYPE_SCHEMA,
    SCHEMA_SCHEMA,
)
"""Every schema ``/Schemas`` lists, resource schemas first."""


def service_provider_config(config: DiscoveryConfig) -> dict[str, Any]:
    """Return the ``/ServiceProviderConfig`` document (RFC 7643 §5, RFC 7644 §4).

    Every feature states all of its sub-attributes, and each states what the
    server does, not what it might one day do: the bulk limits are the ones
    ``/Bulk`` enforces (ADR 0034), and ``pagination`` (RFC 9865 §4) the cursor
    paging the searches serve next to ``startIndex`` (ADR 0035), which stays the
    default.
    """
    scheme: dict[str, Any] = {
        "type": "oauthbearertoken",
        "name": "OAuth Bearer Token",
        "description": (
            "Authentication with a DataHub-format personal access token in the Authorization: Bearer header"
        ),
        "specUri": "https://www.rfc-editor.org/info/rfc6750",
        "primary": True,
    }
    document: dict[str, Any] = {"schemas": [SERVICE_PROVIDER_CONFIG]}
    if config.documentation_uri:
        document["documentationUri"] = config.documentation_uri
        scheme["documentationUri"] = config.documentation_uri
    document.update(
        {
            "patch": {"supported": True},
            "bulk": {
                "supported": config.bulk_max_operations > 0,
                "maxOperations": config.bulk_max_operations,
                "maxPayloadSize": config.bulk_max_payload_bytes,
            },
            "filter": {"supported": True, "maxResults": config.max_results},
            # RFC 7643 §5 asks whether the password can be changed through SCIM, not
            # whether users change their own: PUT and PATCH accept the writeOnly
            # "password" attribute and store its argon2 hash, so the truthful answer
            # is yes. Saying no would make well-behaved clients stop sending it.
            "changePassword": {"supported": True},
            "sort": {"supported": True},
            "etag": {"supported": config.etag_supported},
            "pagination": {
                "cursor": True,
                "index": True,
                # Entra and most clients page by startIndex and never send a cursor (RFC 9865 §2.4).
                "defaultPaginationMethod": "index",
                "defaultPageSize": config.default_page_size,
                "maxPageSize": config.max_results,
                "cursorTimeout": config.cursor_timeout_seconds,
            },
            "authenticationSchemes": [scheme],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": config.location("ServiceProviderConfig"),
            },
        }
    )
    return document


def schema_representation(schema: Schema, location: str) -> dict[str, Any]:
    """Return ``/Schemas/{id}`` for ``schema`` with every attribute characteristic (RFC 7643 §7).

    As in RFC 7643 §8.7.1, the common attributes ``id``, ``externalId`` and
    ``meta`` (§3.1) belong to no schema and are not listed.
    """
    return {
        "schemas": [SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": [_attribute_representation(attribute) for attribute in schema.attributes],
        "meta": {"resourceType": "Schema", "location": location},
    }


def _attribute_representation(attribute: Attribute) -> dict[str, Any]:
    """Return one attribute definition; optional characteristics only when they apply."""
    document: dict[str, Any] = {
        "name": attribute.name,
        "type": attribute.type,
        "multiValued": attribute.multi_valued,
        "description": attribute.description,
        "required": attribute.required,
        "caseExact": attribute.case_exact,
        "mutability": attribute.mutability,
        "returned": attribute.returned,
        "uniqueness": attribute.uniqueness,
    }
    if attribute.canonical_values:
        document["canonicalValues"] = list(attribute.canonical_values)
    if attribute.reference_types:
        document["referenceTypes"] = list(attribute.reference_types)
    if attribute.sub_attributes:
        document["subAttributes"] = [_attribute_representation(sub) for sub in attribute.sub_attributes]
    return document


def resource_type_representation(resource_type: ResourceType, location: str) -> dict[str, Any]:
    """Return ``/ResourceTypes/{id}`` for ``resource_type`` (RFC 7643 §6).

    The id is the name, as RFC 7643 §6 allows. Extensions are optional on every
    resource, so each is declared with ``required: false``.
    """
    document: dict[str, Any] = {
        "schemas": [RESOURCE_TYPE],
        "id": resource_type.name,
        "name": resource_type.name,
        "endpoint": resource_type.endpoint,
        "description": resource_type.description,
        "schema": resource_type.schema.id,
    }
    if resource_type.extensions:
        document["schemaExtensions"] = [
            {"schema": extension.id, "required": False} for extension in resource_type.extensions
        ]
    document["meta"] = {"resourceType": "ResourceType", "location": location}
    return document


def list_schemas(config: DiscoveryConfig, schemas: Iterable[Schema] = PUBLISHED_SCHEMAS) -> dict[str, Any]:
    """Return the ``/Schemas`` ListResponse, every schema in full (RFC 7644 §4).

    The list is short and fixed, so it comes in one page from index 1; paging
    parameters are the handler's to ignore.
    """
    resources = [schema_representation(s, config.location("Schemas", s.id)) for s in schemas]
    return list_response(resources, total=len(resources), start_index=1)


def list_resource_types(
    config: DiscoveryConfig, resource_types: Iterable[ResourceType] = RESOURCE_TYPES
) -> dict[str, Any]:
    """Return the ``/ResourceTypes`` ListResponse, User first (RFC 7644 §4).

    Microsoft's reference Postman tests read ``Resources[0].endpoint`` as ``/Users``.
    """
    resources = [
        resource_type_representation(rt, config.location("ResourceTypes", rt.name)) for rt in resource_types
    ]
    return list_response(resources, total=len(resources), start_index=1)


def find_schema(schema_id: str, schemas: Iterable[Schema] = PUBLISHED_SCHEMAS) -> Schema:
    """Return the published schema whose URN is ``schema_id``, in any case (RFC 7643 §2.1).

    :raises NotFound: When no published schema has that URN.
    """
    schemas = tuple(schemas)
    key = schema_id.lower()
    for schema in schemas:
        if schema.id.lower() == key:
            return schema
    known = ", ".join(schema.id for schema in schemas)
    raise NotFound(f"No schema has the id '{schema_id}'; the schemas of this service are {known}")


def find_resource_type(name: str, resource_types: Iterable[ResourceType] = RESOURCE_TYPES) -> ResourceType:
    """Return the resource type whose id (its name) is ``name``, in any case.

    :raises NotFound: When no resource type has that id.
    """
    resource_types = tuple(resource_types)
    key = name.lower()
    for resource_type in resource_types:
        if resource_type.name.lower() == key:
            return resource_type
    known = ", ".join(rt.name for rt in resource_types)
    raise NotFound(f"No resource type has the id '{name}'; the resource types of this service are {known}")
