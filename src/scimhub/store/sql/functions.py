"""SQL functions the two engines spell differently, settled when a statement is compiled for one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BindParameter
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class json_elements(FunctionElement[Any]):
    """Expand a JSON array into rows of JSON values: ``json_each`` / ``jsonb_array_elements``."""

    inherit_cache = True
    name = "json_elements"


class json_text_elements(FunctionElement[Any]):
    """Expand a JSON array of scalars into rows of SQL values (``jsonb_array_elements_text``)."""

    inherit_cache = True
    name = "json_text_elements"


JSON_ARRAY = JSON().with_variant(JSONB(), "postgresql")
"""The type of a JSON array bound as one value, for ``json_text_elements`` to expand on either engine."""


class code_point_order(FunctionElement[Any]):
    """Order strings by code point: ``COLLATE "C"`` on PostgreSQL, SQLite's default BINARY."""

    inherit_cache = True
    name = "code_point_order"


@compiles(json_elements)
@compiles(json_text_elements)
def _compile_json_each(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy reads doc[path] on SQLite as JSON_QUOTE(JSON_EXTRACT(…)), which
    # turns a missing array into the JSON text 'null', and json_each('null') yields
    # one row. The array's text (NULL when missing: no rows) is read instead, with
    # the same bound path, so the cached statement stays keyed on it.
    (array,) = element.clauses.clauses
    if isinstance(array, BindParameter):  # an array bound as one value: its JSON text
        return f"json_each({compiler.process(array, **kw)})"
    return f"json_each({compiler.process(array.as_string(), **kw)})"


def _call(sql_function: str, element: Any, dialect: str | None = None) -> None:
    """Compile ``element`` (on ``dialect``, else on any) as a call of ``sql_function`` with its arguments."""

    def compile_call(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
        return f"{sql_function}({compiler.process(element.clauses, **kw)})"

    compiles(element, *([dialect] if dialect else []))(compile_call)


_call("jsonb_array_elements", json_elements, "postgresql")
_call("jsonb_array_elements_text", json_text_elements, "postgresql")


@compiles(code_point_order)
def _compile_binary_order(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)})"


@compiles(code_point_order, "postgresql")
def _compile_collate_c(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


class position_of(FunctionElement[Any]):
    """Where a string first holds another, counted from 1, else 0: ``instr`` / ``strpos``.

    PostgreSQL's ``strpos`` compares backwards from a skip table, a character at a time: fast for a
    short value, but at worst the product of both lengths (1 s for 4,000 characters over fifteen
    64 KB values). A longer value goes to ``position_of_bytes`` (ADR 0087).
    """

    inherit_cache = True
    name = "position_of"


class position_of_bytes(FunctionElement[Any]):
    """``position_of`` by ``memcmp`` at each byte: ``instr`` / ``position`` over ``bytea``.

    SQLite's ``instr`` compares so already. PostgreSQL's took 44 ms where ``strpos`` took 1 s, but
    costs two function calls more a row.
    """

    inherit_cache = True
    name = "position_of_bytes"


class ends_with(FunctionElement[Any]):
    """Whether a string ends with another, in time linear in the string.

    ``LIKE '%…'`` tries the pattern at each character, the product of both lengths (ADR 0087).
    """

    inherit_cache = True
    name = "ends_with"


_call("instr", position_of)
_call("instr", position_of_bytes)
_call("strpos", position_of, "postgresql")


@compiles(position_of_bytes, "postgresql")
def _compile_byte_position(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    # ``textsend`` gives a text's bytes as they are (the connection's encoding is the database's,
    # UTF-8); ``convert_to`` checks them again, 110 ns more a row. In UTF-8 a byte offset finds what
    # a character offset does: no character starts inside another.
    haystack, needle = element.clauses.clauses
    needle_sql = compiler.process(needle, **kw)  # first, as it comes first in the text
    haystack_sql = compiler.process(haystack, **kw)
    return f"position(textsend({needle_sql}) in textsend({haystack_sql}))"


@compiles(ends_with)
def _compile_negative_substr(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    text, suffix = (compiler.process(clause, **kw) for clause in element.clauses.clauses)
    return f"(substr({text}, -length({suffix})) = {suffix})"  # a negative start counts from the end


@compiles(ends_with, "postgresql")
def _compile_right(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    text, suffix = (compiler.process(clause, **kw) for clause in element.clauses.clauses)
    return f"(right({text}, length({suffix})) = {suffix})"


class row_key(FunctionElement[Any]):
    """What a deep page finds its rows by.

    The id on PostgreSQL; on SQLite the ``rowid``, which every SQLite index holds, so OFFSET
    skips entries without reading their rows.
    """

    inherit_cache = True
    name = "row_key"


@compiles(row_key)
def _compile_rowid(element: row_key, compiler: SQLCompiler, **kw: Any) -> str:
    (id_column,) = element.clauses.clauses
    return compiler.process(id_column, **kw).removesuffix(id_column.name) + "rowid"


@compiles(row_key, "postgresql")
def _compile_id(element: row_key, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


class json_rows(FunctionElement[Any]):
    """Aggregate rows into one JSON array of arrays, one per row, of the values given.

    ``json_group_array(json_array(…))`` on SQLite, ``json_agg(json_build_array(…))`` on
    PostgreSQL; of no rows, SQLite's is ``[]`` and PostgreSQL's NULL. In no stated order.
    """

    type = JSON()
    inherit_cache = True
    name = "json_rows"


@compiles(json_rows)
def _compile_json_group_array(element: json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


@compiles(json_rows, "postgresql")
def _compile_json_agg(element: json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"
