"""Who is making a change, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass, field

from scimhub.domain.roles import Privilege
from scimhub.errors import Forbidden


@dataclass(frozen=True)
class Actor:
    """The authenticated caller of a use case."""

    user_id: str
    urn: str
    """``urn:li:corpuser:…``; recorded as the actor of every event the call appends."""
    token_id: str | None = None
    privileges: frozenset[Privilege] = field(default_factory=frozenset)
    """The platform privileges of the user's effective roles, read when the token was checked."""

    def require(self, privilege: Privilege, action: str) -> None:
        """Refuse ``action`` unless the actor holds ``privilege``.

        :raises Forbidden: Naming the privilege that is missing.
        """
        if privilege not in self.privileges:
            raise Forbidden(f"{action} needs the {privilege.value} privilege, which {self.urn} does not have")


SYSTEM = Actor(user_id="", urn="urn:li:corpuser:__scimhub_system", privileges=frozenset(Privilege))
"""The operator at the command line, and the server's own set-up: trusted with everything,
because whoever runs the CLI already holds the database."""
