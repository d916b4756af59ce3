"""``EmitterSink``: changes into DataHub GMS through the official SDK's ``DatahubRestEmitter``.

The SDK (``acryl-datahub``, the ``datahub`` extra) is imported here, when a sink
is made, and nowhere else: the core never loads its ~600 modules. The emitter
is built with no retries of its own (``retry_max_times=0``, no retried status
codes) so that every failure reaches the pusher, which retries with backoff
and reports; and with Rest.li ingestion (``ingestProposalBatch``,
``entities?action=delete``), which every GMS version serves.

Before the first push, and again after any failure, ``check`` asks GMS who it
is: ``GET /config`` must answer GMS's shape (``noCode: "true"``), which tells a
frontend URL from a GMS one (docs/datahub.md §7.2), and a GraphQL
``me`` tells whether GMS takes the token.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import Any

from scimhub.datahub.mapping import KEY_ASPECTS, Change, Proposal, Removal
from scimhub.datahub.sink import GmsUnavailable, PushFailed, PushRefused
from scimhub.settings import Secret

MISSING_SDK = (
    "SCIMHUB_DATAHUB_GMS_URL is set but the DataHub SDK is not installed: pip install 'scimhub[datahub]'"
)
_ME = "{ me { corpUser { urn } } }"


def _frontend(url: str) -> PushRefused:
    return PushRefused(
        f'SCIMHUB_DATAHUB_GMS_URL={url} does not answer as DataHub GMS (GET /config lacks noCode: "true"),'
        " it looks like the DataHub frontend: use GMS's URL (e.g. http://datahub-gms:8080)"
        " or the frontend's GMS proxy (https://<frontend>/api/gms)"
    )


def failure_of(error: BaseException, url: str) -> PushFailed:
    """Return the push failure an SDK or HTTP error stands for, with what to fix."""
    import requests

    cause = error.__cause__ if error.__cause__ is not None else error
    if isinstance(cause, requests.HTTPError) and cause.response is not None:
        return _status_failure(cause.response.status_code, str(error), url)
    if isinstance(cause, requests.Timeout):
        return GmsUnavailable(
            f"DataHub GMS at {url} did not answer in time (SCIMHUB_DATAHUB_TIMEOUT_SECONDS)"
        )
    if isinstance(cause, requests.ConnectionError):
        return GmsUnavailable(
            f"DataHub GMS at {url} is unreachable: check SCIMHUB_DATAHUB_GMS_URL and that GMS is running"
        )
    if isinstance(cause, requests.RequestException):
        return GmsUnavailable(f"DataHub GMS at {url} failed: {cause}")
    if type(error).__name__ == "ConfigurationError":
        return _frontend(url)
    return PushRefused(f"pushing to DataHub GMS at {url} failed: {type(error).__name__}: {error}")


def _status_failure(status: int, message: str, url: str) -> PushFailed:
    if status == 401:
        return PushRefused(
            f"DataHub GMS at {url} refused the token (401): set SCIMHUB_DATAHUB_TOKEN to a valid"
            " personal access token (DataHub: Settings > Access Tokens)"
        )
    if status == 403:
        return PushRefused(
            f"DataHub GMS at {url} refused the change (403): the token's user may not change users and"
            " groups; give it the Admin role (Manage Users & Groups)"
        )
    if status == 429 or status >= 500:
        return GmsUnavailable(f"DataHub GMS at {url} answered {status}; retrying")
    return PushRefused(f"DataHub GMS at {url} refused the push ({status}): {message[:300]}")


def _runs(changes: Sequence[Change]) -> Iterator[tuple[bool, list[Change]]]:
    """Yield the changes in runs of upserts and of deletes, in order."""
    for upserts, run in groupby(changes, key=lambda change: isinstance(change, Proposal)):
        yield upserts, list(run)


class EmitterSink:
    """Write changes into DataHub GMS with ``DatahubRestEmitter``, token-authenticated."""

    def __init__(self, gms_url: str, token: Secret | None, timeout_seconds: float) -> None:
        """Make the emitter. :raises PushRefused: When the SDK is not installed, saying what to install."""
        try:
            from datahub.emitter.rest_emitter import DatahubRestEmitter
        except ImportError:
            raise PushRefused(MISSING_SDK) from None
        self._url = gms_url.rstrip("/")
        self._timeout = timeout_seconds
        self._emitter = DatahubRestEmitter(
            self._url,
            token=token.reveal() if token is not None else None,
            timeout_sec=timeout_seconds,
            retry_max_times=0,
            retry_status_codes=[],
            openapi_ingestion=False,
        )
        self._checked = False

    def check(self) -> str:
        """Verify the URL is GMS and GMS takes the token; return what answered.

        :raises PushFailed: When GMS is unreachable, is the frontend, or refuses the token.
        """
        try:
            config = self._config()
            self._emitter.test_connection()  # the SDK's own check of the same reply
            actor = self._actor()
        except PushFailed:
            raise
        except Exception as error:  # noqa: BLE001 - every other error is the SDK's or the network's
            raise failure_of(error, self._url) from error
        self._checked = True
        version = config.get("versions", {}).get("acryldata/datahub", {}).get("version", "of unknown version")
        return f"DataHub GMS {version} at {self._url}, writing as {actor}"

    def _config(self) -> dict[str, Any]:
        response = self._emitter.session.get(f"{self._url}/config", timeout=self._timeout)
        if response.status_code != 200:
            raise _status_failure(response.status_code, response.text, self._url)
        try:
            config = response.json()
        except ValueError:
            raise _frontend(self._url) from None
        if not isinstance(config, dict) or config.get("noCode") != "true":
            raise _frontend(self._url)
        return config

    def _actor(self) -> str:
        """Return whom GMS takes the token for (GraphQL ``me``); an old GMS without it is not asked."""
        response = self._emitter.session.post(
            f"{self._url}/api/graphql", json={"query": _ME}, timeout=self._timeout
        )
        if response.status_code in (404, 405):
            return "a token GMS did not say it accepts"
        if response.status_code != 200:
            raise _status_failure(response.status_code, response.text, self._url)
        me = ((response.json().get("data") or {}).get("me") or {}).get("corpUser") or {}
        return str(me.get("urn", "an unnamed user"))

    def push(self, changes: Sequence[Change]) -> None:
        """Upsert each run of proposals in batches (``emit_mcps``) and hard-delete each removal, in order.

        :raises PushFailed: When GMS did not take them all; the caller pushes them again.
        """
        from datahub.emitter.mcp import MetadataChangeProposalWrapper
        from datahub.metadata.schema_classes import ASPECT_NAME_MAP, ChangeTypeClass

        if not self._checked:
            self.check()
        try:
            for upserts, run in _runs(changes):
                if upserts:
                    self._emitter.emit_mcps(
                        [
                            MetadataChangeProposalWrapper(
                                entityUrn=p.urn, aspect=ASPECT_NAME_MAP[p.aspect].from_obj(p.value)
                            )
                            for p in run
                            if isinstance(p, Proposal)
                        ]
                    )
                    continue
                for removal in run:
                    assert isinstance(removal, Removal)
                    self._emitter.emit_mcp(
                        MetadataChangeProposalWrapper(
                            entityUrn=removal.urn,
                            aspectName=KEY_ASPECTS[removal.entity_type],
                            changeType=ChangeTypeClass.DELETE,
                        )
                    )
        except Exception as error:  # noqa: BLE001 - classified below; the batch is pushed again
            self._checked = False
            raise failure_of(error, self._url) from error

    def close(self) -> None:
        """Close the emitter's connections."""
        self._emitter.close()
