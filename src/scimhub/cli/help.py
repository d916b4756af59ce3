"""How ``--help`` reads: plain text, each value named, defaults and environment variables shown.

Typer's Rich help parses help strings as markup, so a literal ``[default: …]``
or ``[env: …]`` vanished, and it labels every parameter with its Python type
(``<str>``, ``<bool>``, ``{user_name}``). Every ``scimhub`` group is a ``Group``:
help is rendered as plain text (``rich_markup_mode=None``), and each parameter
gets a metavar that says what to type (``TEXT``, ``INTEGER``, a choice list,
``USER_NAME``), and none for flags.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption


class PlainArgument(TyperArgument):
    """A positional argument shown as click shows one: ``NAME`` (``[NAME]`` when optional), no type."""

    def display_type_rich(self, ctx: Any) -> str | None:
        """Return no type label: the metavar says what to type."""
        return None

    def _usage_display_name(self) -> str:
        """Return the argument's name for the usage line, bracketed when it may be left out."""
        return self.display_name_raw if self.required else f"[{self.display_name_raw}]"


def tidy(param: Any) -> None:
    """Give ``param`` the metavar help shows: none for a flag, what to type for the rest."""
    if isinstance(param, TyperArgument):
        param.__class__ = PlainArgument
        param.metavar = param.metavar or param.name.upper()
        return
    if param.metavar is not None:
        return
    if isinstance(param, TyperOption):
        if param.is_flag:
            param.metavar = ""
            return
        choices = param.type_descriptor.choices if param.type_descriptor.is_choice else None
        if choices:
            param.metavar = "|".join(str(getattr(choice, "value", choice)) for choice in choices)
        elif param.type_descriptor.annotation is int:
            param.metavar = "INTEGER"
        else:
            param.metavar = "TEXT"


class Group(TyperGroup):
    """A command group whose own and whose commands' parameters read as ``tidy`` makes them."""

    def get_params(self, ctx: Any) -> list[Any]:
        """Return this group's parameters, tidied (``--help`` included)."""
        params = super().get_params(ctx)
        for param in params:
            tidy(param)
        return params

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """Return the command ``cmd_name`` with its parameters tidied."""
        command = super().get_command(ctx, cmd_name)
        if command is not None and not isinstance(command, TyperGroup):
            for param in command.get_params(ctx):
                tidy(param)
        return command


def command_group(help: str, **options: Any) -> typer.Typer:
    """Return a Typer app for a ``scimhub`` command group, with plain help and tidy parameters."""
    return typer.Typer(
        help=help,
        cls=Group,
        rich_markup_mode=None,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        **options,
    )
