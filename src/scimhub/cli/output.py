"""How commands print: Rich tables for people, JSON for scripts, times in ISO 8601 UTC."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from scimhub.query.pages import Page

T = TypeVar("T")
PAGE_SIZE = 500
"""Rows read per query when a command lists everything: memory stays flat on big directories."""


def print_json(value: object) -> None:
    """Print ``value`` as indented JSON on stdout."""
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def print_items(
    items: list[dict[str, Any]], as_json: bool, table: Table, row: Callable[[dict[str, Any]], Sequence[str]]
) -> None:
    """Print ``items`` as a JSON array for scripts, or as the rows ``row`` makes of them in ``table``."""
    if as_json:
        print_json(items)
        return
    for item in items:
        table.add_row(*row(item))
    print_tables(table)


ID_WIDTH = 36
"""Characters in an id (a UUID): no column that may hold one is narrower, so none is ever cut."""


def whole_ids(table: Table) -> Table:
    """Keep ids whole in ``table`` at any terminal width.

    A column headed ``id`` never wraps or shrinks below an id; every other column
    folds a value too long for it onto more lines, never cutting it with an
    ellipsis (Rich's default), so what is shown is what a command takes.
    """
    for column in table.columns:
        if column.header == "id":
            column.no_wrap, column.min_width, column.overflow = True, ID_WIDTH, "ignore"
        else:
            column.overflow = "fold"
    return table


def print_tables(*tables: Table) -> None:
    """Print Rich tables on stdout, every id whole (``token revoke`` takes what ``token list`` shows)."""
    console = Console()
    for table in tables:
        console.print(whole_ids(table), crop=False)


def role_names(refs: Iterable[dict[str, str]]) -> str:
    """Return the role names of ``{role, urn}`` references, comma-separated."""
    return ", ".join(ref["role"] for ref in refs)


def yes_no(value: bool) -> str:
    """Return ``yes`` or ``no``."""
    return "yes" if value else "no"


def every_page(read: Callable[[int, int], Page[T]]) -> Iterator[Page[T]]:
    """Yield every page ``read(offset, limit)`` gives, ``PAGE_SIZE`` at a time."""
    offset = 0
    while True:
        page = read(offset, PAGE_SIZE)
        yield page
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return


def properties(title: str, rows: Iterable[tuple[str, str]]) -> Table:
    """Return a two-column table of labels and values, headed by ``title``."""
    table = Table("", title, box=None)
    table.columns[1].min_width, table.columns[1].overflow = ID_WIDTH, "fold"
    for label, value in rows:
        table.add_row(label, value)
    return table
