"""The four kinds of dialect rules (``dialects.py``), apart so that the rules (``entra.py``) can make them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scimhub.query.filter.tree import Filter
from scimhub.query.schema import Attribute, ResourceType

RawOperation = dict[str, object]
"""One PATCH operation as sent, its member names lower-cased (``op``, ``path``, ``value``)."""

OperationRule = Callable[[ResourceType, RawOperation], list[RawOperation]]
"""Rewrite one raw PATCH operation into the operations it stands for; return
``[operation]`` unchanged when the rule does not apply."""

ObjectRule = Callable[[ResourceType, dict[str, object]], dict[str, object]]
"""Rewrite a resource-level object before its keys are read; return it unchanged
when the rule does not apply."""


@dataclass(frozen=True)
class ValueRule:
    """Rewrite one value of an attribute before its type is checked, or return it unchanged.

    ``applies`` names the attributes whose values the rule may rewrite: no other attribute's value
    meets it (``Dialect.rules_for``). A user's create carries a dozen values, a member two.
    """

    rewrite: Callable[[Attribute, object], object]
    applies: Callable[[Attribute], bool] = lambda _: True


UnmatchedRule = Callable[[Filter], dict[str, object] | None]
"""Return the sub-attribute values a value filter pins (the element it describes),
or None when it describes none."""
