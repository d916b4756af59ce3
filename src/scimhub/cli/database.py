"""Which database a command uses, how it is named to the operator, and why it could not be opened.

Without ``--database-url`` or ``SCIMHUB_DATABASE_URL`` every command uses one
per-user file, ``$XDG_DATA_HOME/scimhub/scimhub.db`` (``~/.local/share/...``
when unset), whatever directory it runs from (ADR 0031): a relative default
made a second, empty database in each directory. Every command names the
database it used as its last line on stderr, password hidden (stdout stays
the token or the JSON a script reads); an error's one line names it too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from scimhub.errors import ServiceUnavailable

URL_VARIABLE = "SCIMHUB_DATABASE_URL"


class DatabaseUnusable(ValueError):
    """The database a command was given cannot be opened: the line names it and what to do.

    A configuration error of the command line, like a bad ``SCIMHUB_*`` value, so not a member of
    ``scimhub.errors``' tree, which is what the HTTP adapters answer with a status.
    """


def default_url(environ: Mapping[str, str]) -> str:
    """Return the per-user SQLite URL, creating its directory (XDG Base Directory: ``XDG_DATA_HOME``)."""
    base = environ.get("XDG_DATA_HOME", "")
    root = (
        Path(base) if os.path.isabs(base) else Path.home() / ".local" / "share"
    )  # the spec ignores relative
    directory = root / "scimhub"
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'scimhub.db'}"


def chosen_url(database_url: str | None, environ: Mapping[str, str]) -> str | None:
    """Return the URL given on the command line or in the environment; else the per-user default."""
    if database_url or environ.get(URL_VARIABLE):
        return database_url
    return default_url(environ)


def shown(url: str) -> str:
    """Return ``url`` for people: password hidden, a relative SQLite path made absolute."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(not a database URL)"
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=str(Path(parsed.database).absolute()))
    return parsed.render_as_string(hide_password=True)


_in_use: dict[str, str | bool] = {}
"""The database this command opened (``url``), and whether it was named (``announced``): errors name it."""


def using(url: str | None) -> None:
    """Record the database this command opened (None: none yet)."""
    _in_use.clear()
    if url:
        _in_use.update(url=url, announced=False)


def announce() -> None:
    """Name the database the command used on stderr, once (stdout is for the token or the JSON)."""
    if _in_use and not _in_use["announced"]:
        typer.echo(f"database: {shown(str(_in_use['url']))}", err=True)
        _in_use["announced"] = True


def naming(detail: str) -> str:
    """Return an error's line with the database the command used, when it opened one."""
    return f"{detail} (database: {shown(str(_in_use['url']))})" if _in_use else detail


@contextmanager
def opening(url: str) -> Iterator[None]:
    """Turn a failure to open ``url`` into one ``DatabaseUnusable`` line that names it and what to do."""
    name = shown(url)
    try:
        yield
    except (ImportError, NoSuchModuleError) as error:
        raise DatabaseUnusable(
            f"database {name}: its driver is not installed ({error}); run pip install 'scimhub[postgres]'"
        ) from None
    except ArgumentError:
        raise DatabaseUnusable(
            f"{URL_VARIABLE} or --database-url is not a database URL; use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB"
        ) from None
    except ServiceUnavailable as error:
        raise DatabaseUnusable(
            f"database {name} is unreachable: {_driver_words(error)}; {_fix(url)}"
        ) from None
    except DBAPIError as error:
        raise DatabaseUnusable(
            f"database {name} cannot be opened: {_driver_words(error)}; {_fix(url)}"
        ) from None


def _driver_words(error: BaseException) -> str:
    """Return the first line of what the database driver said, without SQLAlchemy's decorations."""
    cause = getattr(error, "orig", None) or error.__cause__ or error
    cause = getattr(cause, "orig", None) or cause
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def _fix(url: str) -> str:
    """Return what to do about a database that cannot be opened."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return "check that its directory exists and this user may write there, or pass --database-url"
    return f"check that the server runs and the URL's user, password and database, or set {URL_VARIABLE}"
