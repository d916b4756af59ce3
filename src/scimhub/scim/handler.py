"""``ScimHandler``: one short method per SCIM operation, chaining pure steps around the directory.

Each method reads the request (parse, check), calls one use case (one
transaction) and renders the result. Errors of any step become RFC 7644 §3.12
Error responses in ``handle``, the one place that catches.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from typing import Any

import orjson

from scimhub.directory.actors import Actor
from scimhub.directory.groups import Groups, GroupSnapshot, GroupView
from scimhub.directory.users import Users
from scimhub.domain.groups import Member
from scimhub.domain.text import check_no_nul
from scimhub.domain.versions import Versions, etag
from scimhub.errors import (
    InvalidCount,
    InvalidFilter,
    InvalidSyntax,
    InvalidValue,
    NotFound,
    ScimhubError,
    UnsupportedMediaType,
)
from scimhub.query.pages import Query
from scimhub.scim import discovery
from scimhub.scim.bounds import check_resource_values
from scimhub.scim.bulk import read_bulk_request
from scimhub.scim.bulk_run import BulkRunner
from scimhub.scim.conditions import none_match, write_versions
from scimhub.scim.cursors import Cursors, Position, query_scope
from scimhub.scim.endpoints import Endpoint, GroupEndpoint, UserEndpoint
from scimhub.scim.errors import error_response
from scimhub.scim.listing import list_response
from scimhub.scim.messages import LazyArray, ScimRequest, ScimResponse
from scimhub.scim.paging import cursor_list_response, seek_query
from scimhub.scim.patch import read_patch
from scimhub.scim.projection import Projection
from scimhub.scim.resources import member_list
from scimhub.scim.routing import Operation, Target, match
from scimhub.scim.search import SearchParams, build_query, read_query_params, read_search_body
from scimhub.scim.values import read_resource
from scimhub.settings import Settings

_JSON_TYPES = frozenset({"application/scim+json", "application/json"})

MEMBERS_PER_CHUNK = 1_000
"""Members read per thread hop when a group's GET streams them; a group with no more than
this many is answered whole (ADR 0019)."""


def read_json(request: ScimRequest) -> Any:
    """Return the request body parsed as JSON.

    A body with no Content-Type is read as JSON; any other media type than
    ``application/scim+json`` or ``application/json`` is refused (RFC 7644 §3.1).

    :raises UnsupportedMediaType: When the Content-Type is not JSON.
    :raises InvalidSyntax: When the body is empty or not well-formed JSON.
    """
    content_type = request.header("content-type")
    if content_type is not None:
        # The media types before the first parameter (whose quoted value may hold a comma): one per
        # line of a Content-Type sent more than once, joined by ", " (RFC 9110 §5.3).
        types = {line.strip().lower() for line in content_type.split(";")[0].split(",")}
        others = types - _JSON_TYPES - {""}
        if others:
            raise UnsupportedMediaType(
                f"send the body as application/scim+json, not {', '.join(sorted(others))}"
            )
    if not request.body.strip():
        raise InvalidSyntax("the request body is empty; a JSON object is expected")
    try:
        return orjson.loads(request.body)
    except orjson.JSONDecodeError as error:
        raise InvalidSyntax(f"the request body is not valid JSON: {error}") from None


class ScimHandler:
    """Serve SCIM requests against the directory."""

    def __init__(
        self,
        users: Users,
        groups: Groups,
        settings: Settings,
        *,
        members_per_chunk: int = MEMBERS_PER_CHUNK,
        cursors: Cursors | None = None,
    ) -> None:
        """Serve with ``cursors`` signing the paging cursors; without, a key of this process alone."""
        if members_per_chunk < 1:
            raise ValueError(f"members_per_chunk must be at least 1, not {members_per_chunk}")
        self._members_per_chunk = members_per_chunk
        self._cursors = cursors or Cursors(secrets.token_bytes(32), settings.cursor_timeout_seconds)
        self.cursors = self._cursors
        """The paging cursors' signer; the console's lists page by the same keys (ADR 0044)."""
        self._bulk = BulkRunner(self.handle, settings.bulk_timeout_seconds)
        self._endpoints: dict[str, Endpoint] = {
            "Users": UserEndpoint(users, settings.max_body_bytes),
            "Groups": GroupEndpoint(groups, settings.max_body_bytes),
        }
        self._settings = settings
        self._operations: dict[Operation, Callable[[Target, ScimRequest], ScimResponse]] = {
            Operation.SERVICE_PROVIDER_CONFIG: self._service_provider_config,
            Operation.LIST_SCHEMAS: self._list_schemas,
            Operation.GET_SCHEMA: self._get_schema,
            Operation.LIST_RESOURCE_TYPES: self._list_resource_types,
            Operation.GET_RESOURCE_TYPE: self._get_resource_type,
            Operation.SEARCH: self._search,
            Operation.SEARCH_ALL: self._search_all,
            Operation.CREATE: self._create,
            Operation.GET: self._get,
            Operation.REPLACE: self._replace,
            Operation.PATCH: self._patch,
            Operation.DELETE: self._delete,
            Operation.GET_ME: self._on_me(self._get),
            Operation.REPLACE_ME: self._on_me(self._replace),
            Operation.PATCH_ME: self._on_me(self._patch),
            Operation.DELETE_ME: self._on_me(self._delete),
            Operation.BULK: self._run_bulk,
        }

    def handle(self, request: ScimRequest) -> ScimResponse:
        """Answer one request, refusing it without the privilege its route names; never raises."""
        try:
            _check_request_text(request)
            target = match(request.method, request.path)
            if target.privilege is not None:
                _actor(request).require(target.privilege, "SCIM provisioning")
            return self._operations[target.operation](target, request)
        except Exception as error:  # noqa: BLE001 - error_response decides what leaks
            return error_response(error)

    # Discovery (RFC 7644 §4)

    def _config(self, request: ScimRequest) -> discovery.DiscoveryConfig:
        settings = self._settings
        return discovery.DiscoveryConfig(
            request.base_url,
            max_results=settings.max_page_size,
            default_page_size=settings.default_page_size,
            bulk_max_operations=settings.bulk_max_operations,
            bulk_max_payload_bytes=settings.bulk_max_payload_bytes,
            cursor_timeout_seconds=self._cursors.timeout_seconds,
        )

    def _service_provider_config(self, _: Target, request: ScimRequest) -> ScimResponse:
        return ScimResponse(200, discovery.service_provider_config(self._config(request)))

    def _list_schemas(self, _: Target, request: ScimRequest) -> ScimResponse:
        return ScimResponse(200, discovery.list_schemas(self._config(request)))

    def _get_schema(self, target: Target, request: ScimRequest) -> ScimResponse:
        schema = discovery.find_schema(target.id or "")
        location = self._config(request).location("Schemas", schema.id)
        return ScimResponse(200, discovery.schema_representation(schema, location))

    def _list_resource_types(self, _: Target, request: ScimRequest) -> ScimResponse:
        return ScimResponse(200, discovery.list_resource_types(self._config(request)))

    def _get_resource_type(self, target: Target, request: ScimRequest) -> ScimResponse:
        resource_type = discovery.find_resource_type(target.id or "")
        location = self._config(request).location("ResourceTypes", resource_type.name)
        return ScimResponse(200, discovery.resource_type_representation(resource_type, location))

    # Resources (RFC 7644 §3)

    def _endpoint(self, target: Target) -> Endpoint:
        return self._endpoints[target.resources or ""]

    def _projection(self, endpoint: Endpoint, request: ScimRequest) -> Projection:
        return Projection.read(
            endpoint.resource_type, request.param("attributes"), request.param("excludedAttributes")
        )

    def _resource_response(
        self, status: int, endpoint: Endpoint, view: Any, request: ScimRequest, projection: Projection
    ) -> ScimResponse:
        resource = endpoint.represent(view, request.base_url)
        headers = {"ETag": etag(endpoint.version(view))}
        if status == 201:
            headers["Location"] = resource["meta"]["location"]
        return ScimResponse(status, projection.apply(resource), headers)

    def _get(self, target: Target, request: ScimRequest) -> ScimResponse:
        endpoint = self._endpoint(target)
        projection = self._projection(endpoint, request)
        if isinstance(endpoint, GroupEndpoint) and projection.wants("members"):
            return self._get_group(endpoint, target.id or "", request, projection)
        view = endpoint.get(target.id or "", projection.wants(endpoint.extra))
        version = endpoint.version(view)
        if none_match(request.header("if-none-match"), version):
            return ScimResponse(304, None, {"ETag": etag(version)})
        return self._resource_response(200, endpoint, view, request, projection)

    def _get_group(
        self, endpoint: GroupEndpoint, id: str, request: ScimRequest, projection: Projection
    ) -> ScimResponse:
        """Answer GET of a group with its members, streaming them when they fill more than a chunk (ADR 0019).

        The group, its ETag and every member come from one read transaction. A group
        whose members fit in one chunk is answered whole, after the transaction ended;
        a larger one leaves it open in the body's ``LazyArray``, which the web layer
        reads a chunk at a time and closes. A 304 reads no member at all.
        """
        size = self._members_per_chunk
        with ExitStack() as owned:
            snapshot = owned.enter_context(endpoint.open(id))
            group = snapshot.group
            if none_match(request.header("if-none-match"), group.version):
                return ScimResponse(304, None, {"ETag": etag(group.version)})
            first = snapshot.next_members(size + 1)
            if len(first) > size:
                resource = endpoint.represent(GroupView(group, []), request.base_url)
                chunks = _member_chunks(first, snapshot, size, projection, request.base_url)
                response = _streamed_group(resource, projection, chunks, snapshot.close)
                owned.pop_all()  # the snapshot is the response's now: the web layer closes it
                return response
        return self._resource_response(200, endpoint, GroupView(group, first), request, projection)

    def _on_me(
        self, operation: Callable[[Target, ScimRequest], ScimResponse]
    ) -> Callable[[Target, ScimRequest], ScimResponse]:
        """Return ``operation`` run on ``/Users/{id}`` of the authenticated user: ``/Me`` (RFC 7644 §3.11).

        The RFC lets a server process the alias directly; ``meta.location`` stays the
        user's permanent ``/Users/{id}`` location, as §3.11 requires. The route has
        already checked the privilege (ADR 0039).
        """

        def on_me(target: Target, request: ScimRequest) -> ScimResponse:
            actor = _actor(request)
            try:
                return operation(Target(target.operation, "Users", actor.user_id), request)
            except NotFound:
                raise NotFound(
                    f"/Me is the token's user {actor.urn}, and no SCIM User has its id"
                    f" {actor.user_id!r} (deleted since the token was checked); use /Users/{{id}}"
                ) from None

        return on_me

    def _create(self, target: Target, request: ScimRequest) -> ScimResponse:
        endpoint = self._endpoint(target)
        projection = self._projection(endpoint, request)
        body = read_json(request)
        check_resource_values(body)
        resource = read_resource(endpoint.resource_type, body)
        view = endpoint.create(_actor(request), resource)
        return self._resource_response(201, endpoint, view, request, projection)

    def _replace(self, target: Target, request: ScimRequest) -> ScimResponse:
        endpoint = self._endpoint(target)
        projection = self._projection(endpoint, request)
        body = read_json(request)
        check_resource_values(body)
        resource = read_resource(endpoint.resource_type, body)
        versions = _write_versions(request)
        view = endpoint.replace(
            _actor(request), target.id or "", resource, versions, projection.wants(endpoint.extra)
        )
        return self._resource_response(200, endpoint, view, request, projection)

    def _patch(self, target: Target, request: ScimRequest) -> ScimResponse:
        """Apply a PATCH; answer 200 with the resource, except for groups.

        RFC 7644 §3.5.2 allows 204. Groups answer 204 unless ``attributes`` is sent,
        because their full representation holds every member, which Entra never
        reads (it asks for 204) and which would cost a large group a full read.
        """
        endpoint = self._endpoint(target)
        projection = self._projection(endpoint, request)
        operations = read_patch(
            endpoint.resource_type, read_json(request), max_operations=self._settings.max_patch_operations
        )
        versions = _write_versions(request)
        terse = endpoint.extra == "members" and request.param("attributes") is None
        extra = not terse and projection.wants(endpoint.extra)
        view = endpoint.patch(_actor(request), target.id or "", operations, versions, extra)
        if terse:
            return ScimResponse(204, None, {"ETag": etag(endpoint.version(view))})
        return self._resource_response(200, endpoint, view, request, projection)

    def _delete(self, target: Target, request: ScimRequest) -> ScimResponse:
        endpoint = self._endpoint(target)
        endpoint.delete(_actor(request), target.id or "", _write_versions(request))
        return ScimResponse(204)

    def _run_bulk(self, _: Target, request: ScimRequest) -> ScimResponse:
        """Run a bulk request (RFC 7644 §3.7): each operation as its single request (ADR 0034)."""
        limit = self._settings.bulk_max_operations
        if limit == 0:
            raise NotFound(
                "/Bulk is turned off here (SCIMHUB_BULK_MAX_OPERATIONS=0; see /ServiceProviderConfig)"
            )
        return ScimResponse(200, self._bulk.run(request, read_bulk_request(read_json(request), limit)))

    # Queries (RFC 7644 §3.4.2, §3.4.3)

    def _search_params(self, request: ScimRequest) -> SearchParams:
        if request.method == "POST":
            return read_search_body(read_json(request))
        return read_query_params(request)

    def _query(self, endpoint: Endpoint, params: SearchParams) -> Query:
        settings = self._settings
        return build_query(endpoint.resource_type, params, settings.default_page_size, settings.max_page_size)

    def _search(self, target: Target, request: ScimRequest) -> ScimResponse:
        endpoint = self._endpoint(target)
        params = self._search_params(request)
        projection = Projection.read(endpoint.resource_type, params.attributes, params.excluded_attributes)
        query, scope, position = self._query(endpoint, params), "", None
        if params.cursor is not None:  # RFC 9865: a keyset page at the cursor's position (ADR 0035)
            if query.limit < 1:
                raise InvalidCount(
                    f"count must be between 1 and {self._settings.max_page_size} (maxPageSize)"
                )
            scope = query_scope(endpoint.resource_type.name, params.filter, params.sort_by, params.descending)
            position = self._cursors.read(scope, params.cursor) if params.cursor else Position(None)
            query = seek_query(query, position)
        page = endpoint.search(query, projection.wants(endpoint.extra))
        resources = [projection.apply(endpoint.represent(v, request.base_url)) for v in page.items]
        if position is None:
            return ScimResponse(200, list_response(resources, page.total, params.start_index))
        issue = partial(self._cursors.issue, scope)
        return ScimResponse(200, cursor_list_response(resources, page, position, issue))

    def _search_all(self, _: Target, request: ScimRequest) -> ScimResponse:
        """Search Users, then Groups, as one list (RFC 7644 §3.4.3 at the root).

        A filter may name attributes only one resource type has; the other type then
        contributes nothing. Results are ordered by type first, then by ``sortBy``.
        """
        params = self._search_params(request)
        if params.cursor is not None:
            raise InvalidValue("cursor paging is per resource type: search /Users or /Groups with a cursor")
        queries: list[tuple[Endpoint, Query, Projection]] = []
        failures: list[ScimhubError] = []
        for endpoint in self._endpoints.values():
            try:
                query = self._query(endpoint, params)
                rt = endpoint.resource_type
                queries.append(
                    (endpoint, query, Projection.read(rt, params.attributes, params.excluded_attributes))
                )
            except InvalidFilter as error:
                failures.append(error)
        if not queries:
            raise failures[0]
        resources: list[dict[str, Any]] = []
        total, skip = 0, queries[0][1].offset
        room = queries[0][1].limit
        for endpoint, query, projection in queries:
            count = endpoint.search(Query(query.filter, limit=0), False).total
            total += count
            if room > 0 and skip < count:
                page = endpoint.search(
                    Query(query.filter, query.sort_by, query.descending, skip, room),
                    projection.wants(endpoint.extra),
                )
                resources += [projection.apply(endpoint.represent(v, request.base_url)) for v in page.items]
                room -= len(page.items)
            skip = max(skip - count, 0)
        return ScimResponse(200, list_response(resources, total, params.start_index))


def _actor(request: ScimRequest) -> Actor:
    if request.actor is None:  # the web layer authenticates every SCIM request first
        raise RuntimeError("a SCIM write reached the handler without an authenticated actor")
    return request.actor


def _write_versions(request: ScimRequest) -> Versions | None:
    return write_versions(request.header("if-match"), request.header("if-none-match"))


def _member_chunks(
    first: list[Member], snapshot: GroupSnapshot, size: int, projection: Projection, base_url: str
) -> Iterator[list[dict[str, Any]]]:
    """Yield a group's members as projected values: ``first``, then chunks of ``size`` read from ``snapshot``.

    Each chunk is projected as the whole list would be (``Projection.apply`` on the
    ``members`` attribute alone), so the chunks join into the array a GET read whole
    would send; a chunk whose every value is dropped is empty.
    """
    members = first
    while members:
        yield projection.apply({"members": member_list(members, base_url)}).get("members", [])
        members = snapshot.next_members(size)


def _streamed_group(
    resource: dict[str, Any], projection: Projection, chunks: Iterator[list[Any]], close: Callable[[], None]
) -> ScimResponse:
    """Return the response whose ``members`` are ``chunks``, read while it is sent; ``resource`` has none yet.

    The body is ``resource`` projected, with the ``LazyArray`` where ``members``
    stands in the full representation (between the doc and ``meta``), so the
    document sent is the one a GET read whole would send, byte for byte.
    """
    projected = projection.apply(resource)
    # Projection keeps an empty ``members`` only when it keeps members whole: so does the array.
    members = LazyArray(chunks, close, keep_empty="members" in projected)
    body = {
        key: members if key == "members" else projected[key]
        for key in resource
        if key in projected or key == "members"
    }
    return ScimResponse(200, body, {"ETag": resource["meta"]["version"]})


def _check_request_text(request: ScimRequest) -> None:
    """Refuse a NUL in the path (the ids in it) or in a query parameter before anything reads them (ADR 0021).

    :raises InvalidFilter: For a NUL in ``filter``.
    :raises InvalidValue: For a NUL anywhere else.
    """
    check_no_nul(request.path, "the request path")
    for name, value in request.query.items():
        check_no_nul(name, "a query parameter name")
        error = InvalidFilter if name.lower() == "filter" else InvalidValue
        check_no_nul(value, f"query parameter {name}", error)
