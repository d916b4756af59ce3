from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_models import ListResponse, ScimProvider
from scim2_models import ResourceType as ScimResourceType
from scim2_models import Schema as ScimSchema
from scim2_models import ServiceProviderConfig as ScimServiceProviderConfig
from scim2_tester import Status, check_server
from scim2_tester.checkers import core_schemas_validation
from scim2_tester.utils import CheckConfig, CheckContext

from scimhub.domain.roles import Role
from scimhub.errors import NotFound
from scimhub.query.schema import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    ERROR,
    GROUP,
    GROUP_SCHEMA,
    ID,
    USER,
    USER_SCHEMA,
    Attribute,
)
from scimhub.scim.discovery import (
    PUBLISHED_SCHEMAS,
    SERVICE_PROVIDER_CONFIG_SCHEMA,
    DiscoveryConfig,
    find_resource_type,
    find_schema,
    list_resource_types,
    list_schemas,
    resource_type_representation,
    schema_representation,
    service_provider_config,
)

BASE = "https://idp.example.com/scim/v2"
CONFIG = DiscoveryConfig(base_location=BASE, max_results=150)
CHARACTERISTICS = (
    "name",
    "type",
    "multiValued",
    "description",
    "required",
    "caseExact",
    "mutability",
    "returned",
    "uniqueness",
)


def _user_attribute(path: str) -> dict[str, Any]:
    """Return an attribute definition from the /Schemas User document, by ``name`` or ``name.sub``."""
    document = schema_representation(USER_SCHEMA, f"{BASE}/Schemas/{CORE_USER}")
    return _find(document["attributes"], path)


def _find(attributes: list[dict[str, Any]], path: str) -> dict[str, Any]:
    head, _, rest = path.partition(".")
    found = next(a for a in attributes if a["name"] == head)
    return _find(found["subAttributes"], rest) if rest else found


def _walk(attributes: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for attribute in attributes:
        yield attribute
        yield from _walk(attribute.get("subAttributes", []))


# ServiceProviderConfig


def test_service_provider_config_validates_with_scim2_models() -> None:
    """The /ServiceProviderConfig document parses as scim2-models' ServiceProviderConfig."""
    parsed = ScimServiceProviderConfig.model_validate(service_provider_config(CONFIG))

    assert parsed.patch is not None and parsed.patch.supported is True
    assert parsed.filter is not None and parsed.filter.max_results == 150
    assert parsed.bulk is not None and parsed.bulk.supported is True and parsed.bulk.max_operations == 1000
    pagination = parsed.pagination
    assert pagination is not None and pagination.cursor is True and pagination.index is True
    assert pagination.max_page_size == 150 and pagination.cursor_timeout == 600


def test_service_provider_config_states_every_sub_attribute_truthfully() -> None:
    """Each feature of RFC 7643 §5 states all of its sub-attributes, with what the server does."""
    document = service_provider_config(CONFIG)

    assert document["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert document["patch"] == {"supported": True}
    assert document["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1_048_576}
    assert document["filter"] == {"supported": True, "maxResults": 150}
    assert document["pagination"] == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 100,
        "maxPageSize": 150,
        "cursorTimeout": 600,
    }
    assert document["changePassword"] == {"supported": True}
    assert document["sort"] == {"supported": True}
    assert document["etag"] == {"supported": True}
    assert document["authenticationSchemes"] == [
        {
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a DataHub-format personal access token"
            " in the Authorization: Bearer header",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": True,
        }
    ]
    assert document["meta"] == {
        "resourceType": "ServiceProviderConfig",
        "location": f"{BASE}/ServiceProviderConfig",
    }


def test_service_provider_config_covers_its_own_schema() -> None:
    """Every attribute and sub-attribute the ServiceProviderConfig schema defines is present,
    except the optional documentation URLs when none is configured."""
    document = service_provider_config(CONFIG)
    optional = {"documentationUri"}

    for attribute in SERVICE_PROVIDER_CONFIG_SCHEMA.attributes:
        if attribute.name in optional:
            assert attribute.name not in document
            continue
        value = document[attribute.name]
        for element in value if attribute.multi_valued else [value]:
            assert {sub.name for sub in attribute.sub_attributes} - optional <= set(element)


def test_documentation_uri_is_published_when_configured() -> None:
    """A configured documentation URL appears at the top and on the authentication scheme."""
    config = DiscoveryConfig(BASE, documentation_uri="https://docs.example.com/scim")

    document = service_provider_config(config)

    assert document["documentationUri"] == "https://docs.example.com/scim"
    assert document["authenticationSchemes"][0]["documentationUri"] == "https://docs.example.com/scim"
    ScimServiceProviderConfig.model_validate(document)


def test_etag_support_follows_the_configuration() -> None:
    """``etag.supported`` says what the configuration says."""
    document = service_provider_config(DiscoveryConfig(BASE, etag_supported=False))

    assert document["etag"] == {"supported": False}


def test_bulk_and_pagination_follow_the_configuration() -> None:
    """The bulk limits and the cursor timeout advertised are the configured ones; 0 operations is no Bulk."""
    config = DiscoveryConfig(
        BASE,
        default_page_size=25,
        bulk_max_operations=0,
        bulk_max_payload_bytes=4096,
        cursor_timeout_seconds=60,
    )

    document = service_provider_config(config)

    assert document["bulk"] == {"supported": False, "maxOperations": 0, "maxPayloadSize": 4096}
    assert document["pagination"]["defaultPageSize"] == 25
    assert document["pagination"]["cursorTimeout"] == 60


@pytest.mark.parametrize("name", ["max_results", "default_page_size", "cursor_timeout_seconds"])
def test_discovery_config_rejects_a_size_or_timeout_below_one(name: str) -> None:
    """A page cap, default page size or cursor timeout below 1 would announce something unusable."""
    with pytest.raises(ValueError, match=name):
        DiscoveryConfig(BASE, **{name: 0})  # type: ignore[arg-type]


def test_locations_ignore_a_trailing_slash_and_keep_urns_unquoted() -> None:
    """``location`` joins segments under the base once, with the URN as RFC 7644 §4 shows it."""
    config = DiscoveryConfig(BASE + "/")

    assert config.location("Schemas", CORE_USER) == f"{BASE}/Schemas/{CORE_USER}"


# Schemas


def test_every_published_schema_validates_with_scim2_models() -> None:
    """/Schemas is a ListResponse of schemas that scim2-models parses, one per published schema."""
    document = list_schemas(CONFIG)

    parsed = ListResponse[ScimSchema].model_validate(document)

    assert parsed.total_results == len(PUBLISHED_SCHEMAS) == document["itemsPerPage"]
    assert document["startIndex"] == 1
    assert [s.id for s in parsed.resources or []] == [s.id for s in PUBLISHED_SCHEMAS]
    for resource in document["Resources"]:
        ScimSchema.model_validate(resource)


def test_schema_representation_has_id_name_and_meta() -> None:
    """/Schemas/{id} carries the Schema schema URN, its id, name, description and meta (RFC 7643 §7)."""
    document = schema_representation(GROUP_SCHEMA, f"{BASE}/Schemas/{CORE_GROUP}")

    assert document["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Schema"]
    assert (document["id"], document["name"], document["description"]) == (CORE_GROUP, "Group", "Group")
    assert document["meta"] == {"resourceType": "Schema", "location": f"{BASE}/Schemas/{CORE_GROUP}"}


def test_every_attribute_states_every_characteristic() -> None:
    """Every attribute and sub-attribute of every schema states the nine characteristics of RFC 7643 §7,
    subAttributes exactly when complex and referenceTypes for every reference."""
    for resource in list_schemas(CONFIG)["Resources"]:
        for attribute in _walk(resource["attributes"]):
            assert set(CHARACTERISTICS) <= set(attribute), attribute["name"]
            assert ("subAttributes" in attribute) == (attribute["type"] == "complex"), attribute["name"]
            if attribute["type"] == "reference":
                assert attribute["referenceTypes"], attribute["name"]


def test_schema_documents_mirror_the_schema_table() -> None:
    """What /Schemas announces is what schema.py says, attribute by attribute, once parsed by scim2-models."""

    def compare(ours: Iterable[Attribute], theirs: Iterable[Any]) -> None:
        for mine, parsed in zip(ours, theirs, strict=True):
            assert parsed.name == mine.name
            assert parsed.type.value == mine.type
            assert parsed.multi_valued is mine.multi_valued
            assert parsed.required.value is mine.required
            assert parsed.case_exact.value is mine.case_exact
            assert parsed.mutability.value == mine.mutability
            assert parsed.returned.value == mine.returned
            assert parsed.uniqueness.value == mine.uniqueness
            assert tuple(parsed.canonical_values or ()) == mine.canonical_values
            assert tuple(parsed.reference_types or ()) == mine.reference_types
            compare(mine.sub_attributes, parsed.sub_attributes or [])

    for schema in PUBLISHED_SCHEMAS:
        parsed = ScimSchema.model_validate(schema_representation(schema, f"{BASE}/Schemas/{schema.id}"))
        compare(schema.attributes, parsed.attributes or [])


def test_user_name_is_required_case_insensitive_and_unique() -> None:
    """userName: required, caseExact false, uniqueness server (RFC 7643 §8.7.1)."""
    attribute = _user_attribute("userName")

    assert (attribute["required"], attribute["caseExact"], attribute["uniqueness"]) == (True, False, "server")


def test_password_is_write_only_and_never_returned() -> None:
    """password: mutability writeOnly, returned never (RFC 7643 §8.7.1)."""
    attribute = _user_attribute("password")

    assert (attribute["mutability"], attribute["returned"]) == ("writeOnly", "never")


def test_groups_are_read_only_down_to_their_sub_attributes() -> None:
    """User groups: readOnly, and so is each sub-attribute (RFC 7643 §8.7.1)."""
    attribute = _user_attribute("groups")

    assert attribute["mutability"] == "readOnly"
    assert {sub["mutability"] for sub in attribute["subAttributes"]} == {"readOnly"}


def test_member_value_is_immutable() -> None:
    """Group members.value: mutability immutable (RFC 7643 §8.7.1)."""
    document = schema_representation(GROUP_SCHEMA, f"{BASE}/Schemas/{CORE_GROUP}")

    assert _find(document["attributes"], "members.value")["mutability"] == "immutable"


def test_canonical_values_and_reference_types_are_published() -> None:
    """emails.type lists its canonical values; profileUrl its reference types (RFC 7643 §8.7.1)."""
    assert _user_attribute("emails.type")["canonicalValues"] == ["work", "home", "other"]
    assert _user_attribute("profileUrl")["referenceTypes"] == ["external"]
    assert "canonicalValues" not in _user_attribute("userName")


def test_roles_publish_the_only_values_the_server_accepts() -> None:
    """roles.value lists DataHub's roles as canonicalValues: /Schemas announces the closed set
    that writing a user enforces (RFC 7643 §7), so a client can pick a value that is accepted."""
    assert _user_attribute("roles.value")["canonicalValues"] == [role.value for role in Role]


def test_common_attributes_belong_to_no_schema() -> None:
    """id, externalId and meta are not listed in the User schema (RFC 7643 §3.1, §8.7.1);
    id is returned always, which projection reads from the common-attribute table."""
    names = {a["name"] for a in schema_representation(USER_SCHEMA, "")["attributes"]}

    assert not names & {"id", "externalId", "meta"}
    assert ID.returned == "always"


def test_discovery_schemas_are_published_under_the_names_scim2_tester_expects() -> None:
    """/Schemas includes the ServiceProviderConfig, ResourceType and Schema schemas (RFC 7643 §8.7.2)."""
    names = {resource["name"] for resource in list_schemas(CONFIG)["Resources"]}

    assert {"User", "EnterpriseUser", "Group", "ServiceProviderConfig", "ResourceType", "Schema"} == names


def test_microsoft_reference_tests_find_user_account() -> None:
    """Microsoft's Postman collection asserts that /Schemas contains "User Account"."""
    assert "User Account" in json.dumps(list_schemas(CONFIG))


# ResourceTypes


def test_user_resource_type_declares_the_optional_enterprise_extension() -> None:
    """User: id and name User, endpoint /Users, core schema, optional enterprise extension (RFC 7643 §6)."""
    document = resource_type_representation(USER, f"{BASE}/ResourceTypes/User")

    assert document == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": CORE_USER,
        "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": False}],
        "meta": {"resourceType": "ResourceType", "location": f"{BASE}/ResourceTypes/User"},
    }
    ScimResourceType.model_validate(document)


def test_group_resource_type_has_no_extensions() -> None:
    """Group declares no schemaExtensions rather than an empty list (unassigned is absent)."""
    document = resource_type_representation(GROUP, f"{BASE}/ResourceTypes/Group")

    assert "schemaExtensions" not in document
    assert document["endpoint"] == "/Groups"


def test_resource_types_list_users_first() -> None:
    """/ResourceTypes lists User first: Microsoft's tests read ``Resources[0].endpoint == "/Users"``."""
    document = list_resource_types(CONFIG)

    parsed = ListResponse[ScimResourceType].model_validate(document)

    assert [r.endpoint for r in parsed.resources or []] == ["/Users", "/Groups"]
    assert document["Resources"][1]["meta"]["location"] == f"{BASE}/ResourceTypes/Group"


def test_scim2_models_composes_the_served_models_from_discovery() -> None:
    """scim2-models (as scim2-tester does) builds User[EnterpriseUser] and Group from our documents."""
    schemas = [ScimSchema.model_validate(r) for r in list_schemas(CONFIG)["Resources"]]
    resource_types = [ScimResourceType.model_validate(r) for r in list_resource_types(CONFIG)["Resources"]]

    provider = ScimProvider.from_discovery(schemas, resource_types)

    user = provider.model_for("User")
    assert user is not None and "EnterpriseUser" in user.__name__
    assert provider.model_for("Group") is not None


# Lookups


def test_find_schema_ignores_case() -> None:
    """A schema URN is found in any case (RFC 7643 §2.1 makes URNs case-insensitive here)."""
    assert find_schema(ENTERPRISE_USER.upper()).id == ENTERPRISE_USER


def test_find_schema_names_the_missing_id() -> None:
    """An unknown schema id is NotFound, and the detail names it and the known ones."""
    with pytest.raises(NotFound) as caught:
        find_schema("urn:example:Pet")

    assert "'urn:example:Pet'" in caught.value.detail
    assert CORE_USER in caught.value.detail


def test_find_resource_type_by_id_in_any_case() -> None:
    """A resource type is found by its id (its name) in any case."""
    assert find_resource_type("group") is GROUP


def test_find_resource_type_names_the_missing_id() -> None:
    """An unknown resource type id is NotFound, and the detail lists User and Group."""
    with pytest.raises(NotFound, match="'Users'.*User, Group"):
        find_resource_type("Users")


# scim2-tester, against a WSGI app that serves only the discovery documents


def _discovery_app(config: DiscoveryConfig) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ["PATH_INFO"].removeprefix("/scim/v2").rstrip("/")
        status, body, headers = 200, None, [("Content-Type", "application/scim+json")]
        try:
            if environ["REQUEST_METHOD"] != "GET":
                status, body = 405, _error(405, "Only GET is allowed here")
                headers.append(("Allow", "GET"))
            elif path == "/ServiceProviderConfig":
                body = service_provider_config(config)
            elif path == "/Schemas":
                body = list_schemas(config)
            elif path.startswith("/Schemas/"):
                schema = find_schema(path.removeprefix("/Schemas/"))
                body = schema_representation(schema, config.location("Schemas", schema.id))
            elif path == "/ResourceTypes":
                body = list_resource_types(config)
            elif path.startswith("/ResourceTypes/"):
                found = find_resource_type(path.removeprefix("/ResourceTypes/"))
                body = resource_type_representation(found, config.location("ResourceTypes", found.name))
            else:
                status, body = 404, _error(404, f"No endpoint at {path}")
        except NotFound as error:
            status, body = 404, _error(404, error.detail)
        start_response(f"{status} {'OK' if status == 200 else 'Error'}", headers)
        return [json.dumps(body).encode()]

    return app


def _error(status: int, detail: str) -> dict[str, Any]:
    return {"schemas": [ERROR], "status": str(status), "detail": detail}


def test_scim2_tester_discovery_checks_pass() -> None:
    """scim2-tester's discovery checks (SPC, ResourceTypes, Schemas, by id, unknown ids, methods) all pass."""
    config = DiscoveryConfig("http://localhost/scim/v2")
    client = WSGISCIMClient(_discovery_app(config), base_url=config.base_location)

    results = check_server(client, include_tags={"discovery"})
    results += core_schemas_validation(CheckContext(client, CheckConfig()))

    failures = [(r.title, r.reason) for r in results if r.status == Status.ERROR]
    assert not failures
    assert sum(r.status == Status.SUCCESS for r in results) >= 15


_NAME_LIMIT = "At most 256 characters and 800 bytes of UTF-8; stored and compared in Unicode NFC"


@pytest.mark.parametrize(
    ("schema_id", "path", "limit"),
    [
        (CORE_USER, ("userName",), _NAME_LIMIT),
        (CORE_USER, ("emails", "value"), "At most 320 characters."),
        (CORE_GROUP, ("displayName",), _NAME_LIMIT),
    ],
)
def test_schemas_state_indexed_string_limits(schema_id: str, path: tuple[str, ...], limit: str) -> None:
    """/Schemas states an indexed string's limits in its description (ADR 0021): RFC 7643 §7 has no field."""
    served = schema_representation(find_schema(schema_id), f"{BASE}/Schemas/{schema_id}")
    attributes = served["attributes"]
    for name in path:
        found = next(a for a in attributes if a["name"] == name)
        attributes = found.get("subAttributes", [])
    assert limit in found["description"]
