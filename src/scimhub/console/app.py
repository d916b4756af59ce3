"""The console's routes, which ``web/app.py`` mounts at ``/``: ``/`` and everything under ``/console``."""

from __future__ import annotations

from importlib.resources import files

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from scimhub.console.auth import auth_routes
from scimhub.console.groups import groups_routes
from scimhub.console.http import PREFIX, Console
from scimhub.console.overview import overview_routes
from scimhub.console.roles import roles_routes
from scimhub.console.tokens import tokens_routes
from scimhub.console.traffic import ScimTraffic
from scimhub.console.users import users_routes
from scimhub.services import Services


def make_console(services: Services, traffic: ScimTraffic, scim_prefix: str) -> Console:
    """Return the console's state of this process: services, templates, throttles, cached counts."""
    return Console(services, traffic, scim_prefix)


def console_routes(console: Console) -> list[BaseRoute]:
    """Return every route of the console: its pages, its forms and its static files."""
    static = StaticFiles(directory=str(files("scimhub.console") / "static"))
    return [
        *auth_routes(console),
        *overview_routes(console),
        *users_routes(console),
        *groups_routes(console),
        *roles_routes(console),
        *tokens_routes(console),
        Mount(f"{PREFIX}/static", static, name="static"),
    ]
