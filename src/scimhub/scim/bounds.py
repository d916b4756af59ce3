"""The bound on the values one request carries (ADR 0025).

Every value a request writes is read, checked and compared in Python, then stored as
rows: the count of values, not the bytes of the body, is what a request costs. The
bound holds for a PATCH's operations together, and for the multi-valued attributes of
a POST or PUT body; a Group's ``members`` in a POST or PUT are left to the body-size
limit, as a PUT carries the whole group.
"""

from __future__ import annotations

from scimhub.errors import InvalidValue

MAX_VALUES = 1_000
"""The most values one request carries: elements of arrays, and attributes of objects
(a path-less PATCH value). Entra adds group members many to one PATCH operation with no
documented maximum; batches of a few hundred are what the references report."""


def count_values(value: object) -> int:
    """Return how many values ``value`` carries: array elements, or the attributes of an object.

    An array inside an object counts its elements: ``{"emails": [a, b], "title": t}`` is 3.
    """
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        return sum(len(item) if isinstance(item, list) else 1 for item in value.values())
    return 1


def check_values(count: int, what: str, bound: int = MAX_VALUES) -> None:
    """Refuse a request that carries more than ``bound`` values.

    :raises InvalidValue: When ``count`` exceeds ``bound``; the detail names it.
    """
    if count > bound:
        raise InvalidValue(f"{what} carry {count} values; at most {bound} are accepted in one request")


def check_resource_values(body: object, what: str = "the multi-valued attributes of the resource") -> None:
    """Refuse a POST or PUT body whose multi-valued attributes (not members) hold over MAX_VALUES values.

    A PATCH's result is held to the same bound, ``what`` naming it.

    :raises InvalidValue: When they do.
    """
    if not isinstance(body, dict):
        return
    count = 0
    for key, value in body.items():
        if isinstance(value, list) and key.lower() != "members":
            count += len(value)
        elif isinstance(value, dict):  # an extension's object
            count += sum(len(item) for item in value.values() if isinstance(item, list))
    check_values(count, what)
