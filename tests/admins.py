"""The admin user and a bearer client acting as it, for tests that serve the app in-process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.testclient import TestClient

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserRef
from scimhub.web.app import create_app
from scimhub.wiring import Services


def admin_token(services: Services, name: str) -> str:
    """Make the admin user if need be; return a new token named ``name`` acting as it."""
    services.accounts.ensure_admin("an admin password for the tests")
    return services.tokens.issue(SYSTEM, UserRef.by_name("admin"), name)[0].token


@contextmanager
def admin_client(services: Services, name: str) -> Iterator[TestClient]:
    """Serve ``services``' app in-process; yield a client that sends an admin token (``admin_token``)."""
    headers = {"Authorization": f"Bearer {admin_token(services, name)}"}
    with TestClient(create_app(services), headers=headers) as client:
        yield client
