"""Dialects: the tolerance rules applied to a client's input, as data (ADR 0012).

A client's dialect is what it sends that the RFC does not say, or says otherwise:
Microsoft Entra's capitalised ``op``, ``"False"`` for false, dotted keys in a
path-less value, member removal by a value array (docs/entra-client.md
§4.3). Rather than special cases in the handlers, each tolerance is a named rule
(``scim/entra.py``) hooked into the engine at one of four points:

- **operation rules** rewrite one raw PATCH operation into zero or more raw
  operations, before it is read (``patch.read_patch``);
- **object rules** rewrite a resource-level object (a POST or PUT body, a
  path-less PATCH value) before its keys are read (``values.read_assignments``);
- **value rules** rewrite one value of an attribute before its type is checked
  (``values.read_value``), at every level: attribute, element, sub-attribute;
- the **unmatched rule** describes the element a PATCH filter that matches
  nothing asks for, so add and replace can create it (``edits``).

Every rule leaves input it does not recognise untouched, so ``STRICT`` (no rules)
and ``DEFAULT`` (the RFC read liberally, Entra's dialect included) agree on every
request the RFC defines; ``tests/scim/test_entra_properties.py`` checks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scimhub.query.schema import Attribute, ResourceType
from scimhub.scim import entra
from scimhub.scim.rules import ObjectRule, OperationRule, RawOperation, UnmatchedRule, ValueRule


@dataclass(frozen=True)
class Dialect:
    """The tolerance rules applied to one client's input."""

    name: str
    operation_rules: tuple[OperationRule, ...] = ()
    """Applied in order to each raw PATCH operation; each may split or drop it."""
    object_rules: tuple[ObjectRule, ...] = ()
    """Applied in order to each resource-level object before its keys are read."""
    value_rules: tuple[ValueRule, ...] = ()
    """Applied in order to each value (each element of a list too) before type checks."""
    unmatched: UnmatchedRule | None = None
    """Describe the element an unmatched PATCH filter asks for; None: such a filter is
    noTarget, as RFC 7644 §3.5.2.3 says."""

    def rewrite_operation(self, resource_type: ResourceType, operation: RawOperation) -> list[RawOperation]:
        """Return the raw operations ``operation`` stands for after every operation rule."""
        operations = [operation]
        for rule in self.operation_rules:
            operations = [out for item in operations for out in rule(resource_type, item)]
        return operations

    def rewrite(self, resource_type: ResourceType, obj: dict[str, object]) -> dict[str, object]:
        """Return ``obj`` after every object rule had its say."""
        for rule in self.object_rules:
            obj = rule(resource_type, obj)
        return obj

    def rules_for(self, attribute: Attribute) -> tuple[Callable[[Attribute, object], object], ...]:
        """Return the rewrites of the value rules that apply to ``attribute``, in their order.

        A value of ``attribute`` goes through each before its type is checked; a rule whose
        ``applies`` turns the attribute down would change none of its values, and is left out.
        """
        return tuple(rule.rewrite for rule in self.value_rules if rule.applies(attribute))


STRICT = Dialect("strict")
"""RFC 7643/7644 to the letter: no rewriting, no tolerance."""

DEFAULT = Dialect(
    "default",
    operation_rules=entra.OPERATION_RULES,
    object_rules=entra.OBJECT_RULES,
    value_rules=entra.VALUE_RULES,
    unmatched=entra.describe_unmatched_element,
)
"""What the server applies to every client: the RFC read liberally, with Entra's
dialect (both of its dialects, with and without ``aadOptscim062020``) included,
so an Entra tenant works without a switch and other clients see no difference."""
